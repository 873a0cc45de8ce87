"""The context term of PPGN inpainting: stay close to the pixels that are known.

    log p(x_known | x) = −‖m ⊙ (x − x_known)‖²   (summed over pixels, per image)

with m = 1 where a pixel is known, 0 in the hole. The pipeline weights it by ε4 and adds it to
any other condition (a class, a caption); after sampling, real pixels are composited outside
the hole (``composite``), as the official code does.
"""

from __future__ import annotations

import torch

from .conditions import Condition


class ContextCondition(Condition):
    """−‖m ⊙ (x − x_known)‖² per image.

    Args:
        known: (1 or B, C, H, W) the image in [-1, 1]; values in the hole are ignored.
        mask: (1 or B, 1 or C, H, W), 1 where ``known`` is known, 0 in the hole.
    """

    def __init__(self, known: torch.Tensor, mask: torch.Tensor):
        if known.dim() != 4 or mask.dim() != 4 or known.shape[-2:] != mask.shape[-2:]:
            raise ValueError(f"known (B, C, H, W) and mask (B, 1, H, W) must match, got {tuple(known.shape)} and {tuple(mask.shape)}")
        self.known, self.mask = known, mask.to(known.dtype)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -(self.mask * (x - self.known)).square().flatten(1).sum(1)

    def __repr__(self) -> str:
        return f"ContextCondition({int(self.mask[0].sum().item())} known pixels)"


def composite(generated: torch.Tensor, known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Real pixels outside the hole, generated ones inside: m·known + (1 − m)·generated."""
    return mask * known + (1 - mask) * generated
