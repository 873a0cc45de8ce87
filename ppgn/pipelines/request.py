"""One sampling request, whatever the model and however many conditions: the call behind
``ppgn sample`` (and any other front end), so that every entry point resolves names the same way.

    >>> import ppgn
    >>> from ppgn.pipelines.request import SampleRequest, run
    >>> out = run(ppgn.load("fashion-mnist"), SampleRequest(class_="bag", not_class="sneaker", num=2, steps=5))
    >>> out.labels.tolist()
    [8, 8]

A request names a class ("all": ``num`` of each), and for a PPGN any of: a class to move away
from, a caption, a user's network; the chain's settings; where chains start. A cINN takes the
class, the seed, its temperature and denoising only: a request that asks a cINN for a chain
setting is refused with one line naming what a cINN takes.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from ..data import from_uint8
from ..io import NpzWriter, check_choice, check_count, check_number, check_seed, load_npz
from ..sampling import DEFAULT_PRESET, PRESETS
from ..sampling.sampler import MAX_EPS
from .conditions import Start, compose
from .outputs import MAX_NUM, Samples

# The request's fields a cINN has no use for, with the option that sets each on the command line.
CHAIN_ONLY = {"steps": "--steps", "eps1": "--eps1", "eps2": "--eps2", "eps3": "--eps3", "init_image": "--init-image", "record": "--gif"}
CINN_ONLY = {"temperature": "--temperature", "denoise": "--denoise/--no-denoise"}
PLUGGED = ("not_class", "caption", "condition_module", "target")
BLOCK = MAX_NUM  # samples per pipeline call; each block has its own seed (block_seed)
MAX_TOTAL = 10_000_000  # samples in one request: blocks stream to the output file
MAX_STEPS = 1_000_000  # chain steps: far beyond any preset's (200), short of a chain that never ends


@dataclass(frozen=True)
class SampleRequest:
    """What to sample. ``None`` means the preset's (or the model's) default.

    Attributes:
        class_: a class name or index, or "all" (then ``num`` of every class).
        num: samples (per class with "all").
        preset: the PPGN variant (``ppgn.sampling.PRESETS``).
        steps, eps1, eps2, eps3: override the preset's chain length and ε's.
        form: the class gradient, "log-softmax" or "official".
        init: where chains start: "gaussian", "uniform" or "zeros".
        init_image: uint8 (H, W, C) of the model's size: every chain starts from h = E(image).
        not_class, caption, caption_weight, condition_module, weights, target, calibrate: plugged
            conditions (``ppgn.pipelines.conditions.compose``).
        temperature, denoise: a cINN's latent temperature and Tweedie denoising.
        record: keep the image trajectory of the first ``record`` chains (for an animation).
        mh: exact MALA (accept/reject each step) with a prior that has a log density (ppgn-flow).
    """

    class_: str | int | None = None
    num: int = 16
    seed: int = 0
    preset: str = DEFAULT_PRESET
    steps: int | None = None
    eps1: float | None = None
    eps2: float | None = None
    eps3: float | None = None
    form: str = "log-softmax"
    init: str = "gaussian"
    init_image: np.ndarray | None = None
    not_class: str | int | None = None
    caption: str | None = None
    caption_weight: float = 1.0
    condition_module: str | None = None
    weights: str | Path | None = None
    target: int | None = None
    calibrate: str = "up"
    temperature: float | None = None
    denoise: bool | None = None
    record: int = 0
    mh: bool = False

    @property
    def per_class(self) -> bool:
        return isinstance(self.class_, str) and self.class_.strip().lower() == "all"

    @property
    def plugged(self) -> bool:
        return any(getattr(self, name) is not None for name in PLUGGED)

    def given(self, names) -> list[str]:
        """Of ``names``, those this request sets (to anything but None or a number 0)."""
        return [n for n in names if not _unset(getattr(self, n))]


def _unset(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0)


def check(pipe, request: SampleRequest) -> None:
    """Refuse, in one line, a request the pipeline cannot serve.

    Raises:
        ValueError: naming the option and its valid values.
    """
    r = request
    if r.class_ is None and not r.plugged:
        raise ValueError("no condition given; use --class, --caption and/or --condition-module")
    if r.weights is not None and r.condition_module is None:
        raise ValueError("--weights loads the network of --condition-module; give --condition-module too")
    if r.per_class and r.plugged:
        raise ValueError("--class all cannot be combined with other conditions; name one class")
    limit = MAX_TOTAL // len(pipe.classes) if r.per_class else MAX_TOTAL
    check_count(r.num, "--num" + (" with --class all" if r.per_class else ""), high=limit)
    check_seed(r.seed, "--seed")
    check_choice(r.preset, "preset", PRESETS)
    if r.steps is not None:
        check_count(r.steps, "--steps", high=MAX_STEPS)
    for name in ("eps1", "eps2", "eps3"):
        if getattr(r, name) is not None:
            check_number(getattr(r, name), f"--{name}", low=0, high=MAX_EPS)
    check_count(r.record, "record", low=0)
    if r.mh and pipe.kind == "ppgn":
        if PRESETS[r.preset].prior != "flow":
            raise ValueError(f"--mh needs a prior with a log density: --preset ppgn-flow (preset {r.preset!r} has only a score)")
    if (r.mh or PRESETS[r.preset].exact) and pipe.kind == "ppgn" and (r.eps1 is not None or r.eps3 is not None):
        raise ValueError("exact MALA (--mh, preset ppgn-flow-mh) sets the prior's weight and the noise itself: drop --eps1 and --eps3")
    if pipe.kind == "cinn":
        if r.plugged:
            raise ValueError("a cINN takes --class only, not --not-class, --caption or --condition-module")
        chain = [CHAIN_ONLY[n] for n in r.given(CHAIN_ONLY)] + (["--preset"] if r.preset != DEFAULT_PRESET else []) + (["--mh"] if r.mh else [])
        if chain:
            raise ValueError(f"{', '.join(chain)} apply to PPGN chains, not to a cINN; valid for a cINN: "
                             "--class, --num, --seed, --temperature, --denoise/--no-denoise")
        if r.temperature is not None:
            check_number(r.temperature, "--temperature", low=0, low_open=True, high=10)
    elif pipe.kind == "ppgn":
        cinn = [CINN_ONLY[n] for n in r.given(CINN_ONLY)]
        if cinn:
            raise ValueError(f"{cinn[0]} is for cINN models, not PPGN")
    else:
        raise ValueError(f"a {pipe.kind} model does not sample classes; valid kinds: ppgn, cinn")


def total(pipe, request: SampleRequest) -> int:
    """How many samples the request asks for (``num`` of every class with "all")."""
    return request.num * len(pipe.classes) if request.per_class else request.num


def block_seed(seed: int, block: int) -> int:
    """The seed of block ``block``: the seed itself for the first (so a request of up to
    ``BLOCK`` samples gives what one pipeline call gives), one derived from both after it."""
    if block == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"ppgn:{seed}:{block}".encode()).digest()[:8], "big") >> 1


def sample_block(pipe, request: SampleRequest, block: int, progress: bool = False) -> Samples:
    """Samples ``block * BLOCK`` .. of the request, with the block's own seed."""
    r = request
    start, stop = block * BLOCK, min((block + 1) * BLOCK, total(pipe, r))
    if r.per_class:
        labels = [k for k in range(len(pipe.classes)) for _ in range(r.num)][start:stop]
        return _sample(pipe, replace(r, class_=labels, num=stop - start, seed=block_seed(r.seed, block)), progress)
    return _sample(pipe, replace(r, num=stop - start, seed=block_seed(r.seed, block)), progress)


