"""Any user network as a condition, and the gradient calibration that makes it work untuned.

A user names a factory as ``package.module:factory`` (it returns an ``nn.Module``) and, if the
module is not trained by its factory, a ``.safetensors`` file of its state dict. The network
then plugs in as ``ClassCondition(net, target)`` (it returns logits) or a ``NeuronCondition``.

Why calibrate (the official code's issue #11): with ε2 fixed, the chain's condition step is
ε2·∇h log p(y | G(h)), and its size depends on the network: a network whose gradients are ten
times smaller barely moves h, one ten times larger overshoots. ``calibration_scale`` measures
the mean |∇h log p| of a new condition at the chains' starting codes and returns the factor
that gives it the mean of a reference condition (the shipped classifier's, whose ε's were
tuned), so a new network inherits the tuned ε's.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .conditions import ConditionLike


class UserNetworkError(ValueError):
    """A user's module path, factory or weights cannot be used; the message says why."""


def load_factory(spec: str) -> nn.Module:
    """Import ``package.module:factory`` and call it: a module, in eval mode, frozen.

    Raises:
        UserNetworkError: a malformed spec, a module that does not import, a missing factory,
            or a factory that does not return an ``nn.Module``.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise UserNetworkError(f"module path must look like package.module:factory, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # any import-time failure is the user's module not importing
        raise UserNetworkError(f"cannot import {module_name!r}: {type(err).__name__}: {err}") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        names = sorted(n for n in vars(module) if not n.startswith("_") and callable(getattr(module, n)))
        raise UserNetworkError(f"{module_name} has no callable {attr!r}; callables there: {', '.join(names) or 'none'}")
    net = factory()
    if not isinstance(net, nn.Module):
        raise UserNetworkError(f"{spec} returned a {type(net).__name__}, expected a torch.nn.Module")
    return net


def load_user_network(spec: str, weights: str | Path | None = None, device: str | torch.device = "cpu") -> nn.Module:
    """``load_factory(spec)`` with ``weights`` (a safetensors state dict) loaded, frozen, on ``device``."""
    net = load_factory(spec)
    if weights is not None:
        from ..models.io import WeightsError, load_state

        try:
            state = load_state(weights)
        except WeightsError as err:
            raise UserNetworkError(str(err)) from None
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            detail = " ".join(str(err).split()).replace("Error(s) in loading state_dict for ", "")
            raise UserNetworkError(f"{weights}: does not fit {spec}: {detail[:300]}") from None
    return net.to(device).eval().requires_grad_(False)


def check_logits(net: nn.Module, target: int, image_shape: tuple[int, ...], device) -> int:
    """The number of classes ``net`` returns logits for; raises if ``target`` is not one of them."""
    with torch.no_grad():
        try:
            out = net(torch.zeros(1, *image_shape, device=device))
        except Exception as err:  # a shape mismatch inside the user's network
            raise UserNetworkError(f"the network fails on a {tuple(image_shape)} image: {type(err).__name__}: {err}") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise UserNetworkError(f"the network must return logits (B, K), got {getattr(out, 'shape', type(out).__name__)}")
    if not 0 <= target < out.shape[1]:
        raise UserNetworkError(f"--target {target} out of range; valid: 0..{out.shape[1] - 1}")
    return out.shape[1]


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
