"""A small UNet that predicts the noise ε of a diffusion model (Ho et al., 2020), with an optional class label.

    x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε,   ε̂ = UNet(x_t, t, y)

The label y indexes ``num_classes`` embeddings plus one more, the null label (index
``num_classes``): trained with labels dropped to it now and then, one network gives both the
unconditional ε(x_t, t) and the conditional ε(x_t, t, y) that classifier-free guidance mixes
(Ho & Salimans, 2022). ``num_classes=None`` makes an unconditional network.

The network holds no schedule or sampling logic (``ppgn.sampling.diffusion`` does); its config
records the schedule it was trained with (``schedule``, ``timesteps``) so that a checkpoint says
how to sample from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..io import check_choice, check_number
from .io import register_model

SCHEDULES = ("cosine", "linear")


@dataclass(frozen=True)
class UNetConfig:
    image_size: int = 28  # divisible by 2 ** (len(multipliers) - 1)
    image_channels: int = 1
    patch: int = 1  # pixels folded into channels first (2: a 28×28 image is 14×14×4C): ≈patch² less compute
    channels: int = 32  # base width; level i has channels · multipliers[i]
    multipliers: tuple[int, ...] = (1, 2, 2)  # one level per entry, each after the first at half the resolution
    blocks: int = 1  # residual blocks per level on the way down (one more on the way up)
    time_dim: int = 128  # width of the timestep (and label) embedding
    num_classes: int | None = 10  # labels 0..K-1 and the null label K; None: unconditional
    dropout: float = 0.1
    attention: bool = True  # self-attention in the middle, at the coarsest resolution
    schedule: str = "cosine"  # the noise schedule it was trained with ("cosine" or "linear")
    timesteps: int = 1000  # T, the number of noise levels it was trained on

    def __post_init__(self):
        for name in ("image_size", "image_channels", "patch", "channels", "blocks", "time_dim", "timesteps"):
            check_number(getattr(self, name), name, low=1, integer=True)
        for m in self.multipliers:
            check_number(m, "multipliers", low=1, integer=True)
        if self.num_classes is not None:
            check_number(self.num_classes, "num_classes", low=1, integer=True)
        check_number(self.dropout, "dropout", low=0, high=1, high_open=True)
        check_choice(self.schedule, "schedule", SCHEDULES)
        if not self.multipliers or self.image_size % (self.patch * 2 ** (len(self.multipliers) - 1)):
            raise ValueError(f"image_size {self.image_size} must be divisible by patch {self.patch} × 2 ** {len(self.multipliers) - 1} "
                             f"(one halving per level after the first of multipliers {self.multipliers})")  # fmt: skip

    @property
    def null_label(self) -> int | None:
        """The label that means "no label" (classifier-free guidance's unconditional branch)."""
        return self.num_classes


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of timesteps t (B,) → (B, dim), as in the Transformer's positions."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None]
    emb = torch.cat([angles.cos(), angles.sin()], dim=1)
    return F.pad(emb, (0, dim % 2))


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 8 groups (as many as divide the channels)."""
    return nn.GroupNorm(math.gcd(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3×3 convolutions with the embedding added between them, and a skip connection."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float):
        super().__init__()
        self.in_layers = nn.Sequential(norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, c_out))
        self.out_layers = nn.Sequential(norm(c_out), nn.SiLU(), nn.Dropout(dropout), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x) + self.emb(emb)[:, :, None, None]
        return self.skip(x) + self.out_layers(h)


class Attention(nn.Module):
    """Single-head self-attention over the pixels of a (coarse) feature map, with a skip connection."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)  # each (B, HW, C)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, HW, C)
        return x + self.proj(out.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module):
    """ε̂ = UNet(x_t, t, y): x_t (B, C, H, W), t (B,) timesteps in 0..T-1, y (B,) labels (null label: none)."""

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        self.config = c = config
        widths = [c.channels * m for m in c.multipliers]
        self.time_mlp = nn.Sequential(nn.Linear(c.time_dim, c.time_dim), nn.SiLU(), nn.Linear(c.time_dim, c.time_dim))
        self.label_emb = nn.Embedding(c.num_classes + 1, c.time_dim) if c.num_classes is not None else None
        folded = c.image_channels * c.patch**2
        self.stem = nn.Sequential(nn.PixelUnshuffle(c.patch), nn.Conv2d(folded, c.channels, 3, padding=1))
        self.down, skips, width = nn.ModuleList(), [c.channels], c.channels
        for level, w in enumerate(widths):
            for _ in range(c.blocks):
                self.down.append(ResBlock(width, w, c.time_dim, c.dropout))
                width = w
                skips.append(width)
            if level < len(widths) - 1:
                self.down.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
                skips.append(width)
        self.mid = nn.ModuleList([ResBlock(width, width, c.time_dim, c.dropout), ResBlock(width, width, c.time_dim, c.dropout)])
        self.mid_attention = Attention(width) if c.attention else nn.Identity()
        self.up = nn.ModuleList()
        for level, w in reversed(list(enumerate(widths))):
            for _ in range(c.blocks + 1):
                self.up.append(ResBlock(width + skips.pop(), w, c.time_dim, c.dropout))
                width = w
            if level > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(width, width, 3, padding=1)))
        self.head = nn.Sequential(norm(width), nn.SiLU(), nn.Conv2d(width, folded, 3, padding=1), nn.PixelShuffle(c.patch))
        nn.init.zeros_(self.head[-2].weight)  # starts by predicting ε = 0: the loss starts at 1, not above
        nn.init.zeros_(self.head[-2].bias)

    def embed(self, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The embedding (B, time_dim) of timesteps t and labels y (None: the null label)."""
        emb = self.time_mlp(timestep_embedding(t, self.config.time_dim))
        if self.label_emb is not None:
            if y is None:
                y = torch.full((len(t),), self.config.null_label, device=t.device, dtype=torch.long)
            emb = emb + self.label_emb(y)
        return emb

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The predicted noise ε̂ (B, C, H, W)."""
        emb = self.embed(t, y)
        h = self.stem(x)
        skips = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        h = self.mid_attention(self.mid[0](h, emb))
        h = self.mid[1](h, emb)
        for layer in self.up:
            h = layer(torch.cat([h, skips.pop()], dim=1), emb) if isinstance(layer, ResBlock) else layer(h)
        return self.head(h)


register_model(UNet, UNetConfig)
