"""The encoder/classifier E/C: a small CNN whose penultimate post-ReLU layer is the code h.

As in the paper, h plays the role of CaffeNet's fc6 and h1 (the last conv feature map) the
role of pool5: E(x) = (h1, h) and C(x) = head(h) gives class logits.

Every image network of ``ppgn.models`` is one definition sized by its config: the image size
sets the depth (``SIZES``: stride-2 stages down to a 7×7 map at 28 px, 4×4 at 32, 64 and 128 px)
and ``channels`` the width of each stage, by default ``width`` × base widths that double per
stage up to a cap. The helpers for that live here, with the network every other one serves.

Example:
    >>> C = Classifier(ClassifierConfig(image_size=64, image_channels=3))
    >>> C.config.channels  # four stages: 64 → 32 → 16 → 8 → 4
    (32, 64, 64, 64)
    >>> h1, h = C.encode(torch.zeros(2, 3, 64, 64))
    >>> tuple(h1.shape), tuple(h.shape)
    ((2, 64, 4, 4), (2, 256))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

SIZES = {28: 2, 32: 3, 64: 4, 128: 5}  # image side → stride-2 stages (28 → 7×7, the others → 4×4)
IMAGE_CHANNELS = (1, 3)


def stages_for(image_size: int, image_channels: int) -> int:
    """The number of stride-2 stages of a network for ``image_size``-px images.

    Raises:
        ValueError: one line naming the valid sizes, or the valid channel counts.
    """
    if image_size not in SIZES:
        raise ValueError(f"image_size {image_size} is not supported; valid sizes: {', '.join(map(str, SIZES))}")
    if image_channels not in IMAGE_CHANNELS:
        raise ValueError(f"image_channels {image_channels} is not supported; valid: 1 (grey) or 3 (RGB)")
    return SIZES[image_size]


def stage_widths(config, stages: int, base: int, cap: int) -> tuple[int, ...]:
    """``config.channels`` if given (one width per stage), else ``config.width`` × min(base·2^i, cap)
    for stage i = 0, 1, … counted from full resolution.

    Raises:
        ValueError: one line when the number of widths does not match the number of stages.
    """
    if config.width <= 0:
        raise ValueError(f"width must be positive, got {config.width}")
    if not config.channels:
        return tuple(max(1, round(config.width * min(base * 2**i, cap))) for i in range(stages))
    channels = tuple(int(c) for c in config.channels)
    if len(channels) != stages:
        raise ValueError(
            f"channels {list(channels)} has {len(channels)} widths; a {config.image_size}-px "
            f"{type(config).__name__.removesuffix('Config')} has {stages}: give {stages}, or none to take them from width"
        )
    return channels


@dataclass(frozen=True)
class ClassifierConfig:
    image_channels: int = 1  # 1 (grey) or 3 (RGB)
    image_size: int = 28  # 28, 32, 64 or 128: sets the number of stages (SIZES)
    channels: tuple[int, ...] = ()  # conv width per stage, full resolution first; () → from width
    code_dim: int = 256  # size of h (the paper's fc6)
    num_classes: int = 10
    dropout: float = 0.3
    width: float = 1.0  # multiplier of the default widths 32, 64, 64, … (the shipped 28-px E/C is width 1)

    def __post_init__(self):
        stages = stages_for(self.image_size, self.image_channels)
        object.__setattr__(self, "channels", stage_widths(self, stages, base=32, cap=64))


class Classifier(nn.Module):
    """x (B, C, S, S) in [-1, 1] → logits (B, K); ``encode`` exposes h1 and h.

    ``features`` is a run of stages [Conv 3×3, BatchNorm, ReLU, MaxPool 2], so at 28 px
    ``features.6`` is the second stage's ReLU; ``fc.2`` is the ReLU giving h and ``head.1``
    the class logits, at every size.
    """

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        layers, width = [], config.image_channels
        for c in config.channels:  # (B, C, S, S) → h1 (B, channels[-1], side, side)
            layers += [nn.Conv2d(width, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(), nn.MaxPool2d(2)]
            width = c
        self.features = nn.Sequential(*layers)
        side = config.image_size >> len(config.channels)
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(width * side * side, config.code_dim), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.code_dim, config.num_classes))
        # Per-unit maximum of h over the training set: the sampler clips h to [0, code_max],
        # the range the generator was trained on (the official code clips fc6 the same way).
        self.register_buffer("code_max", torch.full((config.code_dim,), float("inf")))
        # A Gaussian fitted to h over the training set (mean, Cholesky factor of the covariance):
        # chains can start from plausible codes of no particular class.
        self.register_buffer("code_mean", torch.zeros(config.code_dim))
        self.register_buffer("code_scale_tril", torch.eye(config.code_dim))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (h1 (B, channels[-1], side, side), h (B, code_dim)), h ≥ 0; side = 7 at 28 px, else 4."""
        h1 = self.features(x)
        return h1, self.fc(h1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(x)[1])
