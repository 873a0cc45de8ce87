"""Colour as a cINN sees it: luma Y and chroma (Cb, Cr), and sampling colourings of a grey image.

An RGB image splits exactly into a luma Y (what a grey image shows) and two chroma channels
(Cb, Cr) (ITU-R BT.601, the weights PIL uses for mode "L"). A colourisation cINN models the
chroma given the luma, so a colouring keeps the input's lightness by construction (up to
clipping to the RGB cube).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
TO_RGB = torch.linalg.inv(TO_YCC)


def rgb_to_ycc(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] → (N, 3, H, W) (Y ∈ [0, 1], Cb, Cr ∈ [−0.5, 0.5])."""
    return torch.einsum("ij,njhw->nihw", TO_YCC.to(rgb), rgb)


def ycc_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """The inverse of ``rgb_to_ycc``, clipped to the RGB cube."""
    return torch.einsum("ij,njhw->nihw", TO_RGB.to(ycc), ycc).clamp(0, 1)


def split_image(images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, H, W, 3) → luma (N, 1, H, W) and chroma (N, 2, H, W), float32."""
    rgb = torch.from_numpy(np.asarray(images)).float().div(255).permute(0, 3, 1, 2)
    ycc = rgb_to_ycc(rgb)
    return ycc[:, :1], ycc[:, 1:]


def to_uint8_rgb(luma: torch.Tensor, chroma: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) luma and (N, 2, H, W) chroma → uint8 (N, H, W, 3) RGB."""
    rgb = ycc_to_rgb(torch.cat([luma, chroma], 1))
    return (rgb * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def colorize(net: nn.Module, grey: np.ndarray, num: int = 8, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``num`` colourings of one grey image (uint8 (H, W), the model's size) → uint8 (num, H, W, 3)."""
    device = next(p for p in net.parameters() if p.is_floating_point()).device
    luma = torch.from_numpy(np.asarray(grey, np.float32) / 255)[None, None].to(device)
    gen = torch.Generator().manual_seed(seed)
    chroma = net.sample(luma.expand(num, -1, -1, -1), num, temperature, gen)
    return to_uint8_rgb(luma.expand(num, -1, -1, -1), chroma)
