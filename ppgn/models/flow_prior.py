"""A normalising flow on encoder codes h = E(x): an exact log p(h), hence an exact score for PPGN.

The codes are post-ReLU (most entries exactly 0, some units dead), which has no density; the flow
models the codes smoothed by Gaussian noise of σ per-unit standard deviations, p_σ = p ∗ N(0, σ²s²),
the same smoothing a DAE prior learns (a DAE's R(h) − h ≈ σ²s²·∇ log p_σ(h), Alain & Bengio 2014).
Inside, h is standardised by the fixed buffers ``mean`` and ``std`` and passed through an
unconditional ``CINN`` (permutations + GLOW couplings with fully connected sub-networks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .cinn import CINN, CINNConfig


@dataclass(frozen=True)
class CodeFlowConfig:
    dims: int = 256
    blocks: int = 6
    hidden: int = 96
    clamp: float = 1.0
    noise: float = 0.5  # σ, in per-unit standard deviations of h (the DAE prior's noise level)
    seed: int = 0


class CodeFlow(nn.Module):
    """log p_σ(h) for codes h (B, D); ``unit_noise`` (D,) is the absolute noise std σ·s of each unit."""

    def __init__(self, config: CodeFlowConfig = CodeFlowConfig()):
        super().__init__()
        self.config = config
        self.inn = CINN(CINNConfig(x_shape=(config.dims,), condition="none", blocks=config.blocks,
                                   hidden=config.hidden, clamp=config.clamp, seed=config.seed, logit_alpha=0.0))
        self.register_buffer("mean", torch.zeros(config.dims))
        self.register_buffer("std", torch.ones(config.dims))  # of the smoothed codes
        self.register_buffer("unit_noise", torch.ones(config.dims))  # σ·s per unit

    @torch.no_grad()
    def fit_statistics(self, h: torch.Tensor) -> None:
        """Set the per-unit noise and standardisation from real codes (N, D); dead units get a floor."""
        s = h.std(0)
        s = s.clamp_min(0.1 * s.mean())
        self.unit_noise.copy_(self.config.noise * s)
        self.mean.copy_(h.mean(0))
        self.std.copy_((h.var(0) + self.unit_noise**2).sqrt())

    def smooth(self, h: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """h + σ·s·ε, ε drawn on the CPU: a sample of the smoothed code distribution."""
        return h + self.unit_noise * torch.randn(h.shape, generator=generator).to(h.device)

    def log_prob(self, h: torch.Tensor) -> torch.Tensor:
        """log p_σ(h), (B,) nats: the flow's density of the standardised code, times 1/∏std."""
        return self.inn.log_prob((h - self.mean) / self.std) - self.std.log().sum()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.log_prob(h)
