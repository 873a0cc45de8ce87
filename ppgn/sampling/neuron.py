"""A hidden unit as a condition: multifaceted feature visualisation (Nguyen et al., 2016; PPGN §3.4).

Units are named as lucent names them, ``"layer:unit"``, where ``layer`` is a module path from
``named_modules()`` (e.g. ``features.4`` or ``fc.0``). The "log-probability" climbed is the
unit's activation: for a convolutional layer, at the spatial centre of the map (as the paper
does) or its spatial mean; for a fully connected layer, the unit itself.

The activation is read with a forward hook installed only for the duration of one forward pass
(``capture``), so the network is left exactly as it was.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from .conditions import Condition

SPATIAL = ("centre", "mean")


def _straight_through(module: nn.Module, inp: tuple, out):
    """A ReLU's output whose gradient is its input's: a unit that is off still shows the chain
    which way turns it on (otherwise a chain that starts with the unit off never moves)."""
    if isinstance(module, nn.ReLU) and isinstance(out, torch.Tensor) and inp and isinstance(inp[0], torch.Tensor):
        return inp[0] + (out - inp[0]).detach()
    return out


@contextmanager
def capture(model: nn.Module, layer: str) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, ``box["out"]`` holds the output of ``model``'s module ``layer`` after each
    forward pass (for a ReLU, with the straight-through gradient of its input)."""
    module = dict(model.named_modules())[layer]
    box: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda m, inp, out: box.__setitem__("out", _straight_through(m, inp, out)))
    try:
        yield box
    finally:
        handle.remove()


@torch.no_grad()
def layer_units(model: nn.Module, image_shape: tuple[int, ...]) -> dict[str, int]:
    """``{module path: number of units}`` for every leaf module whose output is a (B, units, ...) tensor.

    Found by one forward pass on a blank image of ``image_shape`` (C, H, W).
    """
    shapes: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if name and not list(module.children()):
            def hook(_m, _inp, out, name=name):
                if isinstance(out, torch.Tensor) and out.dim() >= 2:
                    shapes[name] = out.shape[1]
            handles.append(module.register_forward_hook(hook))
    try:
        device = next(model.parameters()).device
        model(torch.zeros(1, *image_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def parse_neuron(text: str, units: dict[str, int]) -> tuple[str, int]:
    """``"layer:unit"`` → (layer, unit), checked against ``units`` (from ``layer_units``).

    Raises:
        ValueError: one line naming the valid layers, or the layer's valid unit range.
    """
    layer, sep, unit = text.rpartition(":")
    if not sep or not layer:
        raise ValueError(f"--neuron must look like LAYER:UNIT, got {text!r}; layers: {', '.join(units)}")
    if layer not in units:
        raise ValueError(f"unknown layer {layer!r}; valid: {', '.join(units)}")
    if not unit.strip().isdigit() or not 0 <= int(unit) < units[layer]:
        raise ValueError(f"unit {unit!r} does not exist in {layer}; valid: 0..{units[layer] - 1}")
    return layer, int(unit)


def unit_activation(out: torch.Tensor, unit: int, spatial: str = "centre") -> torch.Tensor:
    """The activation (B,) of channel ``unit`` of a layer output (B, units) or (B, units, H, W)."""
    a = out[:, unit]
    if a.dim() == 1:
        return a
    if spatial == "mean":
        return a.flatten(1).mean(1)
    h, w = a.shape[-2:]
    return a[:, h // 2, w // 2]


class NeuronCondition(Condition):
    """The activation of one hidden unit, to be maximised (DGN-AM / PPGN feature visualisation).

    Args:
        model: any network; ``layer`` is a module path in it, ``unit`` a channel of its output.
        spatial: for convolutional units, "centre" (the paper) or "mean" over positions.
    """

    def __init__(self, model: nn.Module, layer: str, unit: int, spatial: str = "centre"):
        if spatial not in SPATIAL:
            raise ValueError(f"unknown spatial {spatial!r}; valid: {', '.join(SPATIAL)}")
        self.model, self.layer, self.unit, self.spatial = model, layer, unit, spatial

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        with capture(self.model, self.layer) as box:
            self.model(x)
        return unit_activation(box["out"], self.unit, self.spatial)

    def __repr__(self) -> str:
        return f"NeuronCondition({self.layer}:{self.unit}, {self.spatial})"