def run(pipe, request: SampleRequest, progress: bool = False) -> Samples:
    """Check the request, then sample it with the pipeline (a PPGN's chain or a cINN's inverse pass),
    ``BLOCK`` samples at a time, each block with its own seed (``block_seed``)."""
    check(pipe, request)
    parts = [sample_block(pipe, request, b, progress) for b in range(-(-total(pipe, request) // BLOCK))]
    return parts[0] if len(parts) == 1 else concatenate(parts)


def concatenate(parts: list[Samples]) -> Samples:
    """One ``Samples`` of several blocks (the trajectory is the first block's)."""
    return Samples(
        array=np.concatenate([p.array for p in parts]), labels=np.concatenate([p.labels for p in parts]),
        prob=np.concatenate([p.prob for p in parts]), h=torch.cat([p.h for p in parts]),
        prob_per_step=torch.cat([p.prob_per_step for p in parts], 1), trajectory=parts[0].trajectory,
        acceptance=None if parts[0].acceptance is None else np.concatenate([p.acceptance for p in parts]),
    )


def world() -> tuple[int, int]:
    """(rank, number of ranks): torchrun's, joining its process group on first use; (0, 1) without torchrun."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def run_to_file(pipe, request: SampleRequest, out: str | Path, progress: bool = False) -> Samples:
    """Sample the request into one ``.npz`` (the contract), a block at a time, never holding it all.

    Under torchrun each rank samples the blocks b with b mod ranks = rank into a shard of its
    own; rank 0 then merges the shards in block order into ``out`` and removes them. Blocks
    carry their own seeds, so the file is the same for any number of ranks.

    Returns:
        the first block's samples on rank 0 (for a grid or an animation), None on the others.
    """
    check(pipe, request)
    rank, size = world()
    out = Path(out)
    count = -(-total(pipe, request) // BLOCK)
    shard = out.parent / f".{out.name}.rank{rank}.npz"
    first = None
    with NpzWriter(shard if size > 1 else out) as writer:
        for b in range(rank, count, size):
            part = sample_block(pipe, request, b, progress and rank == 0)
            writer.add(part.array, part.labels, part.prob)
            first = part if b == 0 else first
    if size == 1:
        return first
    dist.barrier()
    if rank == 0:
        shards = [load_npz(out.parent / f".{out.name}.rank{r}.npz", mmap=True) for r in range(size)]
        with NpzWriter(out) as writer:
            for b in range(count):
                data, row = shards[b % size], (b // size) * BLOCK
                writer.add(*(np.asarray(data[k][row : row + BLOCK]) for k in ("images", "labels", "prob")))
        for r in range(size):
            (out.parent / f".{out.name}.rank{r}.npz").unlink()
    dist.barrier()
    return first


def _sample(pipe, request: SampleRequest, progress: bool) -> Samples:
    """One pipeline call for a checked request of at most ``BLOCK`` samples."""
    r = request
    labels = [k for k in range(len(pipe.classes)) for _ in range(r.num)] if r.per_class else r.class_
    num = len(labels) if r.per_class else r.num
    if pipe.kind == "cinn":
        temperature = 1.0 if r.temperature is None else r.temperature
        return pipe.sample(labels, num=num, seed=r.seed, temperature=temperature, denoise=r.denoise is not False)
    init = r.init
    if r.init_image is not None:
        init = pipe.encode(image_tensor(pipe, r.init_image))
    condition = None
    if r.plugged:
        condition, labels = compose(
            pipe, num, r.class_, r.not_class, r.caption, r.caption_weight, r.condition_module, r.weights, r.target,
            start=Start(num, r.preset, r.seed, init), calibration=r.calibrate,
        )
    return pipe.sample(
        labels, num=num, condition=condition, preset=r.preset, seed=r.seed, steps=r.steps, eps1=r.eps1, eps2=r.eps2,
        eps3=r.eps3, form=r.form, init=init, record=r.record, progress=progress, mh=r.mh,
    )


def image_tensor(pipe, image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) of the model's size and channels → (1, C, H, W) in [-1, 1].

    Raises:
        ValueError: an image of another size or channel count.
    """
    h, w, c = pipe.image_shape
    if image.shape != (h, w, c):
        raise ValueError(f"--init-image must be {h}×{w} pixels with {c} channel(s), (H, W, C) = {(h, w, c)}; got shape {image.shape}")
    return from_uint8(image[None])
