"""The evaluator: an independent classifier used only to measure samples, never while sampling.

Its architecture differs from the condition network's on purpose (5×5 convolutions, three
stages, global average pooling, no fc code layer), so that agreement is not a shared blind spot.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class EvaluatorConfig:
    image_channels: int = 1
    channels: tuple[int, int, int] = (16, 32, 64)
    num_classes: int = 10


class Evaluator(nn.Module):
    """x (B, C, H, W) in [-1, 1] → logits (B, K); ``features`` (B, channels[-1]) for distances."""

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
