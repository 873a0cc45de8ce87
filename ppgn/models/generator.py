"""The generator G: code h → image x, a DCGAN-style deconvolutional network, and its discriminator D."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    code_dim: int = 256
    channels: tuple[int, int] = (128, 64)  # widths at 1/4 and 1/2 resolution
    image_channels: int = 1
    image_size: int = 28


class Generator(nn.Module):
    """h (B, code_dim) → x (B, C, H, W) in [-1, 1]."""

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        side = config.image_size // 4
        self.project = nn.Sequential(  # (B, code_dim) → (B, c1, H/4, W/4)
            nn.Linear(config.code_dim, c1 * side * side),
            nn.Unflatten(1, (c1, side, side)),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
        )
        self.upsample = nn.Sequential(  # → (B, C, H, W)
            nn.ConvTranspose2d(c1, c2, 4, stride=2, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.ConvTranspose2d(c2, config.image_channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(h))


@dataclass(frozen=True)
class DiscriminatorConfig:
    image_channels: int = 1
    image_size: int = 28
    channels: tuple[int, int] = (64, 128)


class Discriminator(nn.Module):
    """x (B, C, H, W) → a real/fake logit (B,). Sees the image only, as in the paper."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        side = config.image_size // 4
        self.net = nn.Sequential(
            nn.Conv2d(config.image_channels, c1, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, stride=2, padding=1),
            nn.BatchNorm2d(c2),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(c2 * side * side, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
