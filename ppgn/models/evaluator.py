"""The evaluator: an independent classifier used only to measure samples, never while sampling.

Its architecture differs from the condition network's on purpose (5×5 convolutions, three
stages, global average pooling, no fc code layer), so that agreement is not a shared blind spot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from ..data import from_uint8
from ..io import atomic_write
from .classifier import stage_widths, stages_for


@dataclass(frozen=True)
class EvaluatorConfig:
    image_channels: int = 1  # 1 (grey) or 3 (RGB)
    channels: tuple[int, ...] = ()  # width per conv layer, full resolution first; () → from width
    num_classes: int = 10
    image_size: int = 28  # 28, 32, 64 or 128: one more conv layer than E/C has stages (SIZES)
    width: float = 1.0  # multiplier of the default widths 16, 32, 64, 64, … (the shipped 28-px one is width 1)

    def __post_init__(self):
        layers = stages_for(self.image_size, self.image_channels) + 1
        object.__setattr__(self, "channels", stage_widths(self, layers, base=16, cap=64))


class Evaluator(nn.Module):
    """x (B, C, S, S) in [-1, 1] → logits (B, K); ``features`` (B, channels[-1]) for distances.

    Layers [Conv 5×5, BatchNorm, GELU] with an AvgPool 2 between them, then global average
    pooling: the last layer runs on a 7×7 map at 28 px, 4×4 at the other sizes.
    """

    def __init__(self, config: EvaluatorConfig = EvaluatorConfig()):
        super().__init__()
        self.config = config
        layers, width = [], config.image_channels
        for i, c in enumerate(config.channels):
            layers += [nn.Conv2d(width, c, 5, padding=2), nn.BatchNorm2d(c), nn.GELU()]
            if i < len(config.channels) - 1:
                layers.append(nn.AvgPool2d(2))
            width = c
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@torch.no_grad()
def evaluator_outputs(evaluator: torch.nn.Module, images: np.ndarray, batch: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, H, W, C) → (features (N, F), logits (N, K)) of the evaluator.

    Raises:
        ValueError: no images (N = 0): there is nothing to score.
    """
    if len(images) == 0:
        raise ValueError("no images to score: the evaluator needs at least one")
    device = next(evaluator.parameters()).device
    feats, logits = [], []
    for i in range(0, len(images), batch):
        chunk = np.asarray(images[i : i + batch])
        if chunk.ndim == 3:  # (N, H, W): grey
            chunk = chunk[..., None]
        x = from_uint8(chunk).to(device)
        f = evaluator.features(x)
        feats.append(f.cpu())
        logits.append(evaluator.head(f).cpu())
    return torch.cat(feats).double(), torch.cat(logits).double()


def build_reference(evaluator: torch.nn.Module, dataset, path: str | Path) -> None:
    """Save the evaluator's features (float16) and labels of ``dataset`` to ``path``: ``ppgn eval``
    compares samples with them, offline.

    Args:
        dataset: an ``ImageDataset`` (uint8 ``images``) or a torch dataset with ``arrays()``
            (``open_dataset``'s), whose ``fingerprint`` names it.
    """
    if hasattr(dataset, "arrays"):
        images, labels = dataset.arrays()
        sha256 = dataset.fingerprint.sha256
    else:
        images, labels, sha256 = dataset.images, dataset.labels, dataset.sha256
    features, _ = evaluator_outputs(evaluator, images)
    tensors = {"features": features.half().contiguous(), "labels": torch.from_numpy(np.asarray(labels)).contiguous()}
    metadata = {"dataset": str(dataset.name), "sha256": sha256}
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=metadata))
