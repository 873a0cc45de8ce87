"""MS-SSIM within class: how alike two samples of the same class look, pixel for pixel.

The diversity measure of conditional GAN papers (Odena et al., 2017): the mean multi-scale
structural similarity of random pairs of images asked for the same class. 1.0 means every
pair is identical (collapse); real data sets the level to compare with. Computed by
torchmetrics. Its defaults (an 11-pixel window, 5 scales) need images of at least 161 pixels
a side, so for 28×28 images the window is 7 pixels (σ = 1.0) and the first 3 scales
(28, 14, 7) are kept, with their weights renormalised to sum to one.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

SCALE_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. (2003), finest first


def ms_ssim_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each pair (a[i], b[i]); a, b: (N, C, H, W) in [0, 1] → (N,).

    As many scales as the image allows (at most 5), each halving the side, while the
    smallest still holds the 7-pixel window.
    """
    side = min(a.shape[-2:])
    scales = 1
    while scales < len(SCALE_WEIGHTS) and side // 2**scales > 6:
        scales += 1
    weights = torch.tensor(SCALE_WEIGHTS[:scales])
    betas = tuple((weights / weights.sum()).tolist())
    return multiscale_structural_similarity_index_measure(
        a.float(), b.float(), data_range=1.0, kernel_size=7, sigma=1.0, betas=betas,
        reduction="none", normalize="relu",  # relu: a negative SSIM at one scale counts as 0, not NaN
    )


def ms_ssim_within_class(images: np.ndarray, labels: np.ndarray, pairs: int = 200, seed: int = 0) -> float:
    """Mean MS-SSIM over random pairs of distinct images of the same label (lower = more diverse).

    Args:
        images: uint8 (N, H, W, C); labels: (N,); pairs: pairs drawn per class.
    Returns:
        The mean over classes of each class's mean pair similarity (NaN if no class has two images).
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)

    def x(idx: np.ndarray) -> torch.Tensor:  # only the images of the pairs are read (images may be memory-mapped)
        return torch.from_numpy(np.asarray(images[idx])).permute(0, 3, 1, 2).float() / 255.0

    per_class = []
    for k in np.unique(labels):
        members = np.flatnonzero(labels == k)
        if len(members) < 2:
            continue
        i = rng.choice(members, pairs)
        j = rng.choice(members, pairs)
        j = np.where(i == j, members[(np.searchsorted(members, j) + 1) % len(members)], j)  # never a self-pair
        per_class.append(ms_ssim_pairs(x(i), x(j)).mean().item())
    return float(np.mean(per_class)) if per_class else float("nan")
