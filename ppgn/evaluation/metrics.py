"""Sample metrics in the feature space of an independent evaluator network.

accuracy    fraction of samples the evaluator puts in the class asked for
diversity   mean pairwise feature distance within each class, divided by the same for real
            images of that class (1.0 = as diverse as real data), averaged over classes
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.evaluator import evaluator_outputs  # noqa: F401 (every metric starts from it)


def mean_pairwise_distance(features: torch.Tensor) -> float:
    """Mean Euclidean distance over all distinct pairs of rows."""
    n = len(features)
    if n < 2:
        return float("nan")
    d = torch.cdist(features, features)
    return (d.sum() / (n * (n - 1))).item()


def per_class(values: torch.Tensor, labels: np.ndarray, fn) -> dict[int, float]:
    return {int(k): fn(values[torch.from_numpy(labels == k)]) for k in np.unique(labels)}


def per_class_diversity(features: torch.Tensor, labels: np.ndarray, real_features: torch.Tensor, real_labels: np.ndarray) -> dict[int, float]:
    """For each class present: within-class spread of the samples / that of real images of the class."""
    fake = per_class(features, labels, mean_pairwise_distance)
    real = per_class(real_features, real_labels, mean_pairwise_distance)
    return {k: fake[k] / real[k] for k in fake}


def diversity_ratio(features: torch.Tensor, labels: np.ndarray, real_features: torch.Tensor, real_labels: np.ndarray) -> float:
    """Mean over the classes present of (within-class spread of samples / that of real images)."""
    return float(np.mean(list(per_class_diversity(features, labels, real_features, real_labels).values())))


def accuracy(logits: torch.Tensor, labels: np.ndarray) -> float:
    return (logits.argmax(1).numpy() == labels).mean().item()


def per_class_accuracy(logits: torch.Tensor, labels: np.ndarray) -> dict[int, float]:
    hits = logits.argmax(1).numpy() == labels
    return {int(k): hits[labels == k].mean().item() for k in np.unique(labels)}
