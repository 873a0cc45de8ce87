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

Speed (issue 16): with the Joint prior R(h) = E(G(h)) and a class condition of the same E/C, E
runs once per step for both terms (``Condition.log_prob_and_code``); the chains stay on their
device, which is waited for only every ``CHECK_EVERY`` steps (the health check) and by a
callback or progress bar; ``autocast`` (bf16) and ``compile`` (torch.compile of a step's forward
pass) are options of the sampler, not of its maths.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from tqdm import tqdm

from ..io import check_count, check_number
from .conditions import ConditionLike
from .priors import Prior


# What can go non-finite in a step, in the order it is computed, and what to look at then.
TERMS = (
    ("the generator's image G(h)", "G's weights hold NaN or inf"),
    ("the condition term ∇log p(y | G(h))", "the condition network gives NaN or inf, or its weight (ε2, a caption or term weight) is too large"),
    ("the prior term ∇log p(h)", "the prior's network gives NaN or inf (check its weights)"),
    ("the update h + ε1·prior + ε2·condition + ε3·noise", "ε1, ε2 or ε3 is too large: the step overflowed"),
)
MAX_EPS = 1e6  # the largest ε (or step size) taken: h lives in [0, ~10], so more only overflows
CHECK_EVERY = 10  # steps between looks at the chain's health (a look waits for the device)
AUTOCAST_DTYPES = (None, torch.bfloat16, torch.float16)


def _finite(t: torch.Tensor) -> torch.Tensor:
    """Whether every element of t is finite, as a 0-d bool tensor on t's device: one pass over t
    (its min and max, which NaN and ±inf reach), where ``isfinite().all()`` takes four."""
    return torch.stack(torch.aminmax(t)).isfinite().all()


def _forward(h: torch.Tensor, G: torch.nn.Module, condition: ConditionLike, encoder: torch.nn.Module | None):
    """x = G(h), log p(y | x) and, if the condition runs ``encoder`` on x, its code E(x) (else None)."""
    x = G(h)
    if encoder is not None and hasattr(condition, "log_prob_and_code"):
        return x, *condition.log_prob_and_code(x, encoder)
    return x, condition.log_prob(x), None


class ChainDiverged(ValueError):
    """The chain's state went NaN or infinite; the message names the term that did it."""


@dataclass(frozen=True)
class SamplerConfig:
    eps1: float = 1.0  # weight of the prior term ∇log p(h)
    eps2: float = 1.0  # weight of the condition term ∇log p(y | G(h))
    eps3: float = 0.0  # std of the Gaussian noise added to h each step
    steps: int = 200
    normalize: bool = True  # divide ε1·d_prior + ε2·d_condition by its mean |·| per chain
    step_size: float = 1.0  # with normalize: the mean |Δh| of the deterministic part of a step
    clip: bool = True  # clip h to [h_min, h_max] after each step
    # Annealed Langevin (a noise-conditional prior): σ falls geometrically from anneal[0] to anneal[1]
    # over the steps; then ε1 is the step as a fraction of each unit's (σ·s)², ε2 the condition's
    # weight, ε3 the noise as a fraction of Langevin's √(2·step) (see ``update``).
    anneal: tuple[float, float] | None = None

    def __post_init__(self):
        for name in ("eps1", "eps2", "eps3", "step_size"):  # finite and >= 0: NaN would pass a "< 0" test
            check_number(getattr(self, name), name, low=0, high=MAX_EPS)
        check_count(self.steps, "steps")
        if self.anneal is not None:
            high, low = (check_number(s, "anneal", low=0, low_open=True) for s in self.anneal)
            if not high >= low:
                raise ValueError(f"anneal runs from a broad σ to a fine one, got {self.anneal}")

    def sigma(self, t: int) -> float:
        """The noise level of step t (0-based) of an annealed chain: geometric from anneal[0] to anneal[1]."""
        high, low = self.anneal
        return high * (low / high) ** (t / max(1, self.steps - 1))


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
    return torch.full((), value, device=like.device, dtype=like.dtype)  # a fill on the device: no copy from the host


