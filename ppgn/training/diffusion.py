"""Recipe: train a small diffusion model (a UNet predicting the noise ε) for guided sampling.

    ppgn train diffusion --minutes 42 --out runs/diffusion-fmnist
    python -c "from ppgn.training.diffusion import *; train_diffusion(DiffusionTrainConfig(minutes=42), 'runs/diffusion-fmnist')"

For an image x0 in [-1, 1] with label y, a timestep t ~ U{0..T-1} and noise ε ~ N(0, I):

    x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε,   L = |ε − ε_θ(x_t, t, ỹ)|²,   ỹ = ∅ with probability p_uncond, else y

so one network is both the unconditional model (steered at sampling time by a classifier through
the project's conditions) and the conditional one that classifier-free guidance needs.

Why these numbers. Adam 1e-3 with a short warm-up and gradients clipped at 1: a small UNet
learns fast and a budget of minutes on a CPU leaves no room for a slow start. The weights used
for sampling are an exponential moving average of the trained ones (decay 0.995, warmed up as
(1 + n)/(10 + n)), which smooths the noise of a short run. p_uncond = 0.15 (Ho & Salimans
use 0.1–0.2). ``minutes`` stops the run at a time budget (summed over resumes), so that it
can be given exactly the time another model had; by default on the CPU clock (the process's CPU
seconds over its threads: what it would take on an idle machine, however many other processes
share the cores). The card says how far it got.
"""

from __future__ import annotations

import copy
import shlex
import time
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import make_loader, open_dataset, take_subset
from ..models import save_model
from ..models.diffusion import SCHEDULES, UNet, UNetConfig
from ..sampling.diffusion import NoiseSchedule
from . import limits
from .common import OPTIONAL, SEED, SUBSET, check_fields, check_image_shape
from .loop import Checkpoint, Run


@dataclass(frozen=True)
class DiffusionTrainConfig:
    dataset: str = "fashion-mnist"  # a built-in name, a folder root/<class>/*.png, or a contract .npz (open_dataset)
    size: int | None = None  # image side; None: the data's own
    channels: int | None = None  # 1 or 3; None: the data's own
    skip_bad: bool = False  # leave out files that are not images (folders) instead of refusing
    unet_channels: int = 48  # the UNet's base width (UNetConfig.channels)
    multipliers: tuple[int, ...] = (1, 2)  # widths per level, as multiples of unet_channels
    blocks: int = 1  # residual blocks per level
    patch: int = 2  # pixels folded into channels first: 28×28 → 14×14, ≈4× less compute
    dropout: float = 0.0  # a run of a few epochs does not overfit
    schedule: str = "cosine"
    timesteps: int = 1000
    p_uncond: float = 0.15  # how often the label is dropped to the null label (the unconditional branch)
    conditional: bool = True  # learn labels (and the null label); False: an unconditional network
    epochs: int = 50  # an upper bound when ``minutes`` is set
    minutes: float = 0.0  # stop after this many minutes of training on ``clock`` (summed over resumes); 0: train all the epochs
    clock: str = "cpu"  # "cpu": the process's CPU time / its threads (an idle machine's wall time, whatever else runs); "wall"
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 200  # steps of linear learning-rate warm-up
    clip: float = 1.0  # gradient norm clipping
    ema: float = 0.995  # decay of the moving average of the weights that is shipped
    train_subset: int = 0  # 0 = the whole training set
    seed: int = 0

    def __post_init__(self):
        check_fields(self, size=limits.SIZE | OPTIONAL, channels=limits.CHANNELS | OPTIONAL, unet_channels=limits.UNITS,
                     multipliers=limits.LEVEL, blocks=limits.BLOCKS, patch=limits.PATCH, dropout=limits.FRACTION,
                     timesteps=limits.TIMESTEPS, p_uncond=limits.PROBABILITY, epochs=limits.EPOCHS, minutes=limits.MINUTES,
                     batch_size=limits.BATCH, lr=limits.LR, warmup=limits.WARMUP, clip=limits.CLAMP, ema=limits.FRACTION,
                     train_subset=SUBSET, seed=SEED)  # fmt: skip
        check_image_shape(self)
        if not self.multipliers:
            raise ValueError("multipliers must name at least one level, e.g. (1, 2)")
        if isinstance(self.minutes, float) and self.minutes.is_integer():  # --minutes 42 and minutes=42: one config, one
            object.__setattr__(self, "minutes", int(self.minutes))  # checkpoint hash (the measured run was made with 42)
        if self.clock not in CLOCKS:
            raise ValueError(f"unknown clock {self.clock!r}; valid: {', '.join(CLOCKS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")


