"""A user's own network, named as ``package.module:factory``: imported, built, loaded, checked.

The factory returns an ``nn.Module``; if the module is not trained by its factory, a
``.safetensors`` file holds its state dict. The network then plugs into the sampler as a
condition (``ppgn.sampling.ClassCondition(net, target)`` for logits, or a ``NeuronCondition``)
and can be trained by ``ppgn train condition-net``.
"""

from __future__ import annotations

import functools
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
    try:
        net = factory()
    except Exception as err:  # the user's code failing is reported as theirs, in one line
        raise UserNetworkError(f"{spec}() raised {_first_line(err)}") from None
    if not isinstance(net, nn.Module):
        raise UserNetworkError(f"{spec} returned a {type(net).__name__}, expected a torch.nn.Module")
    return net


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def guard(net: nn.Module, spec: str) -> nn.Module:
    """``net`` with its forward watched: an exception inside it, or an output cut from the graph
    (so that the chain would get no gradient), becomes a ``UserNetworkError`` naming ``spec``.

    The module itself is kept (not wrapped), so its layers keep their names for "layer:unit".
    """
    forward = net.forward

    @functools.wraps(forward)
    def watched(*args, **kwargs):
        try:
            out = forward(*args, **kwargs)
        except UserNetworkError:
            raise
        except Exception as err:
            shapes = ", ".join(str(tuple(a.shape)) for a in args if isinstance(a, torch.Tensor))
            raise UserNetworkError(f"{spec} failed on input {shapes}: {_first_line(err)}") from None
        wants_grad = torch.is_grad_enabled() and any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)
        if wants_grad and isinstance(out, torch.Tensor) and not out.requires_grad:
            raise UserNetworkError(f"{spec} returns an output cut from its input (.detach(), .item(), numpy or no_grad "
                                   "in its forward): the chain needs its gradient")
        return out

    net.forward = watched
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
    return guard(net.to(device).eval().requires_grad_(False), spec)


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
