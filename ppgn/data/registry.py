"""Datasets by name: the one place that maps a name to its loader and its class names."""

from __future__ import annotations

from pathlib import Path

from .datasets import DIGIT_CLASSES, FASHION_MNIST_CLASSES, ImageDataset, load_digits_28, load_fashion_mnist
from .mnist import load_mnist

DATASETS = ("fashion-mnist", "mnist", "digits")
CLASSES = {"fashion-mnist": FASHION_MNIST_CLASSES, "mnist": DIGIT_CLASSES, "digits": DIGIT_CLASSES}


def load_dataset(name: str, split: str = "train", data_dir: str | Path | None = None) -> ImageDataset:
    """Load a dataset by name: 'fashion-mnist', 'mnist' or 'digits'."""
    if name == "fashion-mnist":
        return load_fashion_mnist(split, data_dir)
    if name == "digits":
        return load_digits_28(split)
    if name == "mnist":
        return load_mnist(split, data_dir)
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def dataset_classes(name: str) -> tuple[str, ...]:
    """The class names of a dataset, by index."""
    if name not in CLASSES:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    return CLASSES[name]
