"""Denoising autoencoders: on the code h (the separate prior of PPGN-h) and on images (PPGN-x).

Trained to map h + noise back to h, R gives the score of p(h) through
∇h log p(h) ≈ (R(h) − h)/σ² (Alain & Bengio, 2014); R_x does the same for x. The DAE on h
does not depend on the image size; the one on images is sized like E/C (see ``classifier``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .classifier import stage_widths, stages_for
from .generator import check_upsample, upsampling


@dataclass(frozen=True)
class CodeDAEConfig:
    code_dim: int = 256
    hidden: tuple[int, ...] = (512, 512)


class CodeDAE(nn.Module):
    """R: h (B, D) → denoised h (B, D), non-negative like the post-ReLU codes it models."""

    def __init__(self, config: CodeDAEConfig = CodeDAEConfig()):
        super().__init__()
        self.config = config
        layers, width = [], config.code_dim
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        self.net = nn.Sequential(*layers, nn.Linear(width, config.code_dim), nn.ReLU())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


@dataclass(frozen=True)
class ImageDAEConfig:
    image_channels: int = 1  # 1 (grey) or 3 (RGB)
    channels: tuple[int, ...] = ()  # width per stage, full resolution first; () → from width
    image_size: int = 28  # 28, 32, 64 or 128: sets the number of stages (SIZES)
    width: float = 1.0  # multiplier of the default widths 32, 64, 64, … (the shipped 28-px DAE is width 1)
    upsample: str = "transpose"  # "transpose" (ConvTranspose2d, as shipped), "subpixel" (Conv2d + PixelShuffle) or "resize" (Upsample + Conv2d)

    def __post_init__(self):
        stages = stages_for(self.image_size, self.image_channels)
        check_upsample(self.upsample)
        object.__setattr__(self, "channels", stage_widths(self, stages, base=32, cap=64))


class ImageDAE(nn.Module):
    """R_x: a noisy image (B, C, S, S) in [-1, 1] → the clean image: the prior of PPGN-x.

    Stages of [Conv 3×3 stride 2, ReLU] down through ``channels``, then [upsampling, ReLU]
    back up, the last to C channels with Tanh. Fully convolutional: a 28-px DAE also runs on
    larger images, but sees less context.
    """

    def __init__(self, config: ImageDAEConfig = ImageDAEConfig()):
        super().__init__()
        self.config = config
        widths = (config.image_channels, *config.channels)
        down = list(zip(widths, widths[1:]))
        layers = []
        for c_in, c_out in down:  # (B, C, S, S) → (B, channels[-1], side, side)
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.ReLU()]
        for i, (c_out, c_in) in enumerate(reversed(down)):  # → (B, C, S, S)
            last = i == len(down) - 1
            layers += [*upsampling(c_in, c_out, config.upsample), nn.Tanh() if last else nn.ReLU()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
