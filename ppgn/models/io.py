"""Saving and loading networks as safetensors, with the config inside and a JSON card beside.

A file says how to rebuild itself: its metadata holds the model class and its config, so
``load_model(path)`` needs nothing else. Nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..io import atomic_write, write_json
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


class WeightsError(ValueError):
    """Weights are missing, corrupt, or do not fit the model they claim to be."""


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


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors header metadata, with a clear error for a missing or corrupt file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"corrupt or truncated weights file {path}: {str(err).splitlines()[0]}") from None


def load_state(path: str | Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file, float tensors as float32."""
    read_metadata(path)
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"corrupt or truncated weights file {path}: {str(err).splitlines()[0]}") from None
    return {k: (v.float() if v.is_floating_point() else v).to(device) for k, v in state.items()}


def load_model(path: str | Path, device: str | torch.device = "cpu", expect: type | None = None) -> nn.Module:
    """Rebuild and load the model saved at ``path``, in eval mode, on ``device``.

    Raises:
        WeightsError: missing file, corrupt file, unknown class, or tensors that do not fit.
    """
    meta = read_metadata(path)
    name = meta.get("class")
    if name not in MODEL_CLASSES:
        raise WeightsError(f"{path}: unknown model class {name!r}; valid: {', '.join(MODEL_CLASSES)}")
    model_cls, config_cls = MODEL_CLASSES[name]
    if expect is not None and model_cls is not expect:
        raise WeightsError(f"{path}: holds a {name}, expected a {expect.__name__}")
    try:
        config = config_from_dict(config_cls, json.loads(meta.get("config", "{}")))
    except (TypeError, json.JSONDecodeError) as err:
        raise WeightsError(f"{path}: bad config in metadata ({err})") from None
    model = model_cls(config)
    try:
        model.load_state_dict(load_state(path))
    except RuntimeError as err:
        raise WeightsError(f"{path}: tensors do not fit a {name}: {str(err).splitlines()[0]}") from None
    return model.to(device).eval()


def read_card(path: str | Path) -> dict[str, Any]:
    """The JSON card beside a weights file ({} if there is none)."""
    card = Path(path).with_suffix(".json")
    return json.loads(card.read_text()) if card.is_file() else {}