class MALASampler:
    """MALA-approx: the update rule of PPGN, with its options; no networks inside."""

    def __init__(self, config: SamplerConfig = SamplerConfig(), autocast: torch.dtype | None = None, compile: bool = False):
        """Args:
            autocast: run the networks (G, the condition, the prior's encoder) under
                ``torch.autocast`` in this dtype, e.g. torch.bfloat16; h, the gradients and the
                update stay float32. Faster where the device has a bf16 matrix unit (CUDA, CPUs
                with AMX); the images then differ from float32's.
            compile: ``torch.compile`` the forward pass of a step, G(h) → log p(y | x) (and E's code),
                as one graph whose backward is compiled with it; the first steps compile it.
        """
        if autocast not in AUTOCAST_DTYPES:
            raise ValueError(f"autocast {autocast} is not supported; valid: None, {', '.join(map(str, AUTOCAST_DTYPES[1:]))}")
        self.config, self.autocast = config, autocast
        self._forward = torch.compile(_forward) if compile else _forward

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
        return self.clip(self.update(h, d_prior, d_condition, generator), h_min, h_max)

    def update(self, h: torch.Tensor, d_prior: torch.Tensor, d_condition: torch.Tensor, generator: torch.Generator | None = None,
               unit_scale: torch.Tensor | None = None) -> torch.Tensor:
        """h + ε1·∇log p(h) + ε2·∇log p(y | G(h)) (normalised) + ε3·noise, before clipping.

        With ``unit_scale`` (D,), σ·s of an annealed chain's level, the step is preconditioned
        Langevin on p_σ(h)·p(y | G(h))^ε2 with M = ε1·(σ·s)²: h + M(∇log p_σ + ε2·∇log p(y | G(h))) + ε3·√(2M)·noise.
        """
        c = self.config
        if unit_scale is not None:
            m = c.eps1 * unit_scale**2
            h = h + m * (d_prior + c.eps2 * d_condition)
            if c.eps3 > 0:
                h = h + c.eps3 * (2 * m).sqrt() * self._noise(h, generator)
            return h
        drift = c.eps1 * d_prior + c.eps2 * d_condition
        if c.normalize:
            scale = drift.abs().flatten(1).mean(1).clamp_min(1e-12)  # (B,)
            drift = drift * (c.step_size / scale).view(-1, *[1] * (h.dim() - 1))
        h = h + drift
        if c.eps3 > 0:
            h = h + c.eps3 * self._noise(h, generator)
        return h

    @staticmethod
    def _noise(h: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """N(0, I) of h's shape from ``generator`` (a CPU one: the same noise on every device),
        moved to h's device without waiting for it (pinned memory, an asynchronous copy)."""
        noise = torch.randn(h.shape, generator=generator, device="cpu" if generator is None else generator.device)
        if noise.device.type == "cpu" and h.device.type == "cuda":
            return noise.pin_memory().to(h.device, h.dtype, non_blocking=True)
        return noise.to(h.device, h.dtype)

    def clip(self, h: torch.Tensor, h_min: torch.Tensor | float | None = 0.0, h_max: torch.Tensor | float | None = None) -> torch.Tensor:
        """h clipped to [h_min, h_max] (the encoder's range), if the config clips."""
        if self.config.clip and (h_min is not None or h_max is not None):
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
        callback: Callable[[int, torch.Tensor, torch.Tensor], bool | None] | None = None,
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
            callback: called after each step with (steps done, h (B, D), p(y | G(h)) of the step (B,)),
                e.g. to show the chain as it runs; returning True stops the chain there (the output
                then holds the steps run so far).
        """
        h = h0.detach().clone()
        if not bool(h.isfinite().all()):
            raise ChainDiverged("the start codes hold NaN or inf (the init codes, or E of the start image)")
        # The first step at which each term went non-finite (steps + 1: not yet); it stays on the
        # device between looks, so a healthy chain waits for the device once every CHECK_EVERY steps.
        first_bad = torch.full((len(TERMS),), self.config.steps + 1, device=h.device)
        groups = self._groups(h, condition, workers)
        pool = ThreadPoolExecutor(len(groups), initializer=torch.set_num_threads, initargs=(1,)) if len(groups) > 1 else None
        probs, trajectory = [], [h[:record].clone()] if record else []
        try:
            for t in tqdm(range(self.config.steps), disable=not progress, desc="sampling", leave=False):
                prior_t, unit_scale = self._level(prior, t)
                if pool is None:
                    log_p, d_condition, d_prior, x_finite = self.gradients(h, G, prior_t, condition)
                else:
                    parts = list(pool.map(lambda g: self.gradients(h[g[0]], G, prior_t, g[1]), groups))
                    log_p, d_condition, d_prior, x_finite = (torch.cat(t) for t in zip(*parts))
                h = self.update(h, d_prior, d_condition, generator, unit_scale)
                finite = torch.stack([x_finite.all(), _finite(d_condition), _finite(d_prior), _finite(h)])
                first_bad = torch.where(finite, first_bad, first_bad.clamp(max=t + 1))
                if (t + 1) % CHECK_EVERY == 0 or t + 1 == self.config.steps:
                    self._check(first_bad)
                h = self.clip(h, h_min, h_max)
                probs.append(log_p.exp())
                if record:
                    trajectory.append(h[:record].clone())
                if callback is not None and callback(t + 1, h, probs[-1]):
                    self._check(first_bad)
                    break
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

    def _level(self, prior: Prior, t: int) -> tuple[Prior, torch.Tensor | None]:
        """The prior of step t and, in an annealed chain, its units' noise scale σ_t·s (D,)."""
        if self.config.anneal is None:
            return prior, None
        if not hasattr(prior, "at"):
            raise ValueError(f"an annealed chain needs a noise-conditional prior, not {type(prior).__name__}")
        sigma = self.config.sigma(t)
        return prior.at(sigma), prior.unit_scale(sigma)

    def _check(self, first_bad: torch.Tensor) -> None:
        """Stop with the term that went non-finite first, if any did (one look: one wait for the device)."""
        step = int(first_bad.min())
        if step > self.config.steps:
            return
        term, hint = TERMS[int((first_bad == step).nonzero()[0])]  # ties: the term computed first in the step
        raise ChainDiverged(f"the chain went non-finite at step {int(step)} of {self.config.steps}: {term} is NaN or infinite; {hint}")

    def gradients(self, h: torch.Tensor, G: torch.nn.Module, prior: Prior, condition: ConditionLike):
        """log p(y | G(h)), ∇h log p(y | G(h)), ∇h log p(h), and whether G(h) is finite (1,), for chains h (B, D).

        A prior that takes E's code (``score_from_code``, R(h) = E(G(h))) gets it from the condition's
        own pass when the condition runs the same encoder: one forward and backward of E per step.
        """
        uses_code = self.config.eps1 > 0 and hasattr(prior, "score_from_code")
        with torch.autocast(h.device.type, self.autocast or torch.bfloat16, enabled=self.autocast is not None):
            x, log_p, d_condition, code = self._condition_gradient(h, G, condition, getattr(prior, "encoder", None) if uses_code else None,
                                                                   self._forward)
            if self.config.eps1 == 0:
                d_prior = torch.zeros_like(h)
            elif code is not None:
                d_prior = prior.score_from_code(h, code.to(h.dtype))
            else:
                d_prior = prior.score(h, x).to(h.dtype)
        log_p, d_condition = log_p.to(h.dtype), d_condition.to(h.dtype)
        return log_p, d_condition, d_prior, _finite(x).reshape(1)

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
        return MALASampler._condition_gradient(h, G, condition)[:3]

    @staticmethod
    def _condition_gradient(h: torch.Tensor, G: torch.nn.Module, condition: ConditionLike, encoder: torch.nn.Module | None = None,
                            forward=None):
        """``condition_gradient`` and, if the condition ran ``encoder`` on x, its code E(x) (B, D) detached, else None."""
        with torch.enable_grad():
            h = h.detach().requires_grad_(True)
            x, log_p, code = (forward or _forward)(h, G, condition, encoder)
            if not isinstance(log_p, torch.Tensor) or log_p.shape != (len(h),):
                raise ValueError(f"a condition's log_prob must return one value per chain, shape ({len(h)},), "
                                 f"got {getattr(log_p, 'shape', type(log_p).__name__)} from {type(condition).__name__}")
            if not log_p.requires_grad:
                raise ValueError(f"{type(condition).__name__}.log_prob does not depend on the image (its output is "
                                 "detached from the graph: no .detach(), .item(), numpy or torch.no_grad() inside)")
            # Chains are independent, so the gradient of the sum is each chain's own gradient.
            (d_condition,) = torch.autograd.grad(log_p.sum(), h)
        return x.detach(), log_p.detach(), d_condition, code
