"""A user's own network, named as ``package.module:factory``: imported, built, loaded, checked.

The factory returns an ``nn.Module``; if the module is not trained by its factory, a
``.safetensors`` file holds its state dict. The network then plugs into the sampler as a
condition (``ppgn.sampling.ClassCondition(net, target)`` for logits, or a ``NeuronCondition``)
and can be trained by ``ppgn train condition-net``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .io import WeightsError, load_state


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
