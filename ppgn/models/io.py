"""Saving and loading networks as safetensors, with the config inside and a JSON card beside.

A file says how to rebuild itself: its metadata holds the model class and its config, so
``load_model(path)`` needs nothing else. Nothing is ever unpickled.

A weights file is untrusted input (a user's, a download, a half-copied one), so loading checks
before it allocates: the 8-byte header length and the JSON header are read first (a length
beyond the file, a dtype or shape that does not add up, data past the end: refused); the config
in the metadata is checked against its dataclass's field types (a string where an int belongs,
a zero or negative size, NaN, a size larger than the number of values the file stores); the
model is then built on the ``meta`` device (no memory) and every tensor's name and shape is
compared with the file's. Only then is it built for real and the tensors read. Every fault is
one ``WeightsError`` line that names the file and what is wrong.
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import typing
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..io import InputError, atomic_write, read_json_file, write_json
from .cinn import CINN, CINNConfig
from .classifier import Classifier, ClassifierConfig
from .dae import CodeDAE, CodeDAEConfig, ImageDAE, ImageDAEConfig
from .evaluator import Evaluator, EvaluatorConfig
from .flow_prior import CodeFlow, CodeFlowConfig
from .generator import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig

MODEL_CLASSES: dict[str, tuple[type[nn.Module], type]] = {
    "Classifier": (Classifier, ClassifierConfig),
    "Generator": (Generator, GeneratorConfig),
    "Discriminator": (Discriminator, DiscriminatorConfig),
    "Evaluator": (Evaluator, EvaluatorConfig),
    "CodeDAE": (CodeDAE, CodeDAEConfig),
    "ImageDAE": (ImageDAE, ImageDAEConfig),
    "CINN": (CINN, CINNConfig),
    "CodeFlow": (CodeFlow, CodeFlowConfig),
}
# Bytes per element of each safetensors dtype (sub-byte float formats are not used here).
DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}  # fmt: skip
MAX_HEADER = 100 * 2**20  # the safetensors format's own limit on the JSON header
MAX_COUNT = 1000  # blocks, levels, layers: a config asking for more is not a network anyone trained
ZERO_OK = ("seed",)  # int fields that are not sizes: 0 is valid


class WeightsError(ValueError):
    """Weights are missing, corrupt, or do not fit the model they claim to be."""


@dataclasses.dataclass(frozen=True)
class Header:
    """What a safetensors file says it holds, read without reading its tensors.

    Attributes:
        shapes: tensor name → shape.
        metadata: the ``__metadata__`` strings (model class, config, ...).
        values: the number of values stored, over all tensors (what bounds every size in the config).
    """

    shapes: dict[str, tuple[int, ...]]
    metadata: dict[str, str]
    values: int


def register_model(model_cls: type[nn.Module], config_cls: type) -> None:
    """Make ``load_model`` able to rebuild ``model_cls`` (used by modules outside this package too)."""
    MODEL_CLASSES[model_cls.__name__] = (model_cls, config_cls)


def config_from_dict(config_cls: type, values: dict[str, Any]):
    """Rebuild a frozen dataclass config; JSON lists become the tuples the dataclass declares."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in fields}
    return config_cls(**clean)


def save_model(
    model: nn.Module,
    path: str | Path,
    card: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
) -> None:
    """Save ``model`` (with ``model.config``) to ``path`` and, if given, a card to ``path`` with .json.

    Args:
        dtype: cast floating tensors (e.g. float16 to halve shipped size); None keeps them.
    """
    path = Path(path)
    config = dataclasses.asdict(model.config)
    state = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        if dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(dtype)
        state[name] = tensor
    metadata = {"class": type(model).__name__, "config": json.dumps(config)}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=metadata))
    if card is not None:
        card = {"class": type(model).__name__, "config": config, **card}
        write_json(path.with_suffix(".json"), card)


# Reading the header: the 8-byte little-endian length, then that many bytes of JSON.


def _corrupt(path: Path, what: str) -> WeightsError:
    return WeightsError(f"corrupt or truncated weights file {path}: {what}")


