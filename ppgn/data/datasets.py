"""Datasets as uint8 image arrays: Fashion-MNIST (IDX files) and scikit-learn's digits (for tests);
and what every dataset object shares (sizes, channels, the test split, the fingerprint, a DataLoader).

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
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image

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
FASHION_HINT = ("install it with 'sudo apt-get install dataset-fashion-mnist', or point --data-dir / $PPGN_DATA at a "
                "folder holding train-images-idx3-ubyte.gz and the other three IDX files")


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


def named_data_dir(data_dir: str | Path | None = None, what: str = "the dataset", hint: str = "") -> Path | None:
    """The data folder the user named: ``data_dir`` (``--data-dir``), else ``$PPGN_DATA``, else None.

    A named folder that does not exist is refused rather than passed over: a typo must not make
    the finders fall back, silently, to another copy of the data.

    Raises:
        DataNotFoundError: the named folder does not exist, or is a file (one line naming it).
    """
    if data_dir is not None:
        path, name = Path(data_dir), "--data-dir"
    elif os.environ.get("PPGN_DATA"):
        path, name = Path(os.environ["PPGN_DATA"]), "$PPGN_DATA"
    else:
        return None
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "does not exist"
        raise DataNotFoundError(f"{name} {path} {problem}; give the folder that holds {what}" + (f"; {hint}" if hint else ""))
    return path


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


def from_uint8(array: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, C), any C → float32 (N, C, H, W) in [-1, 1]: the inverse of ``to_uint8``.

    For one channel it gives exactly what ``to_tensor`` gives for (N, H, W).
    """
    array = np.asarray(array)
    if array.ndim != 4:
        raise ValueError(f"images must be uint8 (N, H, W, C), got shape {array.shape}")
    x = torch.from_numpy(np.array(array, dtype=np.uint8)).float().div(127.5).sub(1.0)
    return x.permute(0, 3, 1, 2).contiguous()


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
    looked in (see ``system_data_enabled``); a named folder that does not exist is refused.
    """
    named = named_data_dir(data_dir, "Fashion-MNIST", FASHION_HINT)
    candidates = [named] if named is not None else []
    if system_data_enabled():
        candidates.append(DEBIAN_FASHION_MNIST)
    for base in candidates:
        for d in (base, base / "fashion-mnist"):
            if all(_idx_path(d, stem) for pair in _FASHION_FILES.values() for stem in pair):
                return d
    looked = ", ".join(str(c) for c in candidates) or "nowhere: no --data-dir or $PPGN_DATA given"
    raise DataNotFoundError(f"Fashion-MNIST not found (looked in {looked}{skipped_note()}); {FASHION_HINT}")


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
    try:
        images, labels = read_idx(image_path), read_idx(label_path)
    except ValueError as err:
        raise ValueError(f"{err}; the Fashion-MNIST files in {directory} are damaged: replace them "
                         "(or reinstall 'dataset-fashion-mnist')") from None
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


# What every dataset object shares: folders (folder.py), .npz files, the built-in names (registry.py).

SIZES = (28, 32, 64, 128)  # the image sides the networks are built for
CHANNELS = (1, 3)
TEST_EVERY = 10  # every 10th item of each class is held out as the test split
SPLITS = ("train", "test")


def check_size(size: int | None) -> int | None:
    """``size`` if the networks support it (or None: the data decides).

    >>> check_size(64)
    64
    >>> check_size(50)
    Traceback (most recent call last):
    ValueError: size 50 not supported; valid: 28, 32, 64, 128
    """
    if size is not None and size not in SIZES:
        raise ValueError(f"size {size} not supported; valid: {', '.join(map(str, SIZES))}")
    return size


def check_channels(channels: int | None) -> int | None:
    """``channels`` if 1 (grey) or 3 (RGB), or None: the data decides."""
    if channels is not None and channels not in CHANNELS:
        raise ValueError(f"channels {channels} not supported; valid: 1 (grey), 3 (RGB)")
    return channels


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return split


def infer_size(short_sides: Sequence[int]) -> int:
    """The size the data suggests: the largest supported size not above the median short side (at least 28).

    >>> infer_size([28, 28]), infer_size([40, 30, 100]), infer_size([300]), infer_size([16])
    (28, 32, 128, 28)
    """
    median = int(np.median(short_sides)) if len(short_sides) else SIZES[0]
    return max([s for s in SIZES if s <= median], default=SIZES[0])


def split_indices(labels: np.ndarray, split: str) -> np.ndarray:
    """The indices of a split: within each class, in the given order, the 10th, 20th, ... item is test.

    A fixed rule, so no seed is needed; it spreads the test items over the whole (sorted) class,
    and a class of fewer than 10 items has no test item.

    >>> split_indices(np.array([0] * 12 + [1] * 10), "test").tolist()
    [9, 21]
    """
    check_split(split)
    labels = np.asarray(labels)
    rank = np.zeros(len(labels), np.int64)  # the position of each item within its class
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(len(where))
    test = rank % TEST_EVERY == TEST_EVERY - 1
    return np.flatnonzero(test if split == "test" else ~test)


def flatten(image: Image.Image, channels: int) -> Image.Image:
    """Any Pillow image as mode "L" (``channels=1``) or "RGB": transparency on white, as on a page;
    16/32-bit grey scaled to 8 bits (Pillow's own conversion would clip it); colour to grey by ITU-R 601 luma."""
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    elif image.mode.startswith("I") or image.mode == "F":
        wide = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or wide.max() > 255 else 255.0
        image = Image.fromarray((wide.clip(0, top) * (255.0 / top)).round().astype(np.uint8), "L")
    return image.convert("L" if channels == 1 else "RGB")


MAX_PIXELS = 89_478_485  # Pillow's default warning limit (~9459² pixels): larger is refused, not decoded


def open_image(path: str | Path) -> Image.Image:
    """``Image.open(path)`` (the header only), refusing an image of more than ``MAX_PIXELS`` pixels: a
    decompression bomb (a 30000×30000 PNG is a few kB on disk and gigabytes decoded) is an error
    before any pixel is decoded, never Pillow's warning and never memory spent.

    Raises:
        Image.DecompressionBombError: too many pixels (the message gives the size and the limit).
        OSError, ValueError, SyntaxError: what Pillow raises for a file it cannot read.
    """
    with warnings.catch_warnings():  # Pillow warns between its two limits: make the warning the error
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(path)
        except Image.DecompressionBombWarning as err:
            raise Image.DecompressionBombError(str(err)) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise Image.DecompressionBombError(f"{width}×{height} pixels, more than the limit of {MAX_PIXELS} "
                                           "(a decompression bomb?); resize it first")
    return image


def fit_square(image: Image.Image, size: int) -> Image.Image:
    """The centred square of ``image`` (its short side), resized to ``size``×``size`` (Lanczos).

    Cropping before resizing keeps pixels outside the square out of the filter's reach.
    """
    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    if (w, h) != (side, side):
        image = image.crop((left, top, left + side, top + side))
    return image if side == size else image.resize((size, size), Image.LANCZOS)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """A mode "L" or "RGB" image → float32 (C, H, W) in [-1, 1], the range of ``to_tensor``."""
    array = np.asarray(image, dtype=np.uint8)
    array = array[:, :, None] if array.ndim == 2 else array
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(127.5).sub(1.0)


@dataclass(frozen=True)
class Fingerprint:
    """What identifies a dataset's split, for model cards.

    Attributes:
        sha256: hex digest over the split's data (a folder: its sorted relative paths and file sizes;
            built-in sets: the source files; arrays: their bytes).
        summary: one line for people: the source, classes, counts, skipped files.
    """

    sha256: str
    summary: str

    def to_dict(self) -> dict[str, str]:
        return {"sha256": self.sha256, "summary": self.summary}


def sha256_arrays(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class ArrayDataset(torch.utils.data.Dataset):
    """Images held in memory (a built-in set, an .npz file, the emoji), as a torch ``Dataset``.

    Items are (float32 (C, S, S) in [-1, 1], int64 label), as ``to_tensor`` gives: resized and
    centre-cropped (``fit_square``) and converted (``flatten``) only when ``size`` or ``channels``
    differ from the arrays'.

    Args:
        images: uint8 (N, H, W) or (N, H, W, C), C in (1, 3); 0 = black.
        labels: int (N,), indices into ``classes``.
        size: side S of the items; None: the arrays' own (``infer_size`` if not square or not supported).
        channels: 1 or 3; None: the arrays' own.
        augment: a transform the training loop may apply to a batch, ``augment(x, generator, u=...)``
            with ``augment.draws`` uniform numbers per image, or None.
        background: the value of the images' background in [-1, 1] (what a shift brings in);
            None: unknown, repeat the border.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: Sequence[str], name: str,
                 fingerprint: Fingerprint, size: int | None = None, channels: int | None = None,
                 augment: Callable[..., torch.Tensor] | None = None, background: float | None = None):
        images = np.asarray(images, dtype=np.uint8)
        self.images = images[..., None] if images.ndim == 3 else images  # (N, H, W, C)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.classes, self.name, self.fingerprint, self.augment = tuple(classes), name, fingerprint, augment
        self.background = background
        _, h, w, c = self.images.shape
        native = h if h == w and h in SIZES else infer_size([min(h, w)])
        self.size = check_size(size) or native
        self.channels = check_channels(channels) or c
        self._as_is = (h, w, c) == (self.size, self.size, self.channels)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        array = self.images[i]
        if self._as_is:
            x = torch.from_numpy(array.copy()).permute(2, 0, 1).float().div(127.5).sub(1.0)
        else:
            image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
            x = pil_to_tensor(fit_square(flatten(image, self.channels), self.size))
        return x, torch.tensor(self.labels[i], dtype=torch.int64)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All images as uint8 (N, S, S, C) and labels int64 (N,), for evaluation code that takes arrays."""
        if self._as_is:
            return self.images, self.labels
        return to_uint8(torch.stack([self[i][0] for i in range(len(self))])), self.labels

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self)} images, shape {self.image_shape}, {len(self.classes)} classes)"


