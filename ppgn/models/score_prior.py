"""A noise-conditional prior on codes: the score of p_σ(h) at every noise level σ, from broad to fine.

The paper's DAE knows the score of p(h) at one noise level. Trained by denoising score matching
over a range of levels (Song & Ermon, 2019; Vincent, 2011), one network gives

    ∇h log p_σ(h) = −ε̂(h, σ) / (σ·s),

where s (D,) is each unit's standard deviation on real codes, σ is in units of s, and ε̂
predicts the noise that was added: h = h_clean + σ·s·ε. An annealed chain starts where p_σ
is broad (large σ: every code is plausible) and ends where it is sharp (small σ).

    >>> import torch
    >>> net = CodeScore(CodeScoreConfig(code_dim=4, hidden=8, depth=1))
    >>> net.score(torch.rand(2, 4), sigma=0.5).shape
    torch.Size([2, 4])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class CodeScoreConfig:
    code_dim: int = 256
    hidden: int = 512
    depth: int = 3  # hidden layers
    sigma_min: float = 0.02  # the finest noise level trained, in units of each unit's std
    sigma_max: float = 3.0  # the broadest: at 3 std every code of the data is within reach of every other
    frequencies: int = 16  # Fourier features of log σ


class CodeScore(nn.Module):
    """ε̂(h, σ): the noise in a noisy code (B, D) at level σ (a number or (B,)), and the score it gives."""

    def __init__(self, config: CodeScoreConfig = CodeScoreConfig()):
        super().__init__()
        self.config = config
        d, k = config.code_dim, config.frequencies
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("std", torch.ones(d))
        self.register_buffer("freqs", torch.linspace(0.5, 8.0, k))
        layers, width = [], d + 2 * k
        for _ in range(config.depth):
            layers += [nn.Linear(width, config.hidden), nn.SiLU()]
            width = config.hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, d))

    @torch.no_grad()
    def fit_statistics(self, h: torch.Tensor) -> None:
        """Per-unit mean and std from real codes (N, D); dead units get a floor of 10% of the mean std."""
        s = h.std(0)
        self.std.copy_(s.clamp_min(0.1 * s.mean()))
        self.mean.copy_(h.mean(0))

    def _sigma(self, sigma: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
        return sigma.expand(len(like)) if sigma.dim() == 0 else sigma

    def forward(self, h: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """ε̂ (B, D) for noisy codes h (B, D) at level σ."""
        sigma = self._sigma(sigma, h)
        u = (h - self.mean) / self.std / (1 + sigma[:, None] ** 2).sqrt()  # unit variance at every level
        angle = sigma.log()[:, None] * self.freqs * math.pi / math.log(self.config.sigma_max / self.config.sigma_min)
        return self.net(torch.cat([u, angle.sin(), angle.cos()], 1))

    def score(self, h: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """∇h log p_σ(h) (B, D) = −ε̂(h, σ)/(σ·s)."""
        sigma = self._sigma(sigma, h)
        return -self(h, sigma) / (sigma[:, None] * self.std)

    def sigmas(self, u: torch.Tensor) -> torch.Tensor:
        """Noise levels log-uniform over the trained range, from uniform draws u ∈ [0, 1) (B,)."""
        c = self.config
        return c.sigma_min * (c.sigma_max / c.sigma_min) ** u

    def loss(self, h: torch.Tensor, sigma: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Denoising score matching on clean codes h (B, D) with noise ε (B, D) at levels σ (B,): mean ‖ε̂ − ε‖²."""
        noisy = h + sigma[:, None] * self.std * eps
        return (self(noisy, sigma) - eps).square().mean()

from .io import register_model  # noqa: E402  (registers CodeScore with load_model)

register_model(CodeScore, CodeScoreConfig)
