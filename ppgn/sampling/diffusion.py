"""DDIM sampling of a diffusion model (Song et al., 2021), steered by a condition on its denoised estimate.

A network ε(x_t, t) predicts the noise in x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε. From it, the denoised
estimate x̂0 and one DDIM step from t to the earlier s:

    x̂0 = (x_t − √(1 − ᾱ_t)·ε) / √ᾱ_t
    σ  = η·√((1 − ᾱ_s) / (1 − ᾱ_t))·√(1 − ᾱ_t / ᾱ_s)
    x_s = √ᾱ_s·x̂0 + √(1 − ᾱ_s − σ²)·ε + σ·z,   z ~ N(0, I)

η = 0: deterministic DDIM; η = 1: DDPM's ancestral step. Two ways to steer it towards y:

* classifier guidance through a condition (``Condition.log_prob(x)``, the project's interface),
  read on the denoised estimate, as in universal guidance (Bansal et al., 2023) and DPS (Chung
  et al., 2023): ε̃ = ε − w·√(1 − ᾱ_t)·∇x_t log p(y | x̂0(x_t)), the gradient taken through ε.
  Any condition a PPGN climbs (a class, a caption, a neuron, a user's network) steers it.
  With ``recurrence`` k > 1 each step is made k times, renoised back to its level between
  (x_t = √(ᾱ_t/ᾱ_s)·x_s + √(1 − ᾱ_t/ᾱ_s)·z: universal guidance's self-recurrence), which lets
  the guidance act without pushing x off the data;
* classifier-free guidance (Ho & Salimans, 2022) for a network trained with a null label:
  ε̃ = ε(x_t, ∅) + w·(ε(x_t, y) − ε(x_t, ∅)) (``classifier_free``).

The sampler holds no networks: it takes the denoiser as a callable ``eps(x_t, t) -> ε``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from tqdm import tqdm

from ..io import check_choice, check_count, check_number
from .conditions import ConditionLike
from .sampler import ChainDiverged

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t (B, C, H, W), t (B,) long) → ε (B, C, H, W)
SCHEDULES = ("cosine", "linear")
MAX_SCALE = 1e6  # guidance weights beyond this only overflow
# What can go non-finite in a step, in the order it is computed, and what to look at then.
TERMS = (
    ("the denoiser's noise estimate ε(x_t, t)", "the diffusion network's weights hold NaN or inf"),
    ("the guidance term ∇log p(y | x̂0)", "the condition network gives NaN or inf, or the guidance scale is too large"),
    ("the update x_s = √ᾱ_s·x̂0 + √(1 − ᾱ_s − σ²)·ε + σ·z", "the guidance scale is too large: the step overflowed"),
)


@dataclass(frozen=True)
class NoiseSchedule:
    """ᾱ_t for t = 0..T-1: how much of x0 is left in x_t.

    Attributes:
        alphas_cumprod: (T,) float64, falling from near 1 to near 0.
    """

    alphas_cumprod: torch.Tensor

    @classmethod
    def make(cls, kind: str = "cosine", timesteps: int = 1000) -> NoiseSchedule:
        """The "cosine" schedule (Nichol & Dhariwal, 2021, β clipped at 0.999) or DDPM's "linear" β from 1e-4 to 0.02."""
        check_choice(kind, "schedule", SCHEDULES)
        T = check_count(timesteps, "timesteps")
        if kind == "linear":
            betas = torch.linspace(1e-4 * 1000 / T, 0.02 * 1000 / T, T, dtype=torch.float64)
        else:
            s = 0.008
            f = torch.cos((torch.arange(T + 1, dtype=torch.float64) / T + s) / (1 + s) * math.pi / 2) ** 2
            betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        return cls(torch.cumprod(1 - betas, 0))

    @property
    def timesteps(self) -> int:
        return len(self.alphas_cumprod)

    def alpha_bar(self, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        """ᾱ_t shaped to broadcast against ``like`` (B, ...); t = -1 is the clean image (ᾱ = 1)."""
        t = torch.as_tensor(t).long().cpu()
        a = torch.where(t >= 0, self.alphas_cumprod[t.clamp(min=0)], torch.ones((), dtype=torch.float64))
        a = a.to(like.device, like.dtype)
        return a.reshape(-1, *[1] * (like.dim() - 1)) if a.dim() else a

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε, for a batch x0 (B, ...) and timesteps t (B,)."""
        a = self.alpha_bar(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The denoised estimate x̂0 = (x_t − √(1 − ᾱ_t)·ε) / √ᾱ_t."""
        a = self.alpha_bar(t, x_t)
        return (x_t - (1 - a).sqrt() * eps) / a.sqrt()

    def predict_eps(self, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The noise that makes x_t from x0: ε = (x_t − √ᾱ_t·x0) / √(1 − ᾱ_t)."""
        a = self.alpha_bar(t, x_t)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()


@dataclass(frozen=True)
class DDIMConfig:
    steps: int = 50  # network evaluations per sample: ×2 with classifier-free guidance, ≈×3 with classifier guidance, × recurrence
    eta: float = 0.0  # 0: deterministic DDIM; 1: DDPM's ancestral noise
    scale: float = 0.0  # w of classifier guidance: the weight of ∇log p(y | x̂0); 0: off
    clip: bool = True  # clip x̂0 to the pixel range [-1, 1] (ε recomputed from it)
    recurrence: int = 1  # each step made this many times, renoised back to its level between (universal guidance's self-recurrence)

    def __post_init__(self):
        check_count(self.steps, "steps")
        check_number(self.eta, "eta", low=0, high=1)
        check_number(self.scale, "scale", low=0, high=MAX_SCALE)
        check_count(self.recurrence, "recurrence")


@dataclass
class DiffusionOutput:
    """What a DDIM run returns.

    Attributes:
        images: (B, C, H, W), the final x̂0 in [-1, 1] (with ``clip``).
        prob: (steps, B) exp(log p(y | x̂0)) of the guiding condition at each step (empty without one).
        trajectory: (steps + 1, R, C, H, W) the denoised estimates of the first R samples, or None.
    """

    images: torch.Tensor
    prob: torch.Tensor
    trajectory: torch.Tensor | None = None


def classifier_free(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """ε̃ = ε(x_t, ∅) + w·(ε(x_t, y) − ε(x_t, ∅)): w = 1 is the conditional model, w > 1 sharper, 0 unconditional."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


class DDIMSampler:
    """DDIM over ``config.steps`` evenly spaced timesteps of a schedule; no networks inside."""

    def __init__(self, schedule: NoiseSchedule, config: DDIMConfig = DDIMConfig()):
        if config.steps > schedule.timesteps:
            raise ValueError(f"steps {config.steps} exceeds the model's {schedule.timesteps} noise levels")
        self.schedule, self.config = schedule, config

    def timesteps(self) -> list[int]:
        """The timesteps visited, from the noisiest (T − 1) down, evenly spaced."""
        T, n = self.schedule.timesteps, self.config.steps
        return sorted({round(i * (T - 1) / max(n - 1, 1)) for i in range(n)}, reverse=True) if n > 1 else [T - 1]

    def step(self, x_t: torch.Tensor, eps: torch.Tensor, t: int, s: int, generator: torch.Generator | None = None):
        """One DDIM step from timestep t to the earlier s (-1: the end), given ε (B, C, H, W).

        Returns:
            (x_s, x̂0), both (B, C, H, W).
        """
        sched, c = self.schedule, self.config
        x0 = sched.predict_x0(x_t, eps, t)
        if c.clip:
            x0 = x0.clamp(-1, 1)
            eps = sched.predict_eps(x_t, x0, t)
        a_t, a_s = sched.alpha_bar(t, x_t), sched.alpha_bar(s, x_t)
        sigma = c.eta * ((1 - a_s) / (1 - a_t)).sqrt() * (1 - a_t / a_s).sqrt()
        x_s = a_s.sqrt() * x0 + (1 - a_s - sigma**2).clamp(min=0).sqrt() * eps
        if c.eta > 0 and s >= 0:
            noise = torch.randn(x_t.shape, generator=generator, device="cpu" if generator is None else generator.device)
            x_s = x_s + sigma * noise.to(x_t.device, x_t.dtype)
        return x_s, x0

    def guide(self, x_t: torch.Tensor, t: int, denoiser: Denoiser, condition: ConditionLike):
        """ε̃ = ε − w·√(1 − ᾱ_t)·∇x_t log p(y | x̂0(x_t)), the gradient taken through the denoiser.

        Returns:
            (ε̃, ε, log p(y | x̂0) (B,), ∇ (B, C, H, W)), all detached.
        """
        with torch.enable_grad():
            x = x_t.detach().requires_grad_(True)
            eps = denoiser(x, torch.full((len(x),), t, device=x.device, dtype=torch.long))
            log_p = condition.log_prob(self.schedule.predict_x0(x, eps, t))
            if not isinstance(log_p, torch.Tensor) or log_p.shape != (len(x),):
                raise ValueError(f"a condition's log_prob must return one value per sample, shape ({len(x)},), "
                                 f"got {getattr(log_p, 'shape', type(log_p).__name__)} from {type(condition).__name__}")  # fmt: skip
            if not log_p.requires_grad:
                raise ValueError(f"{type(condition).__name__}.log_prob does not depend on the image (its output is "
                                 "detached from the graph: no .detach(), .item(), numpy or torch.no_grad() inside)")
            (grad,) = torch.autograd.grad(log_p.sum(), x)  # samples are independent: each gets its own gradient
        a = self.schedule.alpha_bar(t, x_t)
        eps = eps.detach()
        return eps - self.config.scale * (1 - a).sqrt() * grad, eps, log_p.detach(), grad

    def sample(
        self,
        denoiser: Denoiser,
        x_T: torch.Tensor,
        condition: ConditionLike | None = None,
        generator: torch.Generator | None = None,
        record: int = 0,
        progress: bool = False,
    ) -> DiffusionOutput:
        """Denoise x_T (B, C, H, W), pure noise, in ``config.steps`` DDIM steps.

        Args:
            denoiser: ε(x_t, t); for classifier-free guidance, one that mixes its two branches.
            condition: steers each step through its log p(y | x̂0) with weight ``config.scale``
                (needed when the scale is above 0; without guidance its probability is still recorded).
            generator: the source of the noise for η > 0 (same generator state, same images).
            record: keep the denoised estimates x̂0 of the first ``record`` samples at each step.
            progress: show a progress bar on stderr.
        """
        if self.config.scale > 0 and condition is None:
            raise ValueError(f"classifier guidance (scale {self.config.scale:g}) needs a condition")
        if not bool(x_T.isfinite().all()):
            raise ChainDiverged("the start noise x_T holds NaN or inf")
        x, probs, trajectory = x_T.detach(), [], []
        times = self.timesteps()
        for i, t in enumerate(tqdm(times, disable=not progress, desc="denoising", leave=False)):
            s = times[i + 1] if i + 1 < len(times) else -1
            for r in range(self.config.recurrence if s >= 0 else 1):
                if r:  # self-recurrence: back to level t with fresh noise, and the guided step again
                    x = self.renoise(x, t, s, generator)
                eps, log_p, finite = self._eps(x, t, denoiser, condition)
                x, x0 = self.step(x, eps, t, s, generator)
                self._check(finite + [x.isfinite().all()], i + 1)
            if log_p is not None:
                probs.append(log_p.exp())
            if record:
                trajectory.append(x0[:record].clone())
        return DiffusionOutput(
            images=x,
            prob=torch.stack(probs) if probs else torch.empty(0, len(x)),
            trajectory=torch.stack([x_T[:record].detach(), *trajectory]) if record else None,
        )

    def renoise(self, x_s: torch.Tensor, t: int, s: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """x_t from x_s (s < t) by the forward process: √(ᾱ_t/ᾱ_s)·x_s + √(1 − ᾱ_t/ᾱ_s)·z."""
        ratio = self.schedule.alpha_bar(t, x_s) / self.schedule.alpha_bar(s, x_s)
        noise = torch.randn(x_s.shape, generator=generator, device="cpu" if generator is None else generator.device)
        return ratio.sqrt() * x_s + (1 - ratio).sqrt() * noise.to(x_s.device, x_s.dtype)

    def _eps(self, x: torch.Tensor, t: int, denoiser: Denoiser, condition: ConditionLike | None):
        """The (guided) ε of a step, log p(y | x̂0) (None without a condition), and whether ε and the guidance are finite."""
        if condition is not None and self.config.scale > 0:
            eps, eps_raw, log_p, grad = self.guide(x, t, denoiser, condition)
            return eps, log_p, [eps_raw.isfinite().all(), grad.isfinite().all()]
        with torch.no_grad():
            eps = denoiser(x, torch.full((len(x),), t, device=x.device, dtype=torch.long))
            log_p = condition.log_prob(self.schedule.predict_x0(x, eps, t)) if condition is not None else None
        return eps, log_p, [eps.isfinite().all(), torch.ones((), dtype=torch.bool, device=x.device)]

    def _check(self, finite: list[torch.Tensor], step: int) -> None:
        """Stop with the first term that went non-finite at this step, if any (one wait for the device)."""
        flags = torch.stack(finite).tolist()
        if all(flags):
            return
        term, hint = TERMS[flags.index(False)]
        raise ChainDiverged(f"the diffusion sampler went non-finite at step {step} of {self.config.steps}: {term} is NaN or infinite; {hint}")
