"""Where networks run: the device asked for, else CUDA when present, else the CPU. Never hard-coded."""

from __future__ import annotations

import torch


def pick_device(device: str | None = None) -> torch.device:
    """The device to train or sample on: the one asked for, else CUDA when present, else CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
