"""Where networks run: the device asked for, else CUDA when present, else the CPU. Never hard-coded."""

from __future__ import annotations

import os

import torch


def pick_device(device: str | None = None) -> torch.device:
    """The device to train or sample on: the one asked for, else CUDA when present (under torchrun,
    the GPU of the process's LOCAL_RANK, so each process has its own), else the CPU."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")
