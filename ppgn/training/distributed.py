"""Training on several processes with PyTorch's own engine: torchrun, a process group, DistributedDataParallel.

    torchrun --nproc_per_node=2 -m ppgn train classifier --dataset digits --out runs/c
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --nproc_per_node=8 -m ppgn train generator ...

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK in each process's environment; ``init`` then joins the
process group (gloo on the CPU, NCCL on CUDA with one GPU per process, cuda:LOCAL_RANK). A plain
``python -m ppgn ...`` (or torchrun with one process) sets up nothing: every function here then
answers as for the one process it is, and training is exactly what it was without this module.

How a step stays the step of one process on the same global batch (see ``Run.fit``): every rank
sees the same global batch of indices and draws the same per-sample randomness for all of it from
the run's generator; each then keeps its own equal, contiguous shard (``shard``), and
DistributedDataParallel averages the gradients, so a loss that is a mean over the batch gives the
same update. Rank 0 alone writes files.
"""

from __future__ import annotations

import atexit
import functools
import os
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def launched() -> bool:
    """Whether torchrun (or an equivalent launcher) started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> torch.device:
    """Join the launcher's process group once per process (a no-op in a single process).

    Args:
        device: the device asked for; under several processes a bare "cuda" becomes cuda:LOCAL_RANK.
    Returns:
        the device this process trains on.
    """
    if not launched():
        return device
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        cuda = device.type == "cuda"
        dist.init_process_group("nccl" if cuda else "gloo", device_id=device if cuda else None)
        atexit.register(cleanup)
    return device


def cleanup() -> None:
    """Leave the process group (registered to run at exit by ``init``)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def world_size() -> int:
    """How many processes train together (1 without a process group)."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process is rank 0, the one that writes files and shows progress."""
    return rank() == 0


def barrier() -> None:
    """Wait until every process gets here (nothing to wait for in a single process)."""
    if world_size() > 1:
        dist.barrier()


def check_batch(batch_size: int) -> None:
    """A one-line error unless ``batch_size`` splits into equal shards over the processes."""
    world = world_size()
    if batch_size % world:
        raise ValueError(f"batch size {batch_size} is not divisible by the world size {world}: use a batch size "
                         f"that is a multiple of {world}, or a number of processes that divides {batch_size}")  # fmt: skip


def shard(batch: torch.Tensor) -> torch.Tensor:
    """This rank's contiguous share of a global batch (dim 0): rows [r·B/W, (r+1)·B/W); all of it in one process."""
    world = world_size()
    if world == 1:
        return batch
    size = len(batch) // world
    start = rank() * size
    return batch[start : start + size]


def average(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over the processes (a copy; the tensor itself in a single process)."""
    if world_size() == 1:
        return values
    total = values.detach().clone()
    dist.all_reduce(total)
    return total / world_size()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank (picklable; ``obj`` itself in a single process)."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any) -> list[Any] | None:
    """Every rank's ``obj``, in rank order, on rank 0 (None elsewhere); ``[obj]`` in a single process."""
    if world_size() == 1:
        return [obj]
    out = [None] * world_size() if is_main() else None
    dist.gather_object(obj, out, dst=0)
    return out


def broadcast_buffers(modules: list[nn.Module]) -> None:
    """Give every rank rank 0's buffers of ``modules`` (running statistics), as DDP does before each forward."""
    if world_size() == 1:
        return
    for module in modules:
        for buffer in module.buffers():
            dist.broadcast(buffer, src=0)


class Computation(nn.Module):
    """``fn(module, *args)`` as a forward, so that DistributedDataParallel sees a call other than
    the module's own forward (``CINN.log_prob``, a loss that calls several methods)."""

    def __init__(self, module: nn.Module, fn: Callable[..., Any]):
        super().__init__()
        self.module, self.fn = module, fn

    def forward(self, *args, **kwargs):
        return self.fn(self.module, *args, **kwargs)


def distribute(module: nn.Module, device: torch.device, fn: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """``module`` (or ``fn(module, ...)``) wrapped in DistributedDataParallel when several processes train.

    Gradients of everything the returned callable computes are averaged over the processes in the
    backward pass. On CUDA, BatchNorm layers become SyncBatchNorm (statistics of the global batch);
    on the CPU (gloo) SyncBatchNorm does not run, so BatchNorm keeps each process's statistics.

    Returns:
        in a single process: ``module`` itself, or ``functools.partial(fn, module)``; so nothing changes.
    """
    if world_size() == 1:
        return module if fn is None else functools.partial(fn, module)
    if device.type == "cuda":
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)  # in place below the root: same parameters
    wrapped = module if fn is None else Computation(module, fn)
    if device.type != "cuda":
        return DistributedDataParallel(wrapped)
    return DistributedDataParallel(wrapped, device_ids=[torch.cuda.current_device() if device.index is None else device.index])
