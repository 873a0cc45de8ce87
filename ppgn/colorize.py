"""Colourisation with an image-conditioned cINN: p(colour | grey), sampled as many times as you like.

An RGB image splits exactly into a luma Y (what a grey image shows) and two chroma channels
(Cb, Cr) (ITU-R BT.601, the weights PIL uses for mode "L"). The cINN models the chroma given the
luma: x = (Cb, Cr), c = Y through a conditioning CNN; a colouring is Y with sampled chroma, so
the lightness of the input is kept by construction (up to clipping to the RGB cube).

    >>> from ppgn.colorize import load_colorizer, colorize
    >>> net = load_colorizer()
    >>> colorize(net, grey, num=8, seed=0).shape   # grey: uint8 (H, W)
    (8, 16, 16, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .models import load_model
from .models.cinn import CINN

DEFAULT_COLORIZER = Path(__file__).parent / "weights" / "emoji" / "colorizer.safetensors"
_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_TO_RGB = torch.linalg.inv(_TO_YCC)


def rgb_to_ycc(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] → (N, 3, H, W) (Y ∈ [0, 1], Cb, Cr ∈ [−0.5, 0.5])."""
    return torch.einsum("ij,njhw->nihw", _TO_YCC.to(rgb), rgb)


def ycc_to_rgb(ycc: torch.Tensor) -> torch.Tensor:
    """The inverse of ``rgb_to_ycc``, clipped to the RGB cube."""
    return torch.einsum("ij,njhw->nihw", _TO_RGB.to(ycc), ycc).clamp(0, 1)


def split_image(images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, H, W, 3) → luma (N, 1, H, W) and chroma (N, 2, H, W), float32."""
    rgb = torch.from_numpy(np.asarray(images)).float().div(255).permute(0, 3, 1, 2)
    ycc = rgb_to_ycc(rgb)
    return ycc[:, :1], ycc[:, 1:]


def to_uint8_rgb(luma: torch.Tensor, chroma: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) luma and (N, 2, H, W) chroma → uint8 (N, H, W, 3) RGB."""
    rgb = ycc_to_rgb(torch.cat([luma, chroma], 1))
    return (rgb * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def load_colorizer(path: str | Path = DEFAULT_COLORIZER, device: str | torch.device = "cpu") -> CINN:
    """The shipped (or a trained) colourisation cINN, frozen."""
    net = load_model(path, device, expect=CINN)
    if net.config.condition != "image" or net.config.x_shape[0] != 2:
        raise ValueError(f"{path}: not a colourisation cINN (condition {net.config.condition!r}, x_shape {net.config.x_shape})")
    return net.requires_grad_(False)


@torch.no_grad()
def colorize(net: CINN, grey: np.ndarray, num: int = 8, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
    """``num`` colourings of one grey image (uint8 (H, W), the model's size) → uint8 (num, H, W, 3)."""
    device = next(p for p in net.parameters() if p.is_floating_point()).device
    luma = torch.from_numpy(np.asarray(grey, np.float32) / 255)[None, None].to(device)
    gen = torch.Generator().manual_seed(seed)
    chroma = net.sample(luma.expand(num, -1, -1, -1), num, temperature, gen)
    return to_uint8_rgb(luma.expand(num, -1, -1, -1), chroma)


@torch.no_grad()
def colourisation_metrics(net: CINN, images: np.ndarray, num: int = 8, seed: int = 0, temperature: float = 1.0) -> dict:
    """On held-out colour images (uint8 (N, H, W, 3)), from ``num`` colourings of each one's luma:

    lightness_error: mean |Y(colouring) − Y(input)| (0..255 scale): how well lightness is kept;
    diversity: mean per-pixel RGB std across the colourings (0..255);
    best_of_n_rmse / mean_rmse: RGB error to the true colours of the best / an average colouring;
    grey_rmse: the error of leaving the image grey (chroma 0), the baseline to beat.
    """
    luma, chroma_true = split_image(images)
    results = {"lightness_error": [], "diversity": [], "best": [], "mean": []}
    truth = torch.from_numpy(np.asarray(images)).float()
    for i, grey in enumerate((luma[:, 0] * 255).round().numpy().astype(np.uint8)):
        out = torch.from_numpy(colorize(net, grey, num, seed + i, temperature)).float()  # (num, H, W, 3)
        y_out = (out @ _TO_YCC[0].to(out))  # (num, H, W)
        results["lightness_error"].append((y_out - luma[i, 0] * 255).abs().mean().item())
        results["diversity"].append(out.std(0).mean().item())
        rmse = ((out - truth[i]) ** 2).mean((1, 2, 3)).sqrt()
        results["best"].append(rmse.min().item())
        results["mean"].append(rmse.mean().item())
    grey = torch.from_numpy(to_uint8_rgb(luma, torch.zeros_like(chroma_true))).float()
    return {
        "num_images": len(images),
        "colourings_per_image": num,
        "lightness_error": round(float(np.mean(results["lightness_error"])), 3),
        "diversity": round(float(np.mean(results["diversity"])), 3),
        f"best_of_{num}_rmse": round(float(np.mean(results["best"])), 3),
        "mean_rmse": round(float(np.mean(results["mean"])), 3),
        "grey_rmse": round(((grey - truth) ** 2).mean((1, 2, 3)).sqrt().mean().item(), 3),
    }
