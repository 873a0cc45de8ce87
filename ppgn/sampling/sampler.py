"""The MALA-approx sampler of Plug & Play Generative Networks (Nguyen et al., 2017, eq. 11):

    h ← h + ε1·∇h log p(h) + ε2·∇h log p(y | x = G(h)) + N(0, ε3²)

h: the code; x = G(h): the image; y: what is conditioned on. The sampler holds no networks:
``step`` applies one update given the two gradient terms, and ``sample`` runs batches of
independent chains given a generator G, a prior (its score) and a condition (its log p).

As in the official code, the deterministic part of a step may be normalised by its mean
absolute value per chain (so only ε1 : ε2 matters, and ``step_size`` sets how far h moves),
and h may be clipped to the range of the encoder's post-ReLU activations.

Chains are independent, so on a CPU the gradients of groups of chains can be computed on
separate cores, one thread each (``workers``): small convolutions use one core far better than
two. The update itself, and so the noise, stays in one place: the generator is drawn from in
the same order whatever the number of workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from tqdm import tqdm

from .conditions import ConditionLike
from .priors import Prior


@dataclass(frozen=True)
class SamplerConfig:
    eps1: float = 1.0  # weight of the prior term ∇log p(h)
    eps2: float = 1.0  # weight of the condition term ∇log p(y | G(h))
    eps3: float = 0.0  # std of the Gaussian noise added to h each step
    steps: int = 200
    normalize: bool = True  # divide ε1·d_prior + ε2·d_condition by its mean |·| per chain
    step_size: float = 1.0  # with normalize: the mean |Δh| of the deterministic part of a step
    clip: bool = True  # clip h to [h_min, h_max] after each step

    def __post_init__(self):
        for name in ("eps1", "eps2", "eps3", "step_size"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.steps <= 0:
            raise ValueError(f"steps must be > 0, got {self.steps}")


@dataclass
class SampleOutput:
    """What a chain returns.

    Attributes:
        images: (B, C, H, W) in [-1, 1], G of the final codes.
        h: (B, D) final codes.
        prob: (steps, B) exp(log p(y | G(h_t))) at each step t (before the step's update).
        trajectory: (steps + 1, R, D) codes of the first R chains, or None.
    """

    images: torch.Tensor
    h: torch.Tensor
    prob: torch.Tensor
    trajectory: torch.Tensor | None = None


def _as_bound(value: torch.Tensor | float | None, like: torch.Tensor) -> torch.Tensor | None:
    """A clipping bound as a tensor (``clamp`` takes two tensors or two numbers, not a mix)."""
    if value is None or isinstance(value, torch.Tensor):
        return value
    return torch.tensor(value, device=like.device, dtype=like.dtype)


class MALASampler:
    """MALA-approx: the update rule of PPGN, with its options; no networks inside."""

    def __init__(self, config: SamplerConfig = SamplerConfig()):
        self.config = config

    def step(
        self,
        h: torch.Tensor,
        d_prior: torch.Tensor,
        d_condition: torch.Tensor,
        generator: torch.Generator | None = None,
        h_min: torch.Tensor | float | None = 0.0,
        h_max: torch.Tensor | float | None = None,
    ) -> torch.Tensor:
        """One update of h (B, D) given ∇log p(h) and ∇log p(y | G(h)), both (B, D)."""
        c = self.config
        drift = c.eps1 * d_prior + c.eps2 * d_condition
        if c.normalize:
            scale = drift.abs().flatten(1).mean(1).clamp_min(1e-12)  # (B,)
            drift = drift * (c.step_size / scale).view(-1, *[1] * (h.dim() - 1))
        h = h + drift
        if c.eps3 > 0:
            noise = torch.randn(h.shape, generator=generator, device="cpu" if generator is None else generator.device)
            h = h + c.eps3 * noise.to(h.device, h.dtype)
        if c.clip and (h_min is not None or h_max is not None):
            h = h.clamp(min=_as_bound(h_min, h), max=_as_bound(h_max, h))
        return h

    def sample(
        self,
        h0: torch.Tensor,
        G: torch.nn.Module,
        prior: Prior,
        condition: ConditionLike,
        generator: torch.Generator | None = None,
        h_min: torch.Tensor | float | None = 0.0,
        h_max: torch.Tensor | float | None = None,
        record: int = 0,
        progress: bool = False,
        workers: int | None = None,
    ) -> SampleOutput:
        """Run ``config.steps`` updates on a batch of independent chains starting at h0 (B, D).

        Args:
            G: code → image, frozen; gradients flow through it to h only.
            prior: gives ∇log p(h) (``score``).
            condition: gives log p(y | x) per chain (``log_prob``).
            generator: the source of the chain noise (same generator state, same images).
            h_min, h_max: clipping range of h (scalars or (D,) tensors).
            record: keep the trajectory of the first ``record`` chains.
            progress: show a progress bar on stderr.
            workers: groups of chains whose gradients run in parallel, one CPU thread each
                (default: one per intra-op thread on a CPU, at least 16 chains a group; 1 on CUDA).
                Needs a condition with ``select``; otherwise 1.
        """
        h = h0.detach().clone()
        groups = self._groups(h, condition, workers)
        pool = ThreadPoolExecutor(len(groups), initializer=torch.set_num_threads, initargs=(1,)) if len(groups) > 1 else None
        probs, trajectory = [], [h[:record].clone()] if record else []
        try:
            for _ in tqdm(range(self.config.steps), disable=not progress, desc="sampling", leave=False):
                if pool is None:
                    log_p, d_condition, d_prior = self._gradients(h, G, prior, condition)
                else:
                    parts = list(pool.map(lambda g: self._gradients(h[g[0]], G, prior, g[1]), groups))
                    log_p, d_condition, d_prior = (torch.cat(t) for t in zip(*parts))
                h = self.step(h, d_prior, d_condition, generator, h_min, h_max)
                probs.append(log_p.exp())
                if record:
                    trajectory.append(h[:record].clone())
        finally:
            if pool is not None:
                pool.shutdown()
        with torch.no_grad():
            images = G(h)
        return SampleOutput(
            images=images,
            h=h,
            prob=torch.stack(probs),
            trajectory=torch.stack(trajectory) if record else None,
        )

    def _gradients(self, h: torch.Tensor, G: torch.nn.Module, prior: Prior, condition: ConditionLike):
        """log p(y | G(h)), ∇h log p(y | G(h)) and ∇h log p(h) for chains h (B, D)."""
        x, log_p, d_condition = self.condition_gradient(h, G, condition)
        d_prior = prior.score(h, x) if self.config.eps1 > 0 else torch.zeros_like(h)
        return log_p, d_condition, d_prior

    @staticmethod
    def _groups(h: torch.Tensor, condition: ConditionLike, workers: int | None) -> list[tuple[slice, ConditionLike]]:
        """Contiguous groups of chains and the condition restricted to each."""
        if workers is None:
            workers = 1 if h.device.type != "cpu" else max(1, min(torch.get_num_threads(), len(h) // 16))
        if workers <= 1 or not hasattr(condition, "select"):
            return [(slice(None), condition)]
        bounds = torch.linspace(0, len(h), workers + 1).round().long().tolist()
        groups = [(slice(a, b), condition.select(slice(a, b))) for a, b in zip(bounds, bounds[1:]) if b > a]
        return [(slice(None), condition)] if any(c is None for _, c in groups) else groups

    @staticmethod
    def condition_gradient(h: torch.Tensor, G: torch.nn.Module, condition: ConditionLike):
        """x = G(h), log p(y | x) and ∇h log p(y | x); x and log p come back detached."""
        with torch.enable_grad():
            h = h.detach().requires_grad_(True)
            x = G(h)
            log_p = condition.log_prob(x)
            # Chains are independent, so the gradient of the sum is each chain's own gradient.
            (d_condition,) = torch.autograd.grad(log_p.sum(), h)
        return x.detach(), log_p.detach(), d_condition
