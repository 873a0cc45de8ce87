"""The generator G: code h → image x, a DCGAN-style upsampling network, and its discriminator D.

Both are sized by their config like E/C (see ``classifier``): one stride-2 stage per halving
of the image side, from a 7×7 map at 28 px or a 4×4 map at 32, 64 and 128 px.

Upsampling (``upsample``) is one of three layers that double the side of a map:

* "transpose": a transposed convolution (4×4, stride 2, so the kernel overlaps itself evenly),
  as the shipped generators were trained;
* "subpixel": a 3×3 convolution at the small side to 4× the channels, then PixelShuffle(2)
  (Shi et al., 2016);
* "resize": nearest-neighbour ×2 then a 3×3 convolution, which rules out the checkerboard
  artefacts of transposed convolutions (Odena et al., 2016).

Sub-pixel and resize convolutions cost 2.25× the multiply-adds of the transposed one and run on
oneDNN's convolutions, where PyTorch's CPU transposed convolution takes its own path. A
transposed G can also run as its exact sub-pixel equivalent (``with_subpixel_upsampling``,
``ppgn sample --subpixel``): the same function and weights. On this project's 2-core AVX-512
CPU, forward and backward to h at the shipped 28-px size and batch 64, the transposed G was the
fastest (sub-pixel 0.53–0.60×, resize 0.34–0.49× its speed; README, speed section), so
transposed stays the default; another machine may rank them otherwise.

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

UPSAMPLE = ("transpose", "subpixel", "resize")


def check_upsample(upsample: str) -> None:
    if upsample not in UPSAMPLE:
        raise ValueError(f"upsample {upsample!r} is not supported; valid: {', '.join(UPSAMPLE)}")


def upsampling(c_in: int, c_out: int, upsample: str) -> list[nn.Module]:
    """The layers that double the side of a (B, c_in, s, s) map → (B, c_out, 2s, 2s)."""
    if upsample == "transpose":
        return [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)]
    if upsample == "subpixel":  # Shi et al., 2016: a 3×3 convolution at the small side to 4·c_out, then a 2×2 shuffle
        return [nn.Conv2d(c_in, 4 * c_out, 3, padding=1), nn.PixelShuffle(2)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1)]


def subpixel_equivalent(conv: nn.ConvTranspose2d) -> list[nn.Module]:
    """The same function as a 4×4, stride-2, padding-1 transposed convolution, as a 3×3 convolution
    to 4·c_out channels and a PixelShuffle(2): oneDNN's convolution instead of PyTorch's transposed
    path, at 2.25× the multiply-adds (20 of each 36 taps are zero). Whether that is faster depends
    on the machine: on this project's AVX-512 CPU, at the shipped sizes, it was not (README, speed).

    Output pixel (2m + a, 2l + b) of the transposed convolution sums inputs m + dy, l + dx with
    kernel tap (a + 1 − 2·dy, b + 1 − 2·dx) for dy, dx ∈ {−1, 0, 1} (taps outside 0..3 are zero);
    that is output channel 4·o + 2a + b of the 3×3 convolution, which PixelShuffle puts at (a, b).
    Equal up to float rounding (the sums run in another order), so images differ in the last bits.
    """
    if conv.kernel_size != (4, 4) or conv.stride != (2, 2) or conv.padding != (1, 1) or conv.groups != 1 or conv.dilation != (1, 1):
        raise ValueError(f"only a 4×4, stride-2, padding-1 transposed convolution has this equivalent, not {conv}")
    w = conv.weight  # (c_in, c_out, 4, 4)
    c_in, c_out = w.shape[:2]
    k = w.new_zeros(c_out, 2, 2, c_in, 3, 3)  # (o, a, b, c, dy + 1, dx + 1)
    for a in (0, 1):
        for b in (0, 1):
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ky, kx = a + 1 - 2 * dy, b + 1 - 2 * dx
                    if 0 <= ky < 4 and 0 <= kx < 4:
                        k[:, a, b, :, dy + 1, dx + 1] = w[:, :, ky, kx].T
    out = nn.Conv2d(c_in, 4 * c_out, 3, padding=1).to(w.device, w.dtype)
    out.weight.data = k.reshape(4 * c_out, c_in, 3, 3)
    bias = conv.bias if conv.bias is not None else w.new_zeros(c_out)
    out.bias.data = bias.repeat_interleave(4)
    return [out.requires_grad_(conv.weight.requires_grad), nn.PixelShuffle(2)]


def with_subpixel_upsampling(G: "Generator") -> "Generator":
    """A copy of G whose 4×4 transposed convolutions run as their sub-pixel equivalents
    (``subpixel_equivalent``): the same function on oneDNN convolutions; the config keeps saying
    "transpose", since the weights it was trained with are those."""
    import copy

    G = copy.deepcopy(G)
    layers = [m for layer in G.upsample for m in (subpixel_equivalent(layer) if isinstance(layer, nn.ConvTranspose2d) else [layer])]
    G.upsample = nn.Sequential(*layers)
    return G


@dataclass(frozen=True)
class GeneratorConfig:
    code_dim: int = 256
    channels: tuple[int, ...] = ()  # width per stage, from the smallest map up; () → from width
    image_channels: int = 1  # 1 (grey) or 3 (RGB)
    image_size: int = 28  # 28, 32, 64 or 128: sets the number of stages (SIZES)
    width: float = 1.0  # multiplier of the default widths …, 64, 64, 32, 16 (the shipped 28-px G is width 4)
    upsample: str = "transpose"  # "transpose" (ConvTranspose2d, as shipped), "subpixel" (Conv2d + PixelShuffle) or "resize" (Upsample + Conv2d)

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
