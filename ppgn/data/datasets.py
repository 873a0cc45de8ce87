"""Datasets as uint8 image arrays: Fashion-MNIST (IDX files) and scikit-learn's digits (for tests).

Fashion-MNIST is looked for in ``--data-dir``, then ``$PPGN_DATA``, then where Debian's package
``dataset-fashion-mnist`` installs it. Nothing is downloaded. ``PPGN_SYSTEM_DATA=0`` switches the
system locations off (Debian's folders, the ``~/.cache/ppgn`` cache, the Noto emoji font), so that
only ``--data-dir`` and ``$PPGN_DATA`` count: a machine then behaves as a fresh one (the tests set it).
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .idx import read_idx

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DIGIT_CLASSES = tuple(str(d) for d in range(10))
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


SYSTEM_DATA_ENV = "PPGN_SYSTEM_DATA"


class DataNotFoundError(FileNotFoundError):
    """A dataset is not on disk; the message says how to get it."""


def system_data_enabled() -> bool:
    """False when ``$PPGN_SYSTEM_DATA`` is 0, false, no or off: then no finder looks in system locations.

    System locations are the ones nobody named: Debian's ``/usr/share/datasets/...``, the default
    cache ``~/.cache/ppgn`` and the Noto colour-emoji font. Read on every call, not at import.
    """
    return os.environ.get(SYSTEM_DATA_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def skipped_note() -> str:
    """The part of a one-line 'not found' message that says system locations were skipped (or nothing)."""
    if system_data_enabled():
        return ""
    return f"; system locations skipped because {SYSTEM_DATA_ENV}={os.environ[SYSTEM_DATA_ENV]} (unset it to use them)"


@dataclass
class ImageDataset:
    """Images and labels of one split.

    Attributes:
        images: uint8 (N, H, W), 0 = black.
        labels: int64 (N,).
        classes: class names, indexed by label.
        name: dataset name.
        sha256: hash of the source files (recorded in model cards).
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    name: str
    sha256: str = ""

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int, generator: torch.Generator | None = None) -> "ImageDataset":
        """A random subset of ``n`` examples (all of them if ``n`` >= N)."""
        if n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=generator)[:n].numpy()
        return ImageDataset(self.images[idx], self.labels[idx], self.classes, self.name, self.sha256)


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) → float32 (N, 1, H, W) in [-1, 1], the range every network here uses."""
    return torch.from_numpy(np.array(images, dtype=np.uint8)).float().div(127.5).sub(1.0).unsqueeze(1)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] → uint8 (N, H, W, C)."""
    u = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return u.permute(0, 2, 3, 1).cpu().numpy()


def _idx_path(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem, stem.replace("-idx", ".idx")):
        if (directory / name).is_file():
            return directory / name
    return None


def find_dataset_dir(data_dir: str | Path | None = None) -> Path:
    """Locate Fashion-MNIST: ``data_dir`` if given (else ``$PPGN_DATA``), then Debian's location.

    A candidate directory counts if it holds the four IDX files directly or in a
    ``fashion-mnist/`` subdirectory. With ``PPGN_SYSTEM_DATA=0`` Debian's location is not
    looked in (see ``system_data_enabled``).
    """
    candidates = []
    if data_dir is not None:
        candidates.append(Path(data_dir))
    elif os.environ.get("PPGN_DATA"):
        candidates.append(Path(os.environ["PPGN_DATA"]))
    if system_data_enabled():
        candidates.append(DEBIAN_FASHION_MNIST)
    for base in candidates:
        for d in (base, base / "fashion-mnist"):
            if all(_idx_path(d, stem) for pair in _FASHION_FILES.values() for stem in pair):
                return d
    looked = ", ".join(str(c) for c in candidates) or "nowhere: no --data-dir or $PPGN_DATA given"
    raise DataNotFoundError(
        f"Fashion-MNIST not found (looked in {looked}{skipped_note()}); install it with "
        "'sudo apt-get install dataset-fashion-mnist', or point --data-dir / $PPGN_DATA at a folder "
        "holding train-images-idx3-ubyte.gz and the other three IDX files"
    )


def _sha256(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def load_fashion_mnist(split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """Load a Fashion-MNIST split ('train': 60k, 'test': 10k) as uint8 images."""
    if split not in _FASHION_FILES:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(_FASHION_FILES)}")
    directory = find_dataset_dir(data_dir)
    image_path, label_path = (_idx_path(directory, stem) for stem in _FASHION_FILES[split])
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(f"{directory}: images {images.shape} and labels {labels.shape} do not match")
    return ImageDataset(
        images, labels.astype(np.int64), FASHION_MNIST_CLASSES, "fashion-mnist", _sha256([image_path, label_path])
    )


def load_digits_28(split: str = "train") -> ImageDataset:
    """scikit-learn's 1,797 8×8 digits, upsampled to 28×28 uint8; a fixed 80/20 split. For fast tests."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.from_numpy(digits.images).float().unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
    x = torch.nn.functional.interpolate(x, size=(20, 20), mode="bilinear", align_corners=False)
    x = torch.nn.functional.pad(x, (4, 4, 4, 4))  # centred in 28×28, as MNIST digits are
    images = (x.squeeze(1).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    order = np.random.default_rng(0).permutation(len(images))
    cut = int(0.8 * len(images))
    idx = order[:cut] if split == "train" else order[cut:]
    return ImageDataset(images[idx], digits.target[idx].astype(np.int64), DIGIT_CLASSES, "digits", "sklearn-digits")


def _normalise(text: str) -> str:
    text = re.sub(r"[^a-z0-9]", "", text.lower())
    return text[:-1] if len(text) > 3 and text.endswith("s") else text  # "sneakers" → "sneaker"


def parse_class(text: str | int, classes: tuple[str, ...] = FASHION_MNIST_CLASSES) -> int:
    """Turn a class name or index into an index, forgivingly ("sneaker", "ankle-boot", "7", "tshirt").

    Raises:
        ValueError: one line naming the valid classes.
    """
    valid = ", ".join(f"{i}={name}" for i, name in enumerate(classes))
    if isinstance(text, bool):
        raise ValueError(f"class must be a name or an index, got {text!r}; valid: {valid}")
    if isinstance(text, int) or re.fullmatch(r"-?[0-9]+", str(text).strip()):
        index = int(text)
        if 0 <= index < len(classes):
            return index
        raise ValueError(f"class index {index} out of range; valid: {valid}")
    key = _normalise(str(text))
    aliases: dict[str, int] = {}
    for i, name in enumerate(classes):
        for alias in [name, *name.split("/")]:
            aliases.setdefault(_normalise(alias), i)
    if key in aliases:
        return aliases[key]
    prefixed = {i for alias, i in aliases.items() if key and alias.startswith(key)}
    if len(prefixed) == 1:
        return prefixed.pop()
    close = difflib.get_close_matches(key, list(aliases), n=1, cutoff=0.75)
    hint = f" (did you mean {classes[aliases[close[0]]]!r}?)" if close else ""
    raise ValueError(f"unknown class {text!r}{hint}; valid: {valid}")
