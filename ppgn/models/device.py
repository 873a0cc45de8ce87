"""Where networks run: the device asked for, else CUDA when present, else the CPU. Never hard-coded."""

from __future__ import annotations

import os

import torch

from ..io import InputError

KINDS = ("cpu", "cuda", "mps")


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The device to train or sample on: the one asked for, else CUDA when present (under torchrun,
    the GPU of the process's LOCAL_RANK, so each process has its own), else the CPU.

    Raises:
        InputError: a device name torch does not know, or one this machine does not have.
    """
    if not device:
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0', got {device!r} ({type(device).__name__})")
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError):
        raise InputError(f"unknown device {str(device)!r}; valid: {', '.join(available())}") from None
    if chosen.type not in KINDS:
        raise InputError(f"unsupported device {str(device)!r}; valid: {', '.join(available())}")
    if chosen.type == "cuda" and (not torch.cuda.is_available() or (chosen.index or 0) >= torch.cuda.device_count()):
        raise InputError(f"device {str(device)!r} is not on this machine; valid: {', '.join(available())}")
    if chosen.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {str(device)!r} is not on this machine; valid: {', '.join(available())}")
    return chosen


def available() -> list[str]:
    """The devices this machine has, as names ``pick_device`` takes."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names += ["cuda"] + [f"cuda:{k}" for k in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        names.append("mps")
    return names
