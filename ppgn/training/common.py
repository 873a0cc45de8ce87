"""Codes h = E(x) of a frozen encoder, which several recipes train on or measure with."""

from __future__ import annotations

from typing import Iterator

import torch

from ..data import make_loader


@torch.no_grad()
def encode_batches(encoder: torch.nn.Module, data, workers: int = 0, batch: int = 500) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(h1, h) = E(x) for the items of ``data`` (a torch dataset of (x, y)), a batch at a time,
    streamed, on the encoder's device."""
    encoder.eval()
    device = next(encoder.parameters()).device
    for x, _ in make_loader(data, batch_size=batch, num_workers=workers):
        yield encoder.encode(x.to(device))


def encode_dataset(encoder: torch.nn.Module, data, workers: int = 0, batch: int = 500) -> torch.Tensor:
    """h = E(x) for every item of ``data``, on the CPU: (N, D)."""
    return torch.cat([h.cpu() for _, h in encode_batches(encoder, data, workers, batch)])


def encode_all(encoder: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """h = E(x) for images already in memory (N, C, H, W), on the CPU: (N, D)."""
    return encode_dataset(encoder, torch.utils.data.TensorDataset(images, torch.zeros(len(images))), batch=1000)