def dataset_items(data: torch.utils.data.Dataset, idx) -> np.ndarray:
    """Items ``idx`` of a torch dataset of (x, y) as uint8 (N, S, S, C), reading only those."""
    return to_uint8(torch.stack([data[int(i)][0] for i in idx]))


def take_subset(dataset: torch.utils.data.Dataset, n: int, generator: torch.Generator | None = None) -> torch.utils.data.Dataset:
    """A random subset of ``n`` items of a torch dataset (the dataset itself if ``n`` is 0 or >= its size).

    Draws as ``ImageDataset.subset`` does, so a run on a built-in set picks the same examples.
    The subset keeps the dataset's ``classes``, ``image_shape``, ``fingerprint``, ``augment`` and ``background``.
    """
    if not n or n >= len(dataset):
        return dataset
    subset = torch.utils.data.Subset(dataset, torch.randperm(len(dataset), generator=generator)[:n].tolist())
    for name in ("classes", "image_shape", "fingerprint", "augment", "background", "name"):
        setattr(subset, name, getattr(dataset, name, None))
    subset.labels = np.asarray(dataset.labels)[subset.indices]
    return subset


def _one_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)  # the workers decode images; one thread each keeps them off each other's cores


def make_loader(dataset: torch.utils.data.Dataset, batch_sampler: Iterable[Sequence[int]] | None = None,
                batch_size: int = 64, shuffle: bool = False, generator: torch.Generator | None = None,
                num_workers: int = 0, drop_last: bool = False) -> torch.utils.data.DataLoader:
    """A ``DataLoader`` that streams ``dataset`` in batches (x (B, C, S, S), y (B,)), decoding in ``num_workers`` processes.

    Args:
        batch_sampler: the batches as lists of indices (the training loop's own order); if None,
            batches of ``batch_size``, shuffled with ``generator`` when ``shuffle``.
    """
    # A loader of its own generator: iterating one never draws from torch's global RNG (dropout's),
    # so a training run resumed mid-way draws exactly what an unbroken one does.
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    common = dict(num_workers=num_workers, worker_init_fn=_one_thread if num_workers else None, generator=generator)
    if batch_sampler is not None:
        return torch.utils.data.DataLoader(dataset, batch_sampler=batch_sampler, **common)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, **common)
