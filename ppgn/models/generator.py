"""The generator G: code h → image x, a DCGAN-style upsampling network, and its discriminator D.

Both are sized by their config like E/C (see ``classifier``): one stride-2 stage per halving
of the image side, from a 7×7 map at 28 px or a 4×4 map at 32, 64 and 128 px.

Upsampling is a transposed convolution (4×4, stride 2, so the kernel overlaps itself evenly) or,
with ``upsample="resize"``, nearest-neighbour ×2 then a 3×3 convolution, which rules out the
checkerboard artefacts of transposed convolutions (Odena et al., 2016) but costs 2.25× the
multiply-adds: forward and backward to h on CPU it measured 1.6–2.5× slower than the transposed
one in channels-last memory and 2.6–5× in the default layout, so transposed is the default.

Example:
    >>> G = Generator(GeneratorConfig(image_size=32, image_channels=3))
    >>> G.config.channels  # from the 4×4 map to the last hidden stage at 16×16
    (64, 32, 16)
    >>> tuple(G(torch.zeros(2, 256)).shape)
    (2, 3, 32, 32)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .classifier import stage_widths, stages_for

UPSAMPLE = ("transpose", "resize")


def check_upsample(upsample: str) -> None:
    if upsample not in UPSAMPLE:
        raise ValueError(f"upsample {upsample!r} is not supported; valid: {', '.join(UPSAMPLE)}")


def upsampling(c_in: int, c_out: int, upsample: str) -> list[nn.Module]:
    """The layers that double the side of a (B, c_in, s, s) map → (B, c_out, 2s, 2s)."""
    if upsample == "transpose":
        return [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]


@dataclass(frozen=True)
class GeneratorConfig:
    code_dim: int = 256
    channels: tuple[int, ...] = ()  # width per stage, from the smallest map up; () → from width
    image_channels: int = 1  # 1 (grey) or 3 (RGB)
    image_size: int = 28  # 28, 32, 64 or 128: sets the number of stages (SIZES)
    width: float = 1.0  # multiplier of the default widths …, 64, 64, 32, 16 (the shipped 28-px G is width 4)
    upsample: str = "transpose"  # "transpose" (ConvTranspose2d, as shipped) or "resize" (Upsample + Conv2d)

    def __post_init__(self):
        stages = stages_for(self.image_size, self.image_channels)
        check_upsample(self.upsample)
        widths = stage_widths(self, stages, base=16, cap=64)  # full resolution first, unless given
        object.__setattr__(self, "channels", widths if self.channels else widths[::-1])


class Generator(nn.Module):
    """h (B, code_dim) → x (B, C, S, S) in [-1, 1].

    ``project`` maps h to a (B, channels[0], side, side) map; ``upsample`` is a run of stages
    [upsampling, BatchNorm, ReLU] through channels[1:], then [upsampling to C, Tanh].
    """

    def __init__(self, config: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.config = config
        c0, side = config.channels[0], config.image_size >> len(config.channels)
        self.project = nn.Sequential(  # (B, code_dim) → (B, c0, side, side)
            nn.Linear(config.code_dim, c0 * side * side),
            nn.Unflatten(1, (c0, side, side)),
            nn.BatchNorm2d(c0),
            nn.ReLU(),
        )
        layers = []
        for c_in, c_out in zip(config.channels, config.channels[1:]):
            layers += [*upsampling(c_in, c_out, config.upsample), nn.BatchNorm2d(c_out), nn.ReLU()]
        layers += [*upsampling(config.channels[-1], config.image_channels, config.upsample), nn.Tanh()]
        self.upsample = nn.Sequential(*layers)  # → (B, C, S, S)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.upsample(self.project(h))


@dataclass(frozen=True)
class DiscriminatorConfig:
    image_channels: int = 1  # 1 (grey) or 3 (RGB)
    image_size: int = 28  # 28, 32, 64 or 128: sets the number of stages (SIZES)
    channels: tuple[int, ...] = ()  # width per stage, full resolution first; () → from width
    width: float = 1.0  # multiplier of the default widths 32, 64, 64, … (the shipped 28-px D was width 2)

    def __post_init__(self):
        stages = stages_for(self.image_size, self.image_channels)
        object.__setattr__(self, "channels", stage_widths(self, stages, base=32, cap=64))


class Discriminator(nn.Module):
    """x (B, C, S, S) → a real/fake logit (B,). Sees the image only, as in the paper.

    Stages of [Conv 4×4 stride 2, (BatchNorm but on the first), LeakyReLU], then one linear layer.
    """

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        self.config = config
        layers, width = [], config.image_channels
        for i, c in enumerate(config.channels):
            layers += [nn.Conv2d(width, c, 4, stride=2, padding=1), *([nn.BatchNorm2d(c)] if i else []), nn.LeakyReLU(0.2)]
            width = c
        side = config.image_size >> len(config.channels)
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * side * side, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
