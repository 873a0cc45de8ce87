"""The encoder/classifier E/C: a small CNN whose penultimate post-ReLU layer is the code h.

As in the paper, h plays the role of CaffeNet's fc6 and h1 (an intermediate conv feature
map) the role of pool5: E(x) = (h1, h) and C(x) = head(h) gives class logits.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ClassifierConfig:
    image_channels: int = 1
    image_size: int = 28
    channels: tuple[int, int] = (32, 64)  # conv widths at full and half resolution
    code_dim: int = 256  # size of h (the paper's fc6)
    num_classes: int = 10
    dropout: float = 0.3


class Classifier(nn.Module):
    """x (B, C, H, W) in [-1, 1] → logits (B, K); ``encode`` exposes h1 and h."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.features = nn.Sequential(  # (B, 1, 28, 28) → h1 (B, c2, 7, 7)
            nn.Conv2d(config.image_channels, c1, 3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        side = config.image_size // 4
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(c2 * side * side, config.code_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.code_dim, config.num_classes))
        # Per-unit maximum of h over the training set: the sampler clips h to [0, code_max],
        # the range the generator was trained on (the official code clips fc6 the same way).
        self.register_buffer("code_max", torch.full((config.code_dim,), float("inf")))
        # A Gaussian fitted to h over the training set (mean, Cholesky factor of the covariance):
        # chains can start from plausible codes of no particular class.
        self.register_buffer("code_mean", torch.zeros(config.code_dim))
        self.register_buffer("code_scale_tril", torch.eye(config.code_dim))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (h1 (B, c2, H/4, W/4), h (B, code_dim)), h ≥ 0."""
        h1 = self.features(x)
        return h1, self.fc(h1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x)[1])
