"""Datasets: Fashion-MNIST from IDX files, scikit-learn's 8×8 digits for fast tests, class names."""

from .datasets import (
    FASHION_MNIST_CLASSES,
    DataNotFoundError,
    ImageDataset,
    find_dataset_dir,
    load_digits_28,
    load_fashion_mnist,
    load_dataset,
    parse_class,
    to_tensor,
)
from .idx import read_idx, write_idx

__all__ = [
    "FASHION_MNIST_CLASSES",
    "DataNotFoundError",
    "ImageDataset",
    "find_dataset_dir",
    "load_digits_28",
    "load_fashion_mnist",
    "load_dataset",
    "parse_class",
    "read_idx",
    "to_tensor",
    "write_idx",
]
