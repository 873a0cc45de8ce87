"""The exact Metropolis-adjusted Langevin algorithm (MALA; Roberts & Tweedie, 1996) on h.

PPGN's update (``MALASampler``) is MALA without the accept/reject test, so its chains sample the
target only approximately. With a prior that has a log density (the flow prior), the test can be
made, and the chain then leaves

    π(h) ∝ p(h) · p(y | G(h))^λ

exactly invariant. A step proposes, with a diagonal mass M = τ·s² (s: each unit's spread),

    h' = h + M·∇log π(h) + √(2M)·z,   z ~ N(0, I),

and keeps h' with probability min(1, π(h')·q(h | h') / (π(h)·q(h' | h))), q(a | b) = N(a; b + M·∇log π(b), 2M).
The gradient at h' serves the next step when h' is kept, so a step costs one pass of G and the
condition, as PPGN's does. During the first ``adapt`` steps each chain tunes its own τ towards
the acceptance rate ``target`` (0.574, optimal for MALA in high dimension; Roberts & Rosenthal,
1998); from then on τ is fixed and the chain is an exact MCMC kernel. The acceptance rate is
reported over those later steps.

    >>> import torch
    >>> from ppgn.sampling import GaussianCondition
    >>> from ppgn.sampling.metropolis import MetropolisMALA, MHConfig
    >>> sampler = MetropolisMALA(MHConfig(steps=50, step=0.5))
    >>> out = sampler.sample(torch.zeros(4, 2), torch.nn.Identity(), lambda h: -h.square().sum(1) / 2,
    ...                      GaussianCondition(torch.ones(2)), generator=torch.Generator().manual_seed(0))
    >>> out.h.shape, bool(((out.acceptance >= 0) & (out.acceptance <= 1)).all())
    (torch.Size([4, 2]), True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from ..io import check_count, check_number
from .conditions import ConditionLike
from .sampler import MAX_EPS, ChainDiverged, SampleOutput

LogDensity = Callable[[torch.Tensor], torch.Tensor]  # h (B, D) → log p(h) (B,), differentiable


@dataclass(frozen=True)
class MHConfig:
    step: float = 0.05  # τ: the proposal's mass as a fraction of each unit's spread², M = τ·s² (the start value when adapting)
    weight: float = 1.0  # λ in π(h) ∝ p(h)·p(y | G(h))^λ
    steps: int = 200
    adapt: int = 0  # first steps in which each chain tunes τ towards ``target`` acceptance; 0: τ fixed throughout
    target: float = 0.574

    def __post_init__(self):
        check_number(self.step, "step", low=0, high=MAX_EPS, low_open=True)
        check_number(self.weight, "weight", low=0, high=MAX_EPS)
        check_count(self.steps, "steps")
        check_count(self.adapt, "adapt", low=0)
        if self.adapt >= self.steps:
            raise ValueError(f"adapt ({self.adapt}) must leave steps to sample with a fixed step size (steps {self.steps})")
        check_number(self.target, "target", low=0, high=1, low_open=True, high_open=True)


@dataclass
class MHOutput(SampleOutput):
    """``SampleOutput`` and, per chain, the fraction of proposals kept after adaptation (B,) and the final τ (B,)."""

    acceptance: torch.Tensor | None = None
    step: torch.Tensor | None = None


class MetropolisMALA:
    """Exact MALA on π(h) ∝ p(h)·p(y | G(h))^λ; no networks inside."""

    def __init__(self, config: MHConfig = MHConfig()):
        self.config = config

    def log_target(self, h: torch.Tensor, G: torch.nn.Module, log_prior: LogDensity, condition: ConditionLike):
        """log π(h) (B,), ∇h log π(h) (B, D), x = G(h) and log p(y | x) (B,), all detached."""
        with torch.enable_grad():
            h = h.detach().requires_grad_(True)
            x = G(h)
            log_p = condition.log_prob(x)
            if not isinstance(log_p, torch.Tensor) or log_p.shape != (len(h),) or not log_p.requires_grad:
                raise ValueError(f"a condition's log_prob must return one differentiable value per chain, shape ({len(h)},), "
                                 f"from {type(condition).__name__}")  # fmt: skip
            log_pi = log_prior(h) + self.config.weight * log_p
            (grad,) = torch.autograd.grad(log_pi.sum(), h)  # chains are independent
        return log_pi.detach(), grad, x.detach(), log_p.detach()

    def sample(
        self,
        h0: torch.Tensor,
        G: torch.nn.Module,
        log_prior: LogDensity,
        condition: ConditionLike,
        scale: torch.Tensor | float = 1.0,
        generator: torch.Generator | None = None,
        record: int = 0,
        progress: bool = False,
        callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None,
    ) -> MHOutput:
        """Run ``config.steps`` Metropolis-adjusted steps on independent chains starting at h0 (B, D).

        Args:
            log_prior: log p(h) (B,), differentiable in h (an exact density, e.g. ``CodeFlow.log_prob``).
            scale: each unit's spread s, (D,) or a number: the proposal's mass is τ·s².
            generator: the source of the proposals' noise and of the accept draws (same state, same chains).
            record, progress, callback: as in ``MALASampler.sample``.
        """
        c = self.config
        h = h0.detach().clone()
        if not bool(h.isfinite().all()):
            raise ChainDiverged("the start codes hold NaN or inf")
        s2 = torch.as_tensor(scale, dtype=h.dtype, device=h.device).square()
        log_tau = torch.full((len(h), 1), math.log(c.step), dtype=h.dtype, device=h.device)
        log_pi, grad, x, log_p = self.log_target(h, G, log_prior, condition)
        if not bool(log_pi.isfinite().all()):
            raise ChainDiverged("log π is NaN or infinite at the start codes: the prior's density or the condition overflows there")
        kept = torch.zeros(len(h), dtype=h.dtype, device=h.device)
        probs, trajectory = [], [h[:record].clone()] if record else []
        for t in tqdm(range(c.steps), disable=not progress, desc="sampling (MH)", leave=False):
            probs.append(log_p.exp())
            m = log_tau.exp() * s2  # (B, D)
            z = torch.randn(h.shape, generator=generator, device="cpu" if generator is None else generator.device).to(h.device, h.dtype)
            u = torch.rand(len(h), generator=generator, device="cpu" if generator is None else generator.device).to(h.device, h.dtype)
            proposal = h + m * grad + (2 * m).sqrt() * z
            log_pi_new, grad_new, x_new, log_p_new = self.log_target(proposal, G, log_prior, condition)
            forward = -((proposal - h - m * grad).square() / (4 * m)).sum(1)  # log q(h' | h) + const
            backward = -((h - proposal - m * grad_new).square() / (4 * m)).sum(1)  # log q(h | h') + const
            log_alpha = log_pi_new - log_pi + backward - forward
            accept = u.log() < log_alpha  # a NaN α (a proposal off the density) is rejected
            keep = accept[:, None]
            h, grad, x = torch.where(keep, proposal, h), torch.where(keep, grad_new, grad), torch.where(accept.view(-1, *[1] * (x.dim() - 1)), x_new, x)
            log_pi, log_p = torch.where(accept, log_pi_new, log_pi), torch.where(accept, log_p_new, log_p)
            if t < c.adapt:  # Robbins–Monro on log τ towards the target acceptance, per chain
                alpha = log_alpha.nan_to_num(-math.inf).clamp(max=0).exp()
                log_tau = log_tau + (alpha - c.target)[:, None] / math.sqrt(t + 1)
            else:
                kept += accept.to(h.dtype)
            if record:
                trajectory.append(h[:record].clone())
            if callback is not None and callback(t + 1, h, probs[-1]):
                break
        if not bool(h.isfinite().all()):
            raise ChainDiverged("the chain went non-finite: the prior's density or the condition overflows; lower the step")
        sampled = max(1, len(probs) - c.adapt)
        return MHOutput(
            images=x,
            h=h,
            prob=torch.stack(probs),
            trajectory=torch.stack(trajectory) if record else None,
            acceptance=kept / sampled,
            step=log_tau.exp().squeeze(1),
        )
