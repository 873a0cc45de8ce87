"""What every training recipe shares: seeding, batches, checkpoints that survive a kill, cards."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import torch

from ..io import atomic_write
from ..models.device import pick_device  # noqa: F401 (the recipes' device choice)


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


def batches(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Indices of one epoch in shuffled batches (the last, smaller batch dropped)."""
    order = torch.randperm(n, generator=generator)
    for start in range(0, n - batch_size + 1, batch_size):
        yield order[start : start + batch_size]


def resumed_batches(n: int, batch_size: int, seed: int, step: int, total: int) -> Iterator[torch.Tensor]:
    """The batches of training steps ``step`` .. ``total - 1``, each epoch shuffled by its own generator.

    A run resumed at ``step`` sees exactly the batches an unbroken run would have seen from there.
    """
    steps_per_epoch = n // batch_size
    while step < total:
        epoch_gen = torch.Generator().manual_seed(seed * 1000 + step // steps_per_epoch)
        for i, idx in enumerate(batches(n, batch_size, epoch_gen)):
            if i < step % steps_per_epoch:
                continue
            yield idx
            step += 1
            if step == total:
                return


class Checkpoint:
    """A resumable training state in ``folder/checkpoint.pt`` (tensors and numbers only).

    Written atomically every few steps; loaded with ``weights_only=True``, so it cannot run code.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "checkpoint.pt"

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, state: dict[str, Any]) -> None:
        atomic_write(self.path, lambda tmp: torch.save(state, tmp))

    def load(self) -> dict[str, Any]:
        return torch.load(self.path, map_location="cpu", weights_only=True)

    def save_training(self, config: Any, step: int, elapsed: float, gen: torch.Generator, **parts) -> None:
        """Save every part's state_dict (models, optimizers, schedulers), both RNGs and the step."""
        state = {name: part.state_dict() for name, part in parts.items()}
        self.save(dict(state, rng=gen.get_state(), torch_rng=torch.get_rng_state(), step=step,
                       elapsed=elapsed, config_hash=config_hash(config)))

    def resume(self, config: Any, gen: torch.Generator, **parts) -> tuple[int, float]:
        """Restore the parts and both RNGs if a checkpoint of this very config exists, so a
        resumed run is the same run; returns (step, wall seconds already spent), else (0, 0)."""
        if not self.exists():
            return 0, 0.0
        state = self.load()
        if state["config_hash"] != config_hash(config):
            return 0, 0.0
        for name, part in parts.items():
            part.load_state_dict(state[name])
        gen.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        return int(state["step"]), float(state.get("elapsed", 0.0))


def command_line() -> str:
    """The command that is running, as a user would type it."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("ppgn", "__main__.py")):
        argv[0] = "ppgn"
    return " ".join(argv)


def make_card(config: Any, seed: int, dataset_sha256: str, wall_seconds: float, metrics: dict) -> dict:
    """The JSON card that goes next to shipped weights."""
    return {
        "training_config": dataclasses.asdict(config),
        "command": command_line(),
        "seed": seed,
        "dataset_sha256": dataset_sha256,
        "wall_time_s": round(wall_seconds, 1),
        "metrics": metrics,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "date": time.strftime("%Y-%m-%d"),
    }


def config_hash(config: Any) -> str:
    """A short hash of a training config, stored in checkpoints so a resume never mixes configs."""
    return hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode()).hexdigest()[:16]


def loss_summary(history: list[float], window: int = 20) -> dict[str, float]:
    """Mean training loss over the first and the last ``window`` steps of a run."""
    if not history:
        return {}
    w = max(1, min(window, len(history) // 4))
    return {"train_loss_start": round(sum(history[:w]) / w, 4), "train_loss_end": round(sum(history[-w:]) / w, 4)}