def _tensor_entry(path: Path, name: str, entry: Any, data_bytes: int) -> tuple[tuple[int, ...], int]:
    """(shape, number of values) of one header entry, checked against the dtype and the file's length."""
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise _corrupt(path, f"tensor {name!r} lacks dtype, shape or data_offsets")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise _corrupt(path, f"tensor {name!r} has unknown dtype {str(dtype)[:20]!r}")
    ints = lambda v: isinstance(v, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v)  # noqa: E731
    if not ints(shape) or not ints(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
        raise _corrupt(path, f"tensor {name!r} has a bad shape or data_offsets")
    if offsets[1] > data_bytes:
        raise _corrupt(path, f"tensor {name!r} ends at byte {offsets[1]} of the data, which has {data_bytes}")
    count = math.prod(shape)
    if count * DTYPE_BYTES[dtype] != offsets[1] - offsets[0]:
        raise _corrupt(path, f"tensor {name!r}: shape {shape} of {dtype} needs {count * DTYPE_BYTES[dtype]} bytes, "
                             f"its data_offsets give {offsets[1] - offsets[0]}")  # fmt: skip
    return tuple(shape), count


def read_header(path: str | Path) -> Header:
    """The tensor shapes and metadata of a safetensors file, read from its header alone.

    Raises:
        WeightsError: a missing file, or a header that is not what the format says (one line).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights not found: {path}")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise _corrupt(path, f"{size} bytes, shorter than the 8-byte header length")
            (length,) = struct.unpack("<Q", head)
            if length > min(size - 8, MAX_HEADER):
                raise _corrupt(path, f"header length {length} is larger than the file ({size} bytes)"
                                     if length > size - 8 else f"header length {length} exceeds {MAX_HEADER}")
            raw = f.read(length)
    except OSError as err:
        raise WeightsError(f"cannot read weights file {path}: {err.strerror or type(err).__name__}") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _corrupt(path, "the header is not JSON") from None
    if not isinstance(header, dict):
        raise _corrupt(path, "the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise _corrupt(path, "__metadata__ must map names to strings")
    shapes, values = {}, 0
    for name, entry in header.items():
        shapes[name], count = _tensor_entry(path, name, entry, size - 8 - length)
        values += count
    return Header(shapes, metadata, values)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors header metadata, with a clear error for a missing or corrupt file."""
    return read_header(path).metadata


def load_state(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, float tensors as float32 (the header checked first)."""
    read_header(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError, TypeError) as err:
        raise _corrupt(Path(path), str(err).splitlines()[0] if str(err) else type(err).__name__) from None
    return {k: (v.float() if v.is_floating_point() else v).to(device) for k, v in state.items()}


# Checking the config in the metadata before anything is built from it.


def _check_int(value: Any, field: str, values: int) -> str | None:
    """Why ``value`` cannot be the int field ``field`` of a file storing ``values`` numbers (None: it can)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {value!r}"[:120]
    if field in ZERO_OK:
        return None if value >= 0 else f"must be >= 0, got {value}"
    if value < 1:
        return f"must be a positive size, got {value}"
    if value > values:  # every size of a network is at least one stored value (a bias, a row)
        return f"is {value}, absurd for a file that stores {values} values"
    return None


def _check_value(value: Any, hint: Any, field: str, values: int) -> str | None:
    """Why ``value`` (from JSON) does not fit the type ``hint`` of ``field`` (None: it does)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is int:
        return _check_int(value, field, values)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"must be a number, got {value!r}"[:120]
        if not (math.isfinite(value) and value >= 0):
            return f"must be a finite number >= 0, got {value}"
        return None if value <= max(values, 1) else f"is {value:g}, absurd for a file that stores {values} values"
    if hint is str:
        return None if isinstance(value, str) and len(value) <= MAX_COUNT else f"must be a short string, got {value!r}"[:120]
    if hint is bool:
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"[:120]
    if hint is tuple or origin is tuple:
        if not isinstance(value, (list, tuple)):
            return f"must be a list, got {value!r}"[:120]
        if len(value) > min(MAX_COUNT, max(values, 1)):
            return f"has {len(value)} entries, absurd for a file that stores {values} values"
        items = args[:1] * len(value) if args[-1:] == (Ellipsis,) else args
        if args and len(items) != len(value):
            return f"must have {len(items)} entries, got {len(value)}"
        for item, item_hint in zip(value, items or [None] * len(value)):
            why = _check_value(item, item_hint, field, values) if item_hint is not None else _check_plain(item)
            if why:
                return f"entry {why}"
        if field.endswith("shape") and math.prod(value) > values:  # a flow stores at least one value per dimension
            return f"{list(value)} holds {math.prod(value)} values, absurd for a file that stores {values}"
        return None
    return None  # a type this check does not know: building on the meta device still guards it


def _check_plain(value: Any, depth: int = 0) -> str | None:
    """Why an untyped entry (nested lists of numbers or strings) is not plain JSON data (None: it is)."""
    if isinstance(value, (list, tuple)) and depth < 4:
        return next((why for v in value if (why := _check_plain(v, depth + 1))), None)
    if isinstance(value, str) or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)):
        return None
    return f"must be a finite number or a string, got {value!r}"[:120]


def check_config(path: Path, name: str, config_cls: type, text: str, values: int):
    """The config stored in a file's metadata, checked field by field, as ``config_cls``.

    Raises:
        WeightsError: not JSON, a field of the wrong type, a zero, negative or absurd size, NaN.
    """
    try:
        stored = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise WeightsError(f"{path}: the {name} config in its metadata is not JSON") from None
    if not isinstance(stored, dict):
        raise WeightsError(f"{path}: the {name} config in its metadata must be a JSON object, got {type(stored).__name__}")
    try:
        hints = typing.get_type_hints(config_cls)
    except Exception:  # a registered config with annotations that do not resolve: left to the meta build
        hints = {}
    for field in dataclasses.fields(config_cls):
        if field.name in stored:
            why = _check_value(stored[field.name], hints.get(field.name), field.name, values)
            if why:
                raise WeightsError(f"{path}: {name} config field {field.name!r} {why}")
        if field.name in ("blocks", "levels", "conv_blocks"):
            counts = stored.get(field.name)
            if any(isinstance(c, int) and c > MAX_COUNT for c in (counts if isinstance(counts, list) else [counts])):
                raise WeightsError(f"{path}: {name} config field {field.name!r} is {counts}, more than {MAX_COUNT}")
    _check_flow_size(path, name, stored, values)
    try:
        return config_from_dict(config_cls, stored)
    except Exception as err:  # the config's own checks (valid sizes, layouts): untrusted input, whatever they raise
        raise WeightsError(f"{path}: the stored config does not make a {name}: {_first_line(err)}") from None


def _check_flow_size(path: Path, name: str, stored: dict, values: int) -> None:
    """Refuse a flow whose blocks × dimensions could not fit the file: each coupling block stores at
    least dims/16 values (its sub-network's first layer, on the smallest scale), and building one
    draws a permutation of its dimensions in NumPy, which the ``meta`` device does not spare."""
    blocks, dims = stored.get("blocks"), stored.get("dims") or stored.get("x_shape")
    dims = math.prod(dims) if isinstance(dims, list) else dims
    if isinstance(blocks, int) and isinstance(dims, int) and blocks * dims > 16 * max(values, 1):
        raise WeightsError(f"{path}: {name} config asks for {blocks} blocks of {dims} dimensions, absurd for a file "
                           f"that stores {values} values")


def _first_line(err: BaseException) -> str:
    return str(err).splitlines()[0][:300] if str(err) else type(err).__name__


def _compare_shapes(path: Path, name: str, expected: dict[str, tuple[int, ...]], stored: dict[str, tuple[int, ...]]) -> None:
    """Refuse tensors that are missing, unexpected or of another shape than the model built from the config has."""
    missing = [k for k in expected if k not in stored]
    unexpected = [k for k in stored if k not in expected]
    wrong = [k for k in expected if k in stored and expected[k] != stored[k]]
    if not (missing or unexpected or wrong):
        return
    more = lambda names: f"{names[0]!r}" + (f" and {len(names) - 1} more" if len(names) > 1 else "")  # noqa: E731
    parts = ([f"missing {more(missing)}"] if missing else []) + ([f"unexpected {more(unexpected)}"] if unexpected else [])
    if wrong:
        k = wrong[0]
        parts.append(f"{k!r} is {list(stored[k])} in the file, {list(expected[k])} in a {name}"
                     + (f" ({len(wrong) - 1} more differ)" if len(wrong) > 1 else ""))
    raise WeightsError(f"{path}: tensors do not fit a {name} with the config stored beside them: {'; '.join(parts)}")


def load_model(path: str | Path, device: str | torch.device = "cpu", expect: type | None = None) -> nn.Module:
    """Rebuild and load the model saved at ``path``, in eval mode, on ``device``.

    Checks before it allocates (see the module's notes): the header, the config's types and sizes,
    then the tensor shapes of the model built on the ``meta`` device.

    Raises:
        WeightsError: missing file, corrupt file, unknown class, bad config, or tensors that do not fit.
    """
    path = Path(path)
    header = read_header(path)
    name = header.metadata.get("class")
    if name not in MODEL_CLASSES:
        raise WeightsError(f"{path}: unknown model class {str(name)[:40]!r}; valid: {', '.join(MODEL_CLASSES)}")
    model_cls, config_cls = MODEL_CLASSES[name]
    if expect is not None and model_cls is not expect:
        raise WeightsError(f"{path}: holds a {name}, expected a {expect.__name__}")
    config = check_config(path, name, config_cls, header.metadata.get("config", "{}"), header.values)
    try:
        with torch.device("meta"):  # shapes only: no memory, whatever the config asks for
            skeleton = model_cls(config)
        expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    except Exception as err:  # untrusted config: whatever building from it raises
        raise WeightsError(f"{path}: the stored config does not make a {name}: {_first_line(err)}") from None
    _compare_shapes(path, name, expected, header.shapes)
    model = model_cls(config)
    try:
        model.load_state_dict(load_state(path))
    except RuntimeError as err:
        raise WeightsError(f"{path}: tensors do not fit a {name}: {_first_line(err)}") from None
    return model.to(device).eval()


def read_card(path: str | Path) -> dict[str, Any]:
    """The JSON card beside a weights file ({} if there is none).

    Raises:
        WeightsError: a card that is not a JSON object, in one line naming it.
    """
    card = Path(path).with_suffix(".json")
    if not card.is_file():
        return {}
    try:
        return read_json_file(card, f"model card of {path}")
    except InputError as err:
        raise WeightsError(str(err)) from None
