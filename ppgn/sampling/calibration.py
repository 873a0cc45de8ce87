"""Gradient calibration: what makes a new condition network work with the presets' ε's, untuned.

Why (the official code's issue #11): with ε2 fixed, the chain's condition step is
ε2·∇h log p(y | G(h)), and its size depends on the network: a network whose gradients are ten
times smaller barely moves h, one ten times larger overshoots. ``calibration_scale`` measures
the mean |∇h log p| of a new condition at the chains' starting codes and returns the factor
that gives it the mean of a reference condition (the shipped classifier's, whose ε's were
tuned), so a new network inherits the tuned ε's.
"""

from __future__ import annotations

import torch
from torch import nn

from .conditions import ConditionLike


def mean_abs_gradient(condition: ConditionLike, G: nn.Module, h: torch.Tensor) -> float:
    """Mean over chains and units of |∇h log p(y | G(h))| at codes h (B, D)."""
    with torch.enable_grad():
        h = h.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(condition.log_prob(G(h)).sum(), h)
    return grad.abs().mean().item()


def calibration_scale(condition: ConditionLike, reference: ConditionLike, G: nn.Module, h: torch.Tensor) -> float:
    """The factor s such that s·condition has the reference's mean |∇h| at codes h.

    Returns 1.0 when the condition's gradient vanishes there (nothing to scale).
    """
    mine = mean_abs_gradient(condition, G, h)
    return mean_abs_gradient(reference, G, h) / mine if mine > 0 else 1.0
