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


@torch.no_grad()
def encode_dataset(encoder: torch.nn.Module, data, workers: int = 0, batch: int = 500) -> torch.Tensor:
    """h = E(x) for every item of ``data`` (a torch dataset of (x, y)), streamed; on the CPU: (N, D)."""
    from ..data import make_loader

    encoder.eval()
    device = next(encoder.parameters()).device
    return torch.cat([encoder.encode(x.to(device))[1].cpu() for x, _ in make_loader(data, batch_size=batch, num_workers=workers)])