CLOCKS = ("cpu", "wall")


class BudgetSpent(Exception):
    """The run's time budget (``minutes``) is spent: leave ``fit`` at the end of a step."""


class Clock:
    """The CPU time a run has spent, over resumes: a part of the checkpoint (``state_dict``).

    CPU seconds over threads is what the run would have taken on an idle machine: other
    processes sharing the cores slow its wall clock, not this one.
    """

    def __init__(self):
        self.before = 0.0  # CPU seconds / thread of earlier processes of this run
        self.start = time.process_time()

    def seconds(self) -> float:
        return self.before + (time.process_time() - self.start) / torch.get_num_threads()

    def state_dict(self) -> dict:
        return {"cpu_seconds": self.seconds()}

    def load_state_dict(self, state: dict) -> None:
        self.before, self.start = float(state["cpu_seconds"]), time.process_time()


def unet_config(config: DiffusionTrainConfig, classes: int, channels: int, size: int) -> UNetConfig:
    """The network a training config asks for, on data of ``classes`` classes and images (channels, size, size)."""
    return UNetConfig(
        image_size=size, image_channels=channels, patch=config.patch, channels=config.unet_channels, multipliers=config.multipliers,
        blocks=config.blocks, num_classes=classes if config.conditional else None, dropout=config.dropout,
        schedule=config.schedule, timesteps=config.timesteps,
    )  # fmt: skip


# Config fields whose `ppgn train diffusion` flag is not the field's own name.
_FLAG_NAMES = {"dataset": "--data"}


