"""The one training loop. A recipe builds its parts, hands ``fit`` a step, and measures after:

    run = Run.start(config, out, device, quiet, checkpoint_every, amp)  # device, process group, seeds, clock
    ...open the data and build networks on run.device, drawing from run.gen...
    total = run.total_steps(len(train))                                 # for the schedules
    run.fit(len(train), step, dict(model=model, opt=opt, sched=sched), "train classifier", data=train)
    card = run.card(train.fingerprint, metrics)                         # wall time over resumes, losses, images/s

``fit`` owns what every recipe used to repeat: resuming from ``out/checkpoint.pt`` (parts and
both RNGs, so a resumed run is the same run), each step's batch (``resumed_batches``), the
progress bar, the loss history and a checkpoint every ``checkpoint_every`` steps and at the end.
A step makes its update (``run.descend``) and returns the loss, or a dict of scalars whose
``"loss"`` is recorded and the rest shown on the bar. With ``data`` (a torch dataset, streamed
by a DataLoader) a step is ``step(idx, x, y)``: the global batch's indices and this process's
rows of it; without, ``step(idx)`` and the recipe indexes tensors it holds.

Under ``torchrun --nproc_per_node=N`` (``distributed``) the same recipe trains N processes with
DistributedDataParallel; three habits keep each step the single-process step on the same batch:

    net = run.distribute(model)                                 # DDP when several processes train; ``model`` itself otherwise
    u = run.shard(torch.rand(len(idx), k, generator=run.gen))   # randomness drawn for the GLOBAL batch, then this rank's rows
    loss = F.cross_entropy(net(augment(x, u)), y)               # a batch mean: DDP averages the gradients over the ranks
    run.descend(loss, opt, sched)
    ...
    if run.main:                                                # rank 0 alone writes; the others wait at the barrier
        save_model(model, path, card)
    run.barrier()

(A recipe holding its data in memory draws for ``x_train[idx]`` whole and shards after:
``x, y = run.shard(augment(x_train[idx], run.gen), y_train[idx])``.)

``fit`` checks that the batch splits evenly, resumes every rank from rank 0's checkpoint, gives
each process its rows of each batch (the loader's batch sampler is this rank's shard: a
distributed sampler in the run's own resumable order), averages the logged losses over the ranks,
and lets rank 0 alone show progress and write checkpoints (with every rank's torch RNG, so a
resumed run is the same run). ``amp="bf16"`` or ``"fp16"`` runs each step's forward under
autocast (fp16 with a gradient scaler, CUDA only).

What ``start`` and ``fit`` refuse, each in one line: an ``out`` that cannot be written, a
checkpoint there that is not one (``WeightsError``) or was made by another config (naming the
fields that differ), a training set smaller than one batch, and a run that diverges: a NaN or
infinite logged loss term (checked where the loss is read for the history anyway, so no extra
host sync) or non-finite weights when a checkpoint is due stop it with ``TrainingDiverged``
before anything of it is written; the last good checkpoint stays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import math
import pickle
import platform
import sys
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from tqdm import tqdm

from ..data import make_loader
from ..io import InputError, atomic_write, check_output_dir
from ..models import WeightsError
from ..models.device import pick_device
from . import distributed
from .common import flag

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


class TrainingDiverged(ValueError):
    """A loss term or the weights went NaN or infinite; the run stopped and wrote nothing of it."""


def config_hash(config: Any) -> str:
    """A short hash of a training config, stored in checkpoints so a resume never mixes configs."""
    return hashlib.sha256(config_json(config).encode()).hexdigest()[:16]


def config_json(config: Any) -> str:
    """A training config as canonical JSON (what ``config_hash`` hashes; kept in checkpoints to name what changed)."""
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


# What a checkpoint must hold besides the parts, and of which type: anything else is not one of ours.
CHECKPOINT_KEYS = {"step": int, "config_hash": str, "rng": torch.Tensor, "torch_rng": torch.Tensor}
# How torch.load fails on a file that is not a whole checkpoint: truncated (RuntimeError from the
# zip reader, EOFError), not a zip, or a pickle of anything but tensors and numbers (refused unread).
UNREADABLE = (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError,
              UnicodeDecodeError, OverflowError, zipfile.BadZipFile, pickle.UnpicklingError)  # fmt: skip


class Checkpoint:
    """A resumable training state in ``folder/checkpoint.pt`` (tensors and numbers only).

    Written atomically every few steps; loaded with ``weights_only=True``, so it cannot run code.
    A file that is not a whole checkpoint of ppgn, or one made by another config, is refused in
    one line (``WeightsError``) that says to delete it or train into another ``--out``.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "checkpoint.pt"

    def exists(self) -> bool:
        return self.path.is_file()

    def save(self, state: dict[str, Any]) -> None:
        atomic_write(self.path, lambda tmp: torch.save(state, tmp))

    def load(self) -> dict[str, Any]:
        """The checkpoint's state; ``WeightsError`` if it is empty, cut short, not a checkpoint, or
        holds anything but tensors and numbers (then it is refused without running any of it)."""
        try:
            with warnings.catch_warnings():  # torch warns about foreign pickle protocols; the refusal says it all
                warnings.simplefilter("ignore")
                state = torch.load(self.path, map_location="cpu", weights_only=True)
        except UNREADABLE as err:
            raise self._unusable(self._reason(err)) from None
        if not isinstance(state, dict):
            raise self._unusable(f"it holds a {type(state).__name__}, not a training state")
        for key, kind in CHECKPOINT_KEYS.items():
            if not isinstance(state.get(key), kind):
                raise self._unusable(f"its {key!r} is missing or not a {kind.__name__}")
        return state

    def _reason(self, err: BaseException) -> str:
        """Why torch could not read the file, in a few words."""
        if self.path.is_file() and self.path.stat().st_size == 0:
            return "the file is empty"
        if isinstance(err, pickle.UnpicklingError):
            return "not tensors and numbers only; refused unread"
        if isinstance(err, (RuntimeError, EOFError, zipfile.BadZipFile)):
            return "truncated or not a checkpoint"
        return getattr(err, "strerror", None) or type(err).__name__

    def _unusable(self, reason: str) -> WeightsError:
        return WeightsError(f"{self.path} is not a usable training checkpoint ({reason}); delete it to start afresh, or give another --out")

    def changes(self, state: dict[str, Any], config: Any) -> str | None:
        """What differs between the config that made ``state`` and ``config`` (``--epochs 1 → 2``), or None if nothing."""
        if state["config_hash"] == config_hash(config):
            return None
        try:
            old = json.loads(state["config"])
        except (KeyError, TypeError, json.JSONDecodeError):  # a checkpoint from before configs were kept in it
            return "fields not recorded"
        new = json.loads(config_json(config))
        changed = [f"{flag(k)} {old.get(k)!r} → {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        return ", ".join(changed) or "fields not recorded"

    def check_config(self, state: dict[str, Any] | None, config: Any) -> None:
        """Refuse to train over a checkpoint made by another config, naming the fields that differ."""
        changed = None if state is None else self.changes(state, config)
        if changed is not None:
            raise InputError(f"{self.path} is from a run with another config ({changed}); rerun with the same options to "
                             f"resume it, give another --out, or delete {self.path} to start afresh")  # fmt: skip

    def save_training(self, config: Any, step: int, elapsed: float, gen: torch.Generator,
                      rank_rng: list[dict] | None = None, **parts) -> None:  # fmt: skip
        """Save every part's state_dict (models, optimizers, schedulers), both RNGs and the step.

        Args:
            rank_rng: under several processes, each rank's torch RNG states (``rank_rng_state``), in rank order.
        """
        state = {name: part.state_dict() for name, part in parts.items()}
        extra = {} if rank_rng is None else {"rank_rng": rank_rng}
        self.save(dict(state, rng=gen.get_state(), torch_rng=torch.get_rng_state(), step=step, elapsed=elapsed,
                       config_hash=config_hash(config), config=config_json(config), **extra))  # fmt: skip

    def resume(self, config: Any, gen: torch.Generator, **parts) -> tuple[int, float]:
        """Restore the parts and both RNGs if a checkpoint exists, so a resumed run is the same run;
        returns (step, wall seconds already spent), else (0, 0). One of another config is refused."""
        return self.restore(self.load() if self.exists() else None, config, gen, **parts)

    def restore(self, state: dict[str, Any] | None, config: Any, gen: torch.Generator, **parts) -> tuple[int, float]:
        """``resume`` from a loaded checkpoint ``state`` (None: nothing to resume). A part the
        checkpoint lacks and that can start afresh (the fp16 loss scale) keeps its state."""
        if state is None:
            return 0, 0.0
        self.check_config(state, config)
        try:
            for name, part in parts.items():
                if name in state or name not in OPTIONAL_PARTS:
                    part.load_state_dict(state[name])
            gen.set_state(state["rng"])
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:  # missing parts, shapes that do not fit
            reason = f"it has no {err.args[0]!r}" if isinstance(err, KeyError) else f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
            raise self._unusable(f"it does not fit this run: {reason}") from None
        return int(state["step"]), float(state.get("elapsed", 0.0))


OPTIONAL_PARTS = {"amp_scaler"}  # parts a run adds by itself; a checkpoint made without them still resumes
AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_amp(amp: str | None, device: torch.device) -> str | None:
    """The autocast precision to train in (None: full precision), or a one-line error."""
    if amp in (None, "", "none"):
        return None
    if amp not in AMP:
        raise ValueError(f"unknown amp {amp!r}; valid: {', '.join(AMP)}, none")
    if amp == "fp16" and device.type != "cuda":
        raise ValueError(f"amp fp16 needs CUDA (a gradient scaler and fp16 kernels); on {device.type} use bf16 or none")
    if amp == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError(f"amp bf16 is not supported by {torch.cuda.get_device_name(device)}; use fp16 or none")
    return amp


def rank_rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's torch RNG states (the CPU's, and its GPU's on CUDA): what dropout draws from."""
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def rank_seed(seed: int, rank: int, step: int) -> int:
    """A seed for rank ``rank``'s own torch RNG stream from the run's one seed (and the step it starts at)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{rank}:{step}".encode()).digest()[:7], "little")


def command_line() -> str:
    """The command that is running, as a user would type it."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("ppgn", "__main__.py")):
        argv[0] = "ppgn"
    return " ".join(argv)


def make_card(config: Any, seed: int, dataset_sha256: str, wall_seconds: float, metrics: dict, **launch) -> dict:
    """The JSON card that goes next to shipped weights.

    Args:
        launch: how the run was made when that is not one process in full precision (``processes``, ``amp``).
    """
    return {
        "training_config": dataclasses.asdict(config),
        "command": command_line(),
        "seed": seed,
        "dataset_sha256": dataset_sha256,
        "wall_time_s": round(wall_seconds, 1),
        "metrics": metrics,
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        **launch,
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
    history: list[float] = field(default_factory=list)  # losses of this process's steps (averaged over the ranks)
    amp: str | None = None  # "bf16" or "fp16": each step's forward under autocast; None: full precision
    scaler: Any = None  # fp16's gradient scaler, a part of the checkpoint
    distributed: list[torch.nn.Module] = field(default_factory=list)  # the modules handed to ``distribute``
    timed_steps: int = 0  # steps timed by ``fit`` (all but each call's first), their global images and seconds
    images_timed: int = 0
    timed_seconds: float = 0.0
    resume_state: dict | None = None  # rank 0: the checkpoint in ``out`` read (and checked) by ``start``, until ``fit`` restores it
    saved_step: int = 0  # the step of the last checkpoint (0: none written or found)

    @classmethod
    def start(cls, config: Any, out: str | Path, device: str | None = None, quiet: bool = False,
              checkpoint_every: int = 200, amp: str | None = None) -> "Run":  # fmt: skip
        """Pick the device, join torchrun's processes if it started this one, and seed torch's global
        RNG and the run's generator from ``config.seed`` (the same on every rank).

        Call it first: the recipe's model initialisation and draws then follow from the seed. It
        refuses, before any data is read, an ``out`` that cannot be written and a checkpoint there
        that is corrupt or was made by another config.

        Args:
            amp: "bf16" or "fp16" to run each step's forward under autocast (fp16 on CUDA only); None: off.
        """
        started = time.time()
        dev = distributed.init(pick_device(device))
        amp = check_amp(amp, dev)
        distributed.check_batch(config.batch_size)  # fail before any data is read
        ckpt, state = Checkpoint(out), None
        if distributed.is_main():  # rank 0 alone writes, and reads the checkpoint for every rank
            check_output_dir(out, "--out")
            state = ckpt.load() if ckpt.exists() else None
            ckpt.check_config(state, config)
        torch.manual_seed(config.seed)
        gen = torch.Generator().manual_seed(config.seed)
        scaler = torch.amp.GradScaler(dev.type) if amp == "fp16" else None
        return cls(config, Path(out), dev, gen, quiet, checkpoint_every, started, amp=amp, scaler=scaler, resume_state=state)

    @property
    def main(self) -> bool:
        """Whether this process writes the files (rank 0; always in a single process)."""
        return distributed.is_main()

    @property
    def world_size(self) -> int:
        """How many processes train together."""
        return distributed.world_size()

    def barrier(self) -> None:
        """Wait for every process (after rank 0 wrote the weights, so none returns before they exist)."""
        distributed.barrier()

    def distribute(self, module: torch.nn.Module, fn: Callable[..., Any] | None = None) -> Callable[..., Any]:
        """The network a step calls so that several processes train it as one (DistributedDataParallel).

        Args:
            module: a network with trainable parameters, on ``run.device``.
            fn: what the step computes with it, ``fn(module, *args)``, when that is not ``module(*args)``
                (``CINN.log_prob``): DDP averages the gradients of what goes through its own call.
        Returns:
            ``module`` (or ``partial(fn, module)``) in a single process; else a DistributedDataParallel.
            Give ``fit`` the module itself as a part: its state_dict is the checkpoint's.
        """
        if any(module is seen for seen in self.distributed):
            raise ValueError(f"{type(module).__name__} is distributed twice; compute everything in one fn instead")
        self.distributed.append(module)
        return distributed.distribute(module, self.device, fn)

    def shard(self, *batches: torch.Tensor) -> Any:
        """This rank's equal share of each global batch (dim 0): all of it in a single process.

        Draw a step's randomness for the whole batch first, then shard, so that a step does not
        depend on the number of processes.
        """
        shards = tuple(distributed.shard(b) for b in batches)
        return shards[0] if len(shards) == 1 else shards

    def autocast(self) -> contextlib.AbstractContextManager:
        """The precision a step's forward runs in: autocast to bf16/fp16 with ``amp``, else unchanged."""
        if self.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=AMP[self.amp])

    def descend(self, loss: torch.Tensor, opt: torch.optim.Optimizer, sched=None, clip: float | None = None) -> None:
        """``descend`` in the run's precision: the backward pass and the update outside autocast, an
        fp16 loss scaled (and unscaled before clipping). In full precision it is ``descend`` itself."""
        if self.amp is None:
            return descend(loss, opt, sched, clip)
        with torch.autocast(self.device.type, enabled=False):
            if self.scaler is None:
                return descend(loss, opt, sched, clip)
            opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if clip is not None:
                self.scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_([p for group in opt.param_groups for p in group["params"]], clip)
            self.scaler.step(opt)  # skipped when the scaled gradients overflowed
            if sched is not None:
                sched.step()

    def batch_size(self, n: int) -> int:
        """The configured batch size; a one-line error if the ``n`` training examples do not fill one batch."""
        size = self.config.batch_size
        if n < size:
            subset = getattr(self.config, "train_subset", 0)
            have = f"--train-subset {subset} leaves {n} training examples" if subset else f"the training set has {n} examples"
            fix = "raise --train-subset (0 = all) or lower --batch-size" if subset else "lower --batch-size"
            raise InputError(f"{have}, fewer than one batch (--batch-size {size}): {fix}")
        return size

    def total_steps(self, n: int) -> int:
        """Steps of the whole run over ``n`` examples: epochs × full batches per epoch."""
        return self.config.epochs * (n // self.batch_size(n))

    def wall_seconds(self) -> float:
        """Wall time of the whole run so far, over every process that worked on it."""
        return self.elapsed + time.time() - self.started

    def fit(self, n: int, step: Step, parts: dict[str, Any], desc: str = "train",
            data: torch.utils.data.Dataset | None = None, workers: int = 0) -> list[float]:  # fmt: skip
        """Train from the checkpoint in ``out`` (if one of this config is there) to the last step.

        Args:
            n: examples in the training set; each step gets the indices of one (global) batch of them.
            step: makes one update from a batch's indices (B,) and returns its loss (a scalar
                tensor) or a dict of scalars with the loss under ``"loss"``. With ``data``, it is
                called as ``step(idx, x, y)``: this process's rows of the batch, read from ``data``.
            parts: everything with a state_dict the run needs to go on (networks, optimizers,
                schedules), by the names they have in the checkpoint.
            data: the training set (a torch ``Dataset`` of (x, y)) to stream from disk: a
                ``DataLoader`` reads each process's rows of each batch, ``workers`` processes
                decoding ahead, so no process holds more than a few batches of images.
        Returns:
            the losses of the steps this call made (after a resume: since the resume).
        """
        batch_size = self.batch_size(n)
        distributed.check_batch(batch_size)
        world = distributed.world_size()
        if self.scaler is not None:
            parts = dict(parts, amp_scaler=self.scaler)
        if world > 1:
            self._check_distributed(parts)
        ckpt = Checkpoint(self.out)
        state = distributed.broadcast(self.resume_state)  # read by rank 0 in ``start``; no shared disk needed
        self.resume_state = None
        done, self.elapsed = ckpt.restore(state, self.config, self.gen, **parts)
        self.saved_step = done
        if world > 1:
            self._seed_rank(state if done else None, done)
        total = self.total_steps(n)
        bar = tqdm(total=total, initial=done, disable=self.quiet or not self.main, desc=desc, dynamic_ncols=True, mininterval=2)
        clock = None  # the steps' wall time, from the end of the first (warm-up) step on
        try:
            for idx, *rows in self._batches(n, batch_size, done, total, data, workers):
                with self.autocast():
                    logs = step(idx, *rows)
                if self.scaler is not None:
                    self.scaler.update()
                logs = logs if isinstance(logs, dict) else {"loss": logs}
                # Every logged scalar in one tensor, read once: the step's one host sync (the history needs the loss anyway).
                values = torch.stack([torch.as_tensor(v, device=self.device).detach().float().reshape(()) for v in logs.values()])
                if world > 1:  # each rank's shard mean → the batch mean (equal shards)
                    values = distributed.average(values)
                logs = dict(zip(logs, values.tolist()))
                done += 1
                self._check_finite(logs, done, desc)
                self.history.append(logs["loss"])
                if clock is None:
                    clock = time.perf_counter()
                else:
                    self.timed_steps, self.images_timed = self.timed_steps + 1, self.images_timed + len(idx)
                    self.timed_seconds += time.perf_counter() - clock
                    clock = time.perf_counter()
                bar.update(1)
                if not self.quiet and self.main:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()}, refresh=False)
                if done % self.checkpoint_every == 0 or done == total:
                    self._check_weights(parts, done, desc)
                    self._save(ckpt, done, parts)
        finally:
            bar.close()
        if world > 1:  # DDP gives every rank rank 0's buffers (BatchNorm's statistics) before each forward; after the last too
            distributed.broadcast_buffers(self.distributed)
        return self.history

    def _diverged(self, what: str, step: int, desc: str) -> TrainingDiverged:
        """The one-line error of a run that went non-finite: where, what, and what to try."""
        kept = f"the checkpoint of step {self.saved_step} in {self.out} stays" if self.saved_step else "nothing was written"
        return TrainingDiverged(f"{desc} diverged at step {step}: {what}; lower the learning rate (--lr) or the noise, "
                                f"or check the data for NaN/inf ({kept})")  # fmt: skip

    def _check_finite(self, logs: dict[str, float], step: int, desc: str) -> None:
        """Stop the run at a NaN or infinite loss, naming the terms that went (the total only if no term did)."""
        bad = [name for name, value in logs.items() if not math.isfinite(value)]
        if bad:
            named = [name for name in bad if name != "loss"] or bad
            if named == ["loss"]:
                raise self._diverged(f"the loss is {logs['loss']}", step, desc)
            terms = ", ".join(f"{name} = {logs[name]}" for name in named)
            raise self._diverged(f"the loss term{'s' if len(named) > 1 else ''} {terms}", step, desc)

    def _check_weights(self, parts: dict[str, Any], step: int, desc: str) -> None:
        """Before a checkpoint is written: stop the run if a network's weights or normalisation statistics
        went NaN or infinite (an update can overflow while its loss was still finite). One host sync per
        checkpoint. Other buffers may be infinite by design (a classifier's code_max before it is measured)."""
        nets = {name: part for name, part in parts.items() if isinstance(part, torch.nn.Module)}
        tensors = {name: [*net.parameters(), *(b for key, b in net.named_buffers() if key.rpartition(".")[2].startswith("running_"))]
                   for name, net in nets.items()}  # fmt: skip
        flags = [torch.stack([torch.isfinite(t).all() for t in ts]).all() for ts in tensors.values() if ts]
        if not flags or torch.stack(flags).all().item():
            return
        bad = [name for name, ts in tensors.items() if ts and not all(torch.isfinite(t).all() for t in ts)]
        raise self._diverged(f"the weights of {', '.join(bad)} are not finite", step, desc)

    def _batches(self, n: int, batch_size: int, done: int, total: int, data, workers: int) -> Iterator[tuple]:
        """(idx,) for each remaining step, or (idx, x, y) with this process's rows of it read from ``data``.

        The loader's batch sampler is this process's shard of each global batch: a distributed
        sampler that keeps the resumable order of ``resumed_batches`` for any number of processes.
        """
        plan = resumed_batches(n, batch_size, self.config.seed, done, total)
        if data is None:
            yield from ((idx,) for idx in plan)
            return
        plan, for_loader = itertools.tee(plan)
        loader = make_loader(data, batch_sampler=(distributed.shard(idx).tolist() for idx in for_loader), num_workers=workers)
        for idx, (x, y) in zip(plan, loader):
            yield idx, x, y

    def _check_distributed(self, parts: dict[str, Any]) -> None:
        """A one-line error for a trained network the recipe did not hand to ``distribute``: its
        gradients would not be averaged and the ranks' copies would drift apart."""
        for name, part in parts.items():
            trains = isinstance(part, torch.nn.Module) and any(p.requires_grad for p in part.parameters())
            if trains and not any(part is seen for seen in self.distributed):
                raise ValueError(f"part {name!r} trains but was not given to run.distribute; its ranks would drift apart")

    def _seed_rank(self, state: dict[str, Any] | None, done: int) -> None:
        """Give each rank its own torch RNG stream (dropout masks differ over the shards): restored
        from the checkpoint of a run with as many processes, else derived from the seed."""
        rank, states = distributed.rank(), (state or {}).get("rank_rng")
        if states is not None and len(states) == distributed.world_size():
            torch.set_rng_state(states[rank]["torch"])
            if "cuda" in states[rank] and self.device.type == "cuda":
                torch.cuda.set_rng_state(states[rank]["cuda"], self.device)
        else:
            torch.manual_seed(rank_seed(self.config.seed, rank, done))

    def _save(self, ckpt: Checkpoint, done: int, parts: dict[str, Any]) -> None:
        """Rank 0 writes the checkpoint (with every rank's torch RNG when there are several)."""
        rank_rng = distributed.gather(rank_rng_state(self.device)) if distributed.world_size() > 1 else None
        if self.main:
            ckpt.save_training(self.config, done, self.wall_seconds(), self.gen, rank_rng, **parts)
        self.saved_step = done

    def throughput(self) -> dict[str, float]:
        """Training images per second over all processes (global batches through the step, data
        loading included, the first step of each ``fit`` left out as warm-up); {} if none was timed."""
        if not self.timed_steps or self.timed_seconds <= 0:
            return {}
        return {"train_images_per_s": round(self.images_timed / self.timed_seconds, 1)}

    def card(self, data: Any, metrics: dict) -> dict:
        """The weights' card: the config, the command, the data, wall time, ``metrics`` and the loss summary.

        Args:
            data: the training set's fingerprint (``.sha256`` and a one-line ``.summary``), or its SHA-256.
        """
        dataset_sha256 = getattr(data, "sha256", data)
        launch = {"data": data.summary} if hasattr(data, "summary") else {}
        launch |= {"processes": self.world_size} if self.world_size > 1 else {}
        launch |= {"amp": self.amp} if self.amp else {}
        summary = metrics | loss_summary(self.history) | self.throughput()
        return make_card(self.config, self.config.seed, dataset_sha256, self.wall_seconds(), summary, **launch)
