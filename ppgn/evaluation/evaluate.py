"""Score a set of samples (the ``.npz`` contract) with the shipped evaluator of a model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models import Evaluator, load_model
from .distribution import distribution_from_outputs, frechet_distance, precision_recall
from .metrics import (
    accuracy,
    diversity_ratio,
    evaluator_outputs,
    per_class_accuracy,
    per_class_diversity,
)
from .reference import load_reference
from .similarity import ms_ssim_within_class

MIN_SAMPLES = 2  # the fewest samples every metric of ``evaluate_samples`` is defined for


@dataclass
class EvaluatorBundle:
    """The evaluator network and the features of real test images it was shipped with."""

    network: Evaluator
    real_features: torch.Tensor  # (N, F) float64
    real_labels: np.ndarray  # (N,)

    @classmethod
    def from_folder(cls, folder: str | Path, device: str | torch.device = "cpu") -> "EvaluatorBundle":
        folder = Path(folder)
        network = load_model(folder / "evaluator.safetensors", device, expect=Evaluator)
        features, labels = load_reference(folder / "evaluator-reference.safetensors")
        return cls(network, features, labels.numpy())


def evaluate_samples(images: np.ndarray, labels: np.ndarray, bundle: EvaluatorBundle) -> dict:
    """Accuracy on the asked class (overall and per class), the within-class diversity ratio and
    MS-SSIM, and Fréchet distance, KID and Inception-Score-style score against the real test features.

    Args:
        images: uint8 (N, H, W, C), in memory or memory-mapped (it is read a batch at a time);
            labels: int64 (N,), the class asked for.

    Returns:
        the numbers; a metric a class cannot have (diversity of a class with one sample) is NaN,
        which ``write_json`` writes as null.

    Raises:
        ValueError: fewer than ``MIN_SAMPLES`` samples (one line saying which metrics need them).
    """
    check_sample_count(len(labels))
    features, logits = evaluator_outputs(bundle.network, images)
    return {
        "num_samples": int(len(labels)),
        "accuracy": accuracy(logits, labels),
        "per_class_accuracy": per_class_accuracy(logits, labels),
        "per_class_diversity": per_class_diversity(features, labels, bundle.real_features, bundle.real_labels),
        "per_class_fid": per_class_fid(features, labels, bundle.real_features, bundle.real_labels),
        "diversity": diversity_ratio(features, labels, bundle.real_features, bundle.real_labels),
        "ms_ssim": ms_ssim_within_class(images, labels),
        **distribution_from_outputs(features, logits, bundle.real_features),
        **class_precision_recall(features, labels, bundle.real_features, bundle.real_labels),
    }


def check_sample_count(num: int, what: str = "samples file") -> int:
    """``num`` if the evaluator's metrics can be computed from that many samples.

    Raises:
        ValueError: fewer than ``MIN_SAMPLES``: FID, KID, diversity and MS-SSIM compare samples
            with each other, so they need at least two.
    """
    if num < MIN_SAMPLES:
        raise ValueError(f"the {what} holds {num} sample{'s' * (num != 1)}; scoring needs at least {MIN_SAMPLES} "
                         "(FID, KID, diversity and MS-SSIM compare samples with each other; diversity and MS-SSIM "
                         "need 2 of a class): write more with 'ppgn sample --num N --out FILE.npz'")
    return num


def per_class_fid(features: torch.Tensor, labels: np.ndarray, real_features: torch.Tensor, real_labels: np.ndarray) -> dict[int, float]:
    """Fréchet distance of each class's samples to the real test images of that class (classes with
    at least two of each; with few real images it is noisy: compare it with the real floor's)."""
    out = {}
    for k in np.unique(labels):
        fake, real = features[labels == k], real_features[real_labels == k]
        if len(fake) >= 2 and len(real) >= 2:
            out[int(k)] = frechet_distance(fake, real)
    return out


def class_precision_recall(features: torch.Tensor, labels: np.ndarray, real_features: torch.Tensor, real_labels: np.ndarray,
                           k: int = 3, seed: int = 0) -> dict:  # fmt: skip
    """Improved precision and recall per class, each class's samples against as many real test
    images of that class (drawn with ``seed``), and their means over the classes scored.

    Returns:
        {"precision", "recall", "per_class_precision", "per_class_recall"}; a class with k or fewer
        samples is left out (the means are NaN, written as null, when no class has enough).
    """
    gen = np.random.default_rng(seed)
    precision, recall = {}, {}
    for c in np.unique(labels):
        fake, real = features[labels == c], real_features[real_labels == c]
        if len(fake) <= k or len(real) < len(fake):
            continue
        real = real[torch.from_numpy(gen.choice(len(real), len(fake), replace=False))]
        precision[int(c)], recall[int(c)] = precision_recall(fake, real, k)
    mean = lambda d: float(np.mean(list(d.values()))) if d else float("nan")  # noqa: E731
    return {"precision": mean(precision), "recall": mean(recall), "per_class_precision": precision, "per_class_recall": recall}
