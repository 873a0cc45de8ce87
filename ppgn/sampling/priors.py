"""Priors on the code h. The sampler needs only the score, ∇h log p(h).

With a denoising autoencoder R trained at noise level σ, ∇h log p(h) ≈ (R(h) − h)/σ²
(Alain & Bengio, 2014); the 1/σ² is folded into ε1, so the DAE priors return R(h) − h.

    >>> import torch
    >>> from ppgn.sampling import GaussianPrior
    >>> GaussianPrior(mean=1.0, var=2.0).score(torch.tensor([[3.0, 0.0]]))  # −(h − mean)/var
    tensor([[-1.0000,  0.5000]])
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class Prior(Protocol):
    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """≈ ∇h log p(h), shape of h. ``x`` = G(h) if the caller already has it (saves a pass)."""
        ...


class NoPrior:
    """A flat prior (DGN-AM): the score is zero."""

    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return torch.zeros_like(h)


class GaussianPrior:
    """p(h) = N(mean, var·I): score −(h − mean)/var. Exact; used to test the sampler's maths."""

    def __init__(self, mean: torch.Tensor | float = 0.0, var: float = 1.0):
        self.mean, self.var = mean, var

    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return -(h - self.mean) / self.var


class DAEPrior:
    """A separate denoising autoencoder R on h (PPGN-h): score R(h) − h."""

    def __init__(self, dae: nn.Module):
        self.dae = dae

    @torch.no_grad()
    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return self.dae(h) - h


class JointPrior:
    """Joint PPGN-h: the generator and the encoder together are the DAE, R(h) = E(G(h)).

    When the condition runs the same encoder on x = G(h) (a class condition of E/C), the sampler
    hands its code to ``score_from_code`` instead: E runs once per step for both terms.
    """

    def __init__(self, generator: nn.Module, encoder: nn.Module):
        self.generator, self.encoder = generator, encoder

    @torch.no_grad()
    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        x = self.generator(h) if x is None else x.detach()
        return self.score_from_code(h, self.encoder.encode(x)[1])

    def score_from_code(self, h: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """R(h) − h given E's code of G(h) (B, D), computed elsewhere in the step."""
        return code - h


class ImageDAEPrior:
    """PPGN-x: a DAE R_x on images, its score pulled back to h through G:
    ∇h log p(G(h)) ≈ J_G(h)ᵀ (R_x(x) − x), one vector-Jacobian product per step."""

    def __init__(self, generator: nn.Module, dae: nn.Module):
        self.generator, self.dae = generator, dae

    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        with torch.enable_grad():
            h = h.detach().requires_grad_(True)
            x = self.generator(h)
            with torch.no_grad():
                direction = self.dae(x) - x  # ≈ σ²·∇x log p(x)
            (pulled_back,) = torch.autograd.grad(x, h, grad_outputs=direction)
        return pulled_back


class FlowPrior:
    """An exact prior: a normalising flow on codes (``CodeFlow``), score by autograd of log p_σ(h).

    The flow models codes smoothed by noise σ·s per unit; its score is returned times (σ·s)², the
    units of a DAE's R(h) − h at the same noise, so the ε1 of the DAE presets carries over.
    """

    def __init__(self, flow: nn.Module):
        self.flow = flow

    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        with torch.enable_grad():
            h = h.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.flow.log_prob(h).sum(), h)
        return grad * self.flow.unit_noise**2


class NoiseConditionalPrior:
    """The score of p_σ(h) at any noise level σ (a ``CodeScore``), for an annealed chain.

    ``at(σ)`` is the prior at one level; ``unit_scale(σ)`` (D,) is σ·s, each unit's noise std at
    that level: the annealed chain's steps and noise are measured in it (a preconditioned Langevin
    step, so that units of different spread move alike).
    """

    def __init__(self, net: nn.Module, sigma: float | None = None):
        self.net, self.sigma = net, sigma
        self.sigma_max, self.sigma_min = net.config.sigma_max, net.config.sigma_min

    def at(self, sigma: float) -> "NoiseConditionalPrior":
        return NoiseConditionalPrior(self.net, sigma)

    def unit_scale(self, sigma: float) -> torch.Tensor:
        return sigma * self.net.std

    @torch.no_grad()
    def score(self, h: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        return self.net.score(h, self.sigma_min if self.sigma is None else self.sigma)
