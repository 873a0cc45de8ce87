"""Two condition networks of different architectures, as a user would write them.

Each factory returns a plain ``nn.Module`` giving logits for 28×28 grey images in [-1, 1].
They are trained by the project's generic recipe and plug in untuned:

    ppgn train condition-net --module ppgn.examples.condition_nets:mlp --out runs/condition-mlp
    ppgn sample --condition-module ppgn.examples.condition_nets:mlp \
        --weights ppgn/weights/fashion-mnist/condition-mlp.safetensors --target 3 --out s.npz
"""

from __future__ import annotations

import torch
from torch import nn


class Scale(nn.Module):
    """Multiplies its input by a constant (no parameters, so state dicts are unchanged)."""

    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


def mlp(num_classes: int = 10) -> nn.Module:
    """A multilayer perceptron on raw pixels: 784 → 128 → 64 → K, tanh units."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 128), nn.Tanh(),
        nn.Linear(128, 64), nn.Tanh(),
        nn.Linear(64, num_classes),
    )  # fmt: skip


def cnn(num_classes: int = 10) -> nn.Module:
    """A convolutional network with strided 4×4 convolutions, SiLU, no pooling and no BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(1, 24, 4, stride=2, padding=1), nn.SiLU(),  # (B, 24, 14, 14)
        nn.Conv2d(24, 48, 4, stride=2, padding=1), nn.SiLU(),  # (B, 48, 7, 7)
        nn.Flatten(),
        nn.Linear(48 * 7 * 7, num_classes),
    )  # fmt: skip


def cnn_cold(num_classes: int = 10) -> nn.Module:
    """``cnn`` with its logits divided by 10: the same classifier, gradients 10× smaller.

    Loads ``cnn``'s weights. Such scale differences between networks (temperature, label
    smoothing, loss) are why a fixed ε2 does not transfer (official code, issue #11).
    """
    return nn.Sequential(*cnn(num_classes), Scale(0.1))


def cnn_hot(num_classes: int = 10) -> nn.Module:
    """``cnn`` with its logits multiplied by 10 (loads ``cnn``'s weights)."""
    return nn.Sequential(*cnn(num_classes), Scale(10.0))
