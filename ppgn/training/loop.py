"""The one training loop. A recipe builds its parts, hands ``fit`` a step, and measures after:

    run = Run.start(config, out, device, quiet, checkpoint_every)   # device, seeds, clock
    ...load data and build networks on run.device, drawing from run.gen...
    total = run.total_steps(len(train))                              # for the schedules
    run.fit(len(train), step, dict(model=model, opt=opt, sched=sched), "train classifier")
    card = run.card(train.sha256, metrics)                           # wall time over resumes, losses

``fit`` owns what every recipe used to repeat: resuming from ``out/checkpoint.pt`` (parts and
both RNGs, so a resumed run is the same run), each step's batch (``resumed_batches``), the
progress bar, the loss history and a checkpoint every ``checkpoint_every`` steps and at the end.
A step takes the batch's indices, makes its update (``descend`` is the usual one) and returns
the loss, or a dict of scalars whose ``"loss"`` is recorded and the rest shown on the bar.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from tqdm import tqdm

from ..io import atomic_write
from ..models.device import pick_device

Step = Callable[[torch.Tensor], "torch.Tensor | dict[str, torch.Tensor]"]


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


def config_hash(config: Any) -> str:
    """A short hash of a training config, stored in checkpoints so a resume never mixes configs."""
    return hashlib.sha256(json.dumps(dataclasses.asdict(config), sort_keys=True).encode()).hexdigest()[:16]


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
                       elapsed=elapsed, config_hash=config_hash(config)))  # fmt: skip

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


def loss_summary(history: list[float], window: int = 20) -> dict[str, float]:
    """Mean training loss over the first and the last ``window`` steps of a run."""
    if not history:
        return {}
    w = max(1, min(window, len(history) // 4))
    return {"train_loss_start": round(sum(history[:w]) / w, 4), "train_loss_end": round(sum(history[-w:]) / w, 4)}


def descend(loss: torch.Tensor, opt: torch.optim.Optimizer, sched=None, clip: float | None = None) -> None:
    """One gradient step on ``loss``: backpropagate, clip the gradients' norm to ``clip``, step ``opt`` and ``sched``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_([p for group in opt.param_groups for p in group["params"]], clip)
    opt.step()
    if sched is not None:
        sched.step()


@dataclass
class Run:
    """One training run of ``config`` (a frozen dataclass with ``epochs``, ``batch_size`` and ``seed``) into ``out``."""

    config: Any
    out: Path
    device: torch.device
    gen: torch.Generator  # every draw of the recipe (subsets, noise, augmentation) comes from it
    quiet: bool = False
    checkpoint_every: int = 200
    started: float = field(default_factory=time.time)
    elapsed: float = 0.0  # wall seconds spent by earlier processes of this run (after a resume)
    history: list[float] = field(default_factory=list)  # losses of this process's steps

    @classmethod
    def start(cls, config: Any, out: str | Path, device: str | None = None, quiet: bool = False,
              checkpoint_every: int = 200) -> "Run":  # fmt: skip
        """Pick the device and seed torch's global RNG and the run's generator from ``config.seed``.

        Call it first: the recipe's model initialisation and draws then follow from the seed.
        """
        started = time.time()
        dev = pick_device(device)
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        return cls(config, Path(out), dev, gen, quiet, checkpoint_every, started)

    def batch_size(self, n: int) -> int:
        """The configured batch size, or the whole set when it is smaller."""
        return min(self.config.batch_size, n)

    def total_steps(self, n: int) -> int:
        """Steps of the whole run over ``n`` examples: epochs × full batches per epoch."""
        return self.config.epochs * (n // self.batch_size(n))

    def wall_seconds(self) -> float:
        """Wall time of the whole run so far, over every process that worked on it."""
        return self.elapsed + time.time() - self.started

    def fit(self, n: int, step: Step, parts: dict[str, Any], desc: str = "train") -> list[float]:
        """Train from the checkpoint in ``out`` (if one of this config is there) to the last step.

        Args:
            n: examples in the training set; each step gets the indices of one batch of them.
            step: makes one update from a batch's indices (B,) and returns its loss (a scalar
                tensor) or a dict of scalars with the loss under ``"loss"``.
            parts: everything with a state_dict the run needs to go on (networks, optimizers,
                schedules), by the names they have in the checkpoint.
        Returns:
            the losses of the steps this call made (after a resume: since the resume).
        """
        ckpt = Checkpoint(self.out)
        done, self.elapsed = ckpt.resume(self.config, self.gen, **parts)
        total = self.total_steps(n)
        bar = tqdm(total=total, initial=done, disable=self.quiet, desc=desc, dynamic_ncols=True, mininterval=2)
        for idx in resumed_batches(n, self.batch_size(n), self.config.seed, done, total):
            logs = step(idx)
            logs = logs if isinstance(logs, dict) else {"loss": logs}
            done += 1
            self.history.append(logs["loss"].item())
            bar.update(1)
            if not self.quiet:
                bar.set_postfix({k: f"{v.item():.3f}" for k, v in logs.items()}, refresh=False)
            if done % self.checkpoint_every == 0 or done == total:
                ckpt.save_training(self.config, done, self.wall_seconds(), self.gen, **parts)
        bar.close()
        return self.history

    def card(self, dataset_sha256: str, metrics: dict) -> dict:
        """The weights' card: the config, the command, the data, wall time, ``metrics`` and the loss summary."""
        return make_card(self.config, self.config.seed, dataset_sha256, self.wall_seconds(), metrics | loss_summary(self.history))
