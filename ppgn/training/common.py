"""Codes h = E(x) of a frozen encoder, which several recipes train on or measure with."""

from __future__ import annotations

from typing import Iterator

import torch


@torch.no_grad()
def encode_in_batches(encoder: torch.nn.Module, images: torch.Tensor, batch: int = 1000) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(h1, h) = E(x) for ``images`` (N, C, H, W), a batch at a time, on the encoder's device."""
    encoder.eval()
    device = next(encoder.parameters()).device
    for i in range(0, len(images), batch):
        yield encoder.encode(images[i : i + batch].to(device))


def encode_all(encoder: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """h = E(x) for all ``images``, on the CPU: (N, D)."""
    return torch.cat([h.cpu() for _, h in encode_in_batches(encoder, images)])
