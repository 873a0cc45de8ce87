"""Conditions: differentiable log p(y | x), per sample, that the sampler climbs.

Any object with ``log_prob(x) -> (B,)`` is a condition. Subclasses of ``Condition`` also
compose: ``a + 0.5 * b`` is log p(y_a | x) + 0.5·log p(y_b | x), and a negative weight
pushes away from a condition (NOT).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class ConditionLike(Protocol):
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) → (B,), differentiable in x."""
        ...


class Condition:
    """Base class giving conditions ``+``, ``-`` and scalar ``*``."""

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - the protocol
        raise TypeError(f"{type(self).__name__} must define log_prob(x)")

    def select(self, index: slice) -> "Condition | None":
        """The same condition for chains ``index`` only, or None if it cannot be split.

        Optional: a condition that can be split lets the sampler run groups of chains on
        separate CPU cores. One that holds nothing per chain returns itself.
        """
        return None

    def log_prob_and_code(self, x: torch.Tensor, encoder: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """log p(y | x) and, when this condition runs ``encoder`` on x itself, the code h = E(x) it
        computed on the way (detached), else None.

        A prior R(h) = E(G(h)) that shares its encoder with the condition (Joint PPGN-h) then takes
        the code from this pass instead of running E again: one forward of E per step, not two.
        """
        return self.log_prob(x), None

    def __add__(self, other: ConditionLike) -> "SumCondition":
        return SumCondition([(1.0, self), (1.0, other)])

    def __radd__(self, other):
        return self if other == 0 else NotImplemented  # lets sum([...]) work

    def __mul__(self, weight: float) -> "SumCondition":
        return SumCondition([(float(weight), self)])

    __rmul__ = __mul__

    def __neg__(self) -> "SumCondition":
        return self * -1.0

    def __sub__(self, other: ConditionLike) -> "SumCondition":
        return self + (-1.0) * other if isinstance(other, Condition) else SumCondition([(1.0, self), (-1.0, other)])


class SumCondition(Condition):
    """Σ_i w_i log p(y_i | x): independent conditions multiply their likelihoods."""

    def __init__(self, terms: list[tuple[float, ConditionLike]]):
        flat: list[tuple[float, ConditionLike]] = []
        for w, c in terms:
            flat += [(w * w2, c2) for w2, c2 in c.terms] if isinstance(c, SumCondition) else [(w, c)]
        self.terms = flat

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return sum(w * c.log_prob(x) for w, c in self.terms)

    def log_prob_and_code(self, x: torch.Tensor, encoder: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        total, code = 0, None  # summed in the order of log_prob, so the value is the same to the bit
        for w, c in self.terms:
            if code is None and isinstance(c, Condition):
                log_p, code = c.log_prob_and_code(x, encoder)
            else:
                log_p = c.log_prob(x)
            total = total + w * log_p
        return total, code

    def select(self, index: slice) -> "SumCondition | None":
        parts = [getattr(c, "select", lambda _: None)(index) for _, c in self.terms]
        return None if any(p is None for p in parts) else SumCondition([(w, p) for (w, _), p in zip(self.terms, parts)])

    def __repr__(self) -> str:
        return " + ".join(f"{w:g}*{c!r}" for w, c in self.terms)


class ClassCondition(Condition):
    """log p(y = c | x) = log softmax(C(x))_c, for a classifier C returning logits.

    Args:
        classifier: x (B, C, H, W) → logits (B, K).
        target: the class, an int or a (B,) tensor of per-chain classes.
        form: "log-softmax" (the gradient of log p_c), or "official": the official code's
            (1 − p_c)·∇logit_c, which ignores how other logits move; the value is log p_c
            either way.
    """

    FORMS = ("log-softmax", "official")

    def __init__(self, classifier: nn.Module, target: int | torch.Tensor, form: str = "log-softmax"):
        if form not in self.FORMS:
            raise ValueError(f"unknown form {form!r}; valid: {', '.join(self.FORMS)}")
        self.classifier, self.target, self.form = classifier, target, form

    def select(self, index: slice) -> "ClassCondition":
        target = self.target[index] if isinstance(self.target, torch.Tensor) and self.target.dim() else self.target
        return ClassCondition(self.classifier, target, self.form)

    def _target(self, batch: int, device) -> torch.Tensor:
        if isinstance(self.target, torch.Tensor):
            return self.target.to(device)
        return torch.full((batch,), int(self.target), device=device, dtype=torch.long)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self._from_logits(self.classifier(x), x)  # logits (B, K)

    def log_prob_and_code(self, x: torch.Tensor, encoder: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """With ``encoder`` this condition's classifier E/C (C(x) = head(E(x))): its code of x comes too."""
        if encoder is None or encoder is not self.classifier or not hasattr(encoder, "encode") or not hasattr(encoder, "head"):
            return self.log_prob(x), None
        code = encoder.encode(x)[1]  # (B, D)
        return self._from_logits(encoder.head(code), x), code.detach()

    def _from_logits(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        y = self._target(len(x), x.device)
        log_p = logits.log_softmax(1).gather(1, y[:, None]).squeeze(1)
        if self.form == "log-softmax":
            return log_p
        logit_c = logits.gather(1, y[:, None]).squeeze(1)
        surrogate = (1 - log_p.exp()).detach() * logit_c  # gradient (1 − p_c)·∇logit_c
        return surrogate + (log_p - surrogate).detach()  # value log p_c

    def __repr__(self) -> str:
        return f"ClassCondition(target={self.target if not isinstance(self.target, torch.Tensor) else 'per-chain'})"


class GaussianCondition(Condition):
    """log N(y; x, s²·I) summed over pixels: a closed-form condition for testing the sampler."""

    def __init__(self, y: torch.Tensor, var: float = 1.0):
        self.y, self.var = y, var

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -(x - self.y).square().flatten(1).sum(1) / (2 * self.var)