def cli_command(config: DiffusionTrainConfig, out: str | Path) -> str:
    """The ``ppgn train diffusion`` command that trains ``config`` into ``out`` (the options that differ from the defaults)."""
    parts = ["ppgn train diffusion"]
    for f in fields(config):
        value = getattr(config, f.name)
        if value == f.default:
            continue
        if isinstance(value, bool):  # the two switches
            parts.append({"conditional": ("--unconditional", "--conditional"), "skip_bad": ("--no-skip-bad", "--skip-bad")}[f.name][value])
            continue
        text = ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f"{_FLAG_NAMES.get(f.name, '--' + f.name.replace('_', '-'))} {shlex.quote(text)}")
    return " ".join([*parts, "--out", shlex.quote(str(out))])


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """ema ← decay·ema + (1 − decay)·model, parameter by parameter (buffers copied)."""
    ema_params, params = list(ema.parameters()), list(model.parameters())
    torch._foreach_lerp_(ema_params, params, 1 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


@torch.no_grad()
def test_loss(model: UNet, schedule: NoiseSchedule, test, n: int = 1000, seed: int = 0) -> float:
    """The noise-prediction loss on the first ``n`` test images, labels dropped, at fixed draws of t and ε."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for x, _ in make_loader(torch.utils.data.Subset(test, range(min(n, len(test)))), batch_size=250):
        t = torch.randint(0, schedule.timesteps, (len(x),), generator=gen)
        eps = torch.randn(x.shape, generator=gen)
        x_t = schedule.add_noise(x, eps, t).to(device)
        total += F.mse_loss(model(x_t, t.to(device)), eps.to(device), reduction="sum").item() / eps[0].numel()
        count += len(x)
    return total / max(count, 1)


def train_diffusion(
    config: DiffusionTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    amp: str | None = None,
    workers: int = 0,
    checkpoint_every: int = 50,
) -> tuple[UNet, dict]:
    """Train, checkpointing to ``out`` (resumed if a checkpoint of the same config is there).

    Args:
        workers: processes decoding images ahead of the training step (0: in this process).
    Returns:
        the moving average of the weights (eval mode) and its card; saved to
        ``out/diffusion.safetensors`` with the card beside it.
    """
    clock = Clock()  # started before any work, as the wall clock of ``run`` is
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    dev = run.device
    opened = dict(size=config.size, channels=config.channels, data_dir=data_dir, skip_bad=config.skip_bad)
    train = take_subset(open_dataset(config.dataset, "train", **opened), config.train_subset, run.gen)
    run.total_steps(len(train))  # refuses a set smaller than one batch, before any work
    channels, size, _ = train.image_shape
    model = UNet(unet_config(config, len(train.classes), channels, size)).to(dev)
    ema = copy.deepcopy(model).requires_grad_(False).eval()
    schedule = NoiseSchedule.make(config.schedule, config.timesteps)
    null = model.config.null_label
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / max(config.warmup, 1)))
    net = run.distribute(model)
    budget = config.minutes * 60
    spent = clock.seconds if config.clock == "cpu" else run.wall_seconds
    parts = dict(model=model, ema=ema, opt=opt, sched=sched, clock=clock)
    seen = {"steps": None}  # the step the next update makes (known once fit has restored the checkpoint)

    def step(idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if seen["steps"] is None:
            seen["steps"] = run.saved_step
        if budget and spent() >= budget:
            raise BudgetSpent
        model.train()
        n = len(idx)  # draws for the whole (global) batch, then this process's rows: a step does not depend on the processes
        t = run.shard(torch.randint(0, config.timesteps, (n,), generator=run.gen))
        eps = run.shard(torch.randn((n, channels, size, size), generator=run.gen))
        drop = run.shard(torch.rand(n, generator=run.gen) < config.p_uncond)
        labels = None if null is None else torch.where(drop, torch.full_like(y, null), y).to(dev)
        x_t = schedule.add_noise(x, eps, t).to(dev)
        loss = F.mse_loss(net(x_t, t.to(dev), labels), eps.to(dev))
        run.descend(loss, opt, sched, clip=config.clip)
        seen["steps"] += 1
        update_ema(ema, model, min(config.ema, (1 + seen["steps"]) / (10 + seen["steps"])))
        return loss

    stopped = "epochs"
    try:
        run.fit(len(train), step, parts, "train diffusion", data=train, workers=workers)
    except BudgetSpent:
        stopped = "minutes"
        if run.main and seen["steps"] != run.saved_step:  # a rerun finds the budget spent and goes straight to the weights
            Checkpoint(out).save_training(config, seen["steps"], run.wall_seconds(), run.gen, **parts)
    steps = seen["steps"] if seen["steps"] is not None else run.total_steps(len(train))
    metrics = {
        "test_loss": round(test_loss(ema, schedule, open_dataset(config.dataset, "test", **opened)), 4),
        "steps": steps,
        "images_seen": steps * config.batch_size,
        "epochs_seen": round(steps * config.batch_size / len(train), 3),
        "stopped_by": stopped,
        "cpu_seconds_per_thread": round(clock.seconds(), 1),
        "threads": torch.get_num_threads(),
        "parameters": sum(p.numel() for p in ema.parameters()),
        "train_size": len(train),
    }
    card = run.card(train.fingerprint, metrics)
    if not card["command"].startswith("ppgn train diffusion"):  # launched from Python (argv "-c", pytest, a script): the command that does the same
        card["command"], card["launched_from"] = cli_command(config, out), card["command"]
    if run.main:
        save_model(ema, Path(out) / "diffusion.safetensors", card)
    run.barrier()
    return ema, card
