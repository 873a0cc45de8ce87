"""Distribution metrics in evaluator features, computed by torchmetrics.

torchmetrics' FID, KID and Inception Score accept any ``nn.Module`` as the feature network.
Here that module is the project's evaluator: images go through it, and the shipped features
of real test images pass through unchanged (so no dataset is needed at evaluation time).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from .metrics import evaluator_outputs


class _Precomputed(nn.Module):
    """Returns the rows it is given: features were computed by the evaluator beforehand."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def distribution_metrics(
    images: np.ndarray, evaluator: nn.Module, real_features: torch.Tensor, subset_size: int = 500
) -> dict[str, float]:
    """Fréchet distance, KID (mean ± std over subsets) and an Inception-Score-style score.

    Args:
        images: uint8 (N, H, W, C) samples; real_features: (M, F) evaluator features of real images.
    """
    features, logits = evaluator_outputs(evaluator, images)
    return distribution_from_outputs(features, logits, real_features, subset_size)


def distribution_from_outputs(features: torch.Tensor, logits: torch.Tensor, real_features: torch.Tensor,
                              subset_size: int = 500) -> dict[str, float]:  # fmt: skip
    """``distribution_metrics`` from the evaluator's features (N, F) and logits (N, K) of the samples."""
    with warnings.catch_warnings():  # torchmetrics warns that it keeps features in memory: we know
        warnings.simplefilter("ignore", UserWarning)
        return _compute(features, logits, real_features, subset_size)


def frechet_distance(features: torch.Tensor, real_features: torch.Tensor) -> float:
    """Fréchet distance between two sets of evaluator features, (N, F) and (M, F), N, M >= 2."""
    if len(features) < 2 or len(real_features) < 2:
        raise ValueError(f"a Fréchet distance needs at least 2 samples and 2 real images, got {len(features)} and {len(real_features)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        fid = FrechetInceptionDistance(feature=_Precomputed(features.shape[1]))
        fid.update(real_features.double(), real=True)
        fid.update(features.double(), real=False)
        return float(fid.compute())


def _compute(features, logits, real_features, subset_size) -> dict[str, float]:
    if len(features) < 2 or len(real_features) < 2:  # a covariance needs two rows (torchmetrics would raise a RuntimeError)
        raise ValueError(f"FID and KID need at least 2 samples and 2 real images, got {len(features)} and {len(real_features)}")
    fid = FrechetInceptionDistance(feature=_Precomputed(features.shape[1]))
    fid.update(real_features.double(), real=True)
    fid.update(features, real=False)
    size = min(subset_size, len(features), len(real_features))
    kid = KernelInceptionDistance(feature=_Precomputed(features.shape[1]), subsets=20, subset_size=size)
    kid.update(real_features.double(), real=True)
    kid.update(features, real=False)
    torch.manual_seed(0)  # KID draws its subsets from the global generator
    kid_mean, kid_std = kid.compute()
    inception = InceptionScore(feature=_Precomputed(logits.shape[1]), splits=1)
    inception.update(logits)  # softmax of the evaluator's logits: p(y | x)
    score, _ = inception.compute()
    return {
        "fid": float(fid.compute()),
        "kid": float(kid_mean),
        "kid_std": float(kid_std),
        "inception_score": float(score),
    }


def precision_recall(features: torch.Tensor, real_features: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019) of samples against real images.

    Each set's manifold is the union of balls around its points, each ball's radius the distance
    to the point's k-th nearest neighbour in its own set. Precision: the fraction of samples inside
    the real manifold (fidelity); recall: the fraction of real images inside the samples' manifold
    (coverage). Compare sets of equal size: a larger set covers more.

    Args:
        features: (N, F) and real_features: (M, F), N, M > k.
    """
    if len(features) <= k or len(real_features) <= k:
        raise ValueError(f"precision and recall with k = {k} need more than {k} samples and real images, got {len(features)} and {len(real_features)}")
    fake, real = features.double(), real_features.double()

    def radii(points: torch.Tensor) -> torch.Tensor:  # the k-th neighbour's distance (the point itself is 0th)
        return torch.cdist(points, points).kthvalue(k + 1, dim=1).values

    inside = lambda query, points, r: (torch.cdist(query, points) <= r[None, :]).any(1).double().mean().item()  # noqa: E731
    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))
