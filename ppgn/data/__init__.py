"""Datasets: Fashion-MNIST and MNIST from IDX files, scikit-learn's 8×8 digits, emoji, captions, class names."""

from .datasets import (
    DIGIT_CLASSES,
    FASHION_MNIST_CLASSES,
    DataNotFoundError,
    ImageDataset,
    find_dataset_dir,
    load_digits_28,
    load_fashion_mnist,
    parse_class,
    to_tensor,
    to_uint8,
)
from .idx import read_idx, write_idx
from .registry import DATASETS, dataset_classes, load_dataset

__all__ = [
    "DATASETS",
    "DIGIT_CLASSES",
    "FASHION_MNIST_CLASSES",
    "DataNotFoundError",
    "dataset_classes",
    "ImageDataset",
    "find_dataset_dir",
    "load_digits_28",
    "load_fashion_mnist",
    "load_dataset",
    "parse_class",
    "read_idx",
    "to_tensor",
    "to_uint8",
    "write_idx",
]
