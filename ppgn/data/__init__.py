"""Datasets: Fashion-MNIST and MNIST from IDX files, scikit-learn's 8×8 digits, emoji, image folders, .npz files,
captions, class names; ``open_dataset`` turns what ``--data`` names into a torch ``Dataset``."""

from .datasets import (
    DIGIT_CLASSES,
    FASHION_MNIST_CLASSES,
    SIZES,
    ArrayDataset,
    DataNotFoundError,
    Fingerprint,
    ImageDataset,
    dataset_items,
    find_dataset_dir,
    from_uint8,
    load_digits_28,
    load_fashion_mnist,
    make_loader,
    parse_class,
    take_subset,
    to_tensor,
    to_uint8,
)
from .emoji import EMOJI_CLASSES, augment_emoji
from .folder import FolderDataset
from .idx import read_idx, write_idx
from .registry import BUILTIN, DATASETS, dataset_classes, load_dataset, open_dataset

__all__ = [
    "ArrayDataset",
    "BUILTIN",
    "DATASETS",
    "DIGIT_CLASSES",
    "FASHION_MNIST_CLASSES",
    "DataNotFoundError",
    "EMOJI_CLASSES",
    "Fingerprint",
    "FolderDataset",
    "SIZES",
    "augment_emoji",
    "dataset_classes",
    "ImageDataset",
    "dataset_items",
    "find_dataset_dir",
    "from_uint8",
    "load_digits_28",
    "load_fashion_mnist",
    "load_dataset",
    "make_loader",
    "take_subset",
    "open_dataset",
    "parse_class",
    "read_idx",
    "to_tensor",
    "to_uint8",
    "write_idx",
]
