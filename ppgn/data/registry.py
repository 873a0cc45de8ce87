"""Datasets by name: the one place that maps ``--data`` (a name, a folder or an .npz file) to a dataset.

``load_dataset(name, split)`` gives the built-in grey sets as uint8 arrays (``ImageDataset``), as
the existing recipes use them. ``open_dataset(spec, split, size, channels)`` gives any source as a
torch ``Dataset`` with one interface (``classes``, ``image_shape`` (C, S, S), ``fingerprint``,
``labels``, ``augment``, ``len()``, items (float32 (C, S, S) in [-1, 1], int64 label), ``arrays()``):

* a built-in name: ``fashion-mnist``, ``mnist``, ``digits`` (28×28 grey), ``emoji`` (64×64 RGB, 8 classes);
* a folder ``root/<class>/*.png|jpg|webp`` (``FolderDataset``: streamed from disk);
* a file ``*.npz`` following the project's contract (``ppgn.io.load_npz``: images uint8 (N, H, W, C),
  labels int64 (N,), prob float32 (N,); an optional ``classes`` array names the labels); the 10th,
  20th, ... image of each class is its test split, as for folders.

``size`` (28, 32, 64 or 128) and ``channels`` (1 or 3) default to the data's own. A name wins over a
folder of the same name in the working directory: write ``./emoji`` for the folder.
"""

from __future__ import annotations

from pathlib import Path

from ..io import load_npz
from .datasets import (
    DIGIT_CLASSES,
    FASHION_MNIST_CLASSES,
    ArrayDataset,
    DataNotFoundError,
    Fingerprint,
    ImageDataset,
    check_channels,
    check_size,
    check_split,
    load_digits_28,
    load_fashion_mnist,
    named_data_dir,
    sha256_arrays,
    split_indices,
)
from .emoji import EMOJI_CLASSES, emoji_dataset
from .folder import FolderDataset
from .mnist import load_mnist

DATASETS = ("fashion-mnist", "mnist", "digits")  # the grey sets load_dataset gives as arrays
BUILTIN = (*DATASETS, "emoji")  # every name open_dataset knows
CLASSES = {"fashion-mnist": FASHION_MNIST_CLASSES, "mnist": DIGIT_CLASSES, "digits": DIGIT_CLASSES, "emoji": EMOJI_CLASSES}


def load_dataset(name: str, split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """Load a dataset by name: 'fashion-mnist', 'mnist' or 'digits' (a named ``data_dir`` must exist)."""
    if name == "fashion-mnist":
        return load_fashion_mnist(split, data_dir)
    if name == "digits":
        if data_dir is not None:  # digits come with scikit-learn, but a folder named must still exist
            named_data_dir(data_dir)
        return load_digits_28(split)
    if name == "mnist":
        return load_mnist(split, data_dir)
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def dataset_classes(name: str) -> tuple[str, ...]:
    """The class names of a built-in dataset, by index."""
    if name not in CLASSES:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(BUILTIN)}")
    return CLASSES[name]


def npz_dataset(path: str | Path, split: str = "train", size: int | None = None, channels: int | None = None) -> ArrayDataset:
    """A split of an .npz file that follows the project's contract (held in memory: it is one file)."""
    check_split(split)
    data = load_npz(path)
    labels = data["labels"]
    if "classes" in data and data["classes"].dtype.kind == "U" and data["classes"].ndim == 1:
        classes = tuple(str(c) for c in data["classes"])
    else:
        classes = tuple(str(i) for i in range(int(labels.max()) + 1 if len(labels) else 0))
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"{path}: labels must lie in 0..{len(classes) - 1} (its 'classes'), found {labels.min()}..{labels.max()}")
    if len(classes) < 2:
        raise ValueError(f"{path}: {len(classes)} class; a class-conditional model needs at least 2 (labels 0, 1, ...)")
    keep = split_indices(labels, split)
    images, labels = data["images"][keep], labels[keep]
    summary = f"npz {path}: {split} split, {len(keep)} of {len(data['labels'])} images (every 10th of each class is test), {len(classes)} classes"
    return ArrayDataset(images, labels, classes, str(path), Fingerprint(sha256_arrays(images, labels), summary), size, channels)


def _builtin(name: str, split: str, size: int | None, channels: int | None, data_dir) -> ArrayDataset:
    if name == "emoji":
        return emoji_dataset(split, size, channels, data_dir)
    data = load_dataset(name, split, data_dir)
    summary = f"{name}: {split} split, {len(data)} images, {len(data.classes)} classes"
    return ArrayDataset(data.images, data.labels, data.classes, name, Fingerprint(data.sha256, summary), size, channels,
                        background=-1.0)  # black: what the grey sets' shifts bring in


def open_dataset(spec: str | Path, split: str = "train", size: int | None = None, channels: int | None = None,
                 data_dir: str | Path | None = None, skip_bad: bool = False) -> ArrayDataset | FolderDataset:
    """What ``--data`` names, as a torch ``Dataset``: a built-in name, an image folder or an .npz file.

    Args:
        spec: 'fashion-mnist', 'mnist', 'digits', 'emoji', a folder ``root/<class>/*.png``, or a ``.npz`` file.
        split: 'train' or 'test'.
        size: side S of the items, one of 28, 32, 64, 128; None: the data's own.
        channels: 1 (grey) or 3 (RGB); None: the data's own.
        data_dir: where the built-in sets are looked for (as ``--data-dir``).
        skip_bad: for folders, leave out non-images and empty class folders (``dataset.skipped``).

    Raises:
        ValueError: unsupported size or channels, unknown split, bad contents; one line naming the path or the valid choices.
        DataNotFoundError: no such dataset, folder or file, or a ``data_dir`` that does not exist; one line
            saying where it was looked for.
    """
    check_split(split)
    check_size(size)
    check_channels(channels)
    if data_dir is not None and str(spec) not in BUILTIN:  # the built-in finders check it, each with its hint
        named_data_dir(data_dir)
    if str(spec) in BUILTIN:
        return _builtin(str(spec), split, size, channels, data_dir)
    path = Path(spec)
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise DataNotFoundError(f"no such .npz file: {path}")
        return npz_dataset(path, split, size, channels)
    if path.is_dir():
        return FolderDataset(path, split, size, channels, skip_bad)
    raise DataNotFoundError(f"--data {str(spec)!r} is neither a dataset name nor an existing folder or .npz file; "
                            f"valid names: {', '.join(BUILTIN)}, or a folder root/<class>/*.png, or a file.npz")

