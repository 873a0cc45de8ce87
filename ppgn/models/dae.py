"""A denoising autoencoder on the code h: the separate prior of PPGN-h.

Trained to map h + noise back to h, it gives the score of p(h) through
∇h log p(h) ≈ (R(h) − h)/σ² (Alain & Bengio, 2014).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CodeDAEConfig:
    code_dim: int = 256
    hidden: tuple[int, ...] = (512, 512)


class CodeDAE(nn.Module):
    """R: h (B, D) → denoised h (B, D), non-negative like the post-ReLU codes it models."""

    def __init__(self, config: CodeDAEConfig = CodeDAEConfig()):
        super().__init__()
        self.config = config
        layers, width = [], config.code_dim
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.net = nn.Sequential(*layers, nn.Linear(width, config.code_dim), nn.ReLU())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


@dataclass(frozen=True)
class ImageDAEConfig:
    image_channels: int = 1
    channels: tuple[int, int] = (32, 64)


class ImageDAE(nn.Module):
    """R_x: a noisy image (B, C, H, W) in [-1, 1] → the clean image: the prior of PPGN-x."""

    def __init__(self, config: ImageDAEConfig = ImageDAEConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.net = nn.Sequential(
            nn.Conv2d(config.image_channels, c1, 3, stride=2, padding=1), nn.ReLU(),  # H/2
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # H/4
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # H/2
            nn.ConvTranspose2d(c1, config.image_channels, 4, stride=2, padding=1), nn.Tanh(),  # H
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
