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
