"""Training under torchrun: two CPU processes (gloo) make the same weights as one process on the same
global batch, a world size that does not divide the batch is a one-line error, rank 0 alone
writes, and a killed two-process run resumes to the same weights.

The two processes are started once (by torch.multiprocessing, with the environment torchrun would
set) and go through every scenario in turn, because starting them costs more than the training.
"""

import dataclasses
import os
import socket
import sys

import pytest
import torch
import torch.multiprocessing as mp
from kill_helpers import CountedBatches, Interrupt

import ppgn.training.loop as loop
from ppgn.training import distributed
from ppgn.training.cinn import CINNTrainConfig, train_cinn
from ppgn.training.condition_net import ConditionNetTrainConfig, train_condition_net

# Two epochs of 4 steps (global batch 64); the checkpoint at step 3 lets a kill lose steps 4 and 5.
NET = ConditionNetTrainConfig(dataset="digits", epochs=2, batch_size=64, train_subset=256, seed=5)
FLOW = CINNTrainConfig(dataset="digits", epochs=1, batch_size=64, train_subset=256, blocks=2, hidden=32, seed=5)
WRITES = ("open", "os.rename", "os.mkdir", "os.remove", "tempfile.mkstemp")  # audit events that make or change files


@dataclasses.dataclass(frozen=True)
class StreamConfig:
    epochs: int = 2
    batch_size: int = 64
    seed: int = 5


def train_streamed(out: str):
    """A linear classifier trained through ``fit(data=...)``: each process reads its rows of each
    batch from a DataLoader, the shifts drawn for the whole batch (no BatchNorm: on gloo its
    statistics are per process)."""
    from ppgn.data import open_dataset, take_subset
    from ppgn.training.classifier import augmenter

    run = loop.Run.start(StreamConfig(), out, quiet=True)
    train = take_subset(open_dataset("digits", "train"), 256, run.gen)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    net, augment = run.distribute(model), augmenter(train, 2, run)

    def step(idx, x, y):
        loss = torch.nn.functional.cross_entropy(net(augment(x, len(idx))), y)
        run.descend(loss, opt)
        return loss

    run.fit(len(train), step, dict(model=model, opt=opt), data=train)
    return model


def worker(rank: int, port: int, root: str) -> None:
    """One of two processes, as torchrun would start it; leaves what it saw in ``root/rank{rank}.pt``."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    runs = os.path.join(root, "runs")
    writes = []

    def audit(event, args):
        paths = args[:2] if event == "os.rename" else args[:1]  # os.replace is audited as os.rename(src, dst)
        if event == "open" and not any(c in str(args[1]) for c in "wax+"):
            return
        writes.extend(str(p) for p in paths if event in WRITES and str(p).startswith(runs))

    sys.addaudithook(audit)
    seen = {}
    net, card = train_condition_net(NET, os.path.join(runs, "net"), quiet=True, checkpoint_every=3)
    seen["net"] = {k: v.clone() for k, v in net.state_dict().items()}
    seen["processes"] = card["processes"]
    seen["streamed"] = {k: v.clone() for k, v in train_streamed(os.path.join(runs, "streamed")).state_dict().items()}
    flow, _ = train_cinn(FLOW, os.path.join(runs, "flow"), quiet=True)
    seen["flow"] = {k: v.clone() for k, v in flow.state_dict().items()}
    try:
        train_condition_net(dataclasses.replace(NET, batch_size=63), os.path.join(runs, "odd"), quiet=True)
    except ValueError as err:
        seen["odd"] = str(err)
    loop.resumed_batches = CountedBatches(die_after=5)
    try:
        train_condition_net(NET, os.path.join(runs, "killed"), quiet=True, checkpoint_every=3)
    except Interrupt:
        seen["killed_at"] = loop.Checkpoint(os.path.join(runs, "killed")).load()["step"]
    loop.resumed_batches = resumed = CountedBatches()
    again, _ = train_condition_net(NET, os.path.join(runs, "killed"), quiet=True, checkpoint_every=3)
    seen["resumed"] = {k: v.clone() for k, v in again.state_dict().items()}
    seen["resumed_steps"] = resumed.steps
    seen["writes"] = writes
    torch.save(seen, os.path.join(root, f"rank{rank}.pt"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_processes(root) -> list[dict]:
    """Run ``worker`` in two processes; what each saw, rank 0's first."""
    # A fork server imports what takes seconds once (torch's optimizers and DDP import torch._dynamo;
    # the digits come from scikit-learn), and forks both processes from it. Not from this process:
    # a fork of a process whose OpenMP threads have run can hang.
    mp.set_forkserver_preload([__name__, "torch._dynamo", "sklearn.datasets"])
    mp.start_processes(worker, args=(free_port(), str(root)), nprocs=2, join=True, start_method="forkserver")
    return [torch.load(root / f"rank{r}.pt", weights_only=True) for r in range(2)]


def largest_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_two_processes_train_as_one(tmp_path):
    """One test, so that the two processes start once whichever xdist worker runs it."""
    rank0, rank1 = two_processes(tmp_path)

    # The weights of one process on the same global batch, to float tolerance; the ranks' copies identical.
    streamed = lambda config, out, quiet: (train_streamed(out), None)  # noqa: E731
    for name, recipe, config in (("net", train_condition_net, NET), ("flow", train_cinn, FLOW), ("streamed", streamed, None)):
        assert largest_difference(rank0[name], rank1[name]) == 0.0, name
        one, _ = recipe(config, tmp_path / f"one-{name}", quiet=True)
        diff = largest_difference(one.state_dict(), rank0[name])
        print(f"{name}: largest |Δweight| between 1 and 2 processes: {diff:.2e}")
        assert diff <= 1e-5, name
    assert rank0["processes"] == rank1["processes"] == 2  # as the card says

    # A world size that does not divide the batch: a one-line error on every rank, before any file.
    for seen in (rank0, rank1):
        assert "\n" not in seen["odd"] and "batch size 63" in seen["odd"] and "world size 2" in seen["odd"]
    assert not (tmp_path / "runs" / "odd").exists()

    # Rank 0 alone writes: checkpoints, weights and cards.
    assert rank1["writes"] == []
    written = {os.path.relpath(p, tmp_path / "runs") for p in rank0["writes"] if not os.path.basename(p).startswith(".")}
    assert {"net/checkpoint.pt", "net/condition-mlp.safetensors", "net/condition-mlp.json", "flow/cinn.safetensors"} <= written

    # A killed two-process run resumes, on every rank, to the weights of the unbroken one.
    for seen in (rank0, rank1):
        assert seen["killed_at"] == 3  # steps 4 and 5 were lost with the kill
        assert seen["resumed_steps"] == 8 - 3  # it went on from the checkpoint, not from the start
        for k, v in seen["net"].items():
            assert torch.equal(v, seen["resumed"][k]), k


def test_amp_is_checked_at_the_start(tmp_path):
    with pytest.raises(ValueError, match="fp16 needs CUDA"):
        loop.Run.start(NET, tmp_path, "cpu", amp="fp16")
    with pytest.raises(ValueError, match="valid: bf16, fp16, none"):
        loop.Run.start(NET, tmp_path, "cpu", amp="fp8")
    assert loop.Run.start(NET, tmp_path, "cpu", amp="none").amp is None


def test_bf16_autocast_trains_on_the_cpu(tmp_path):
    config = dataclasses.replace(NET, epochs=1)
    _, card = train_condition_net(config, tmp_path, quiet=True, amp="bf16")
    assert card["amp"] == "bf16" and card["metrics"]["train_loss_end"] > 0
    assert torch.isfinite(torch.tensor(card["metrics"]["train_loss_end"]))


def test_a_single_process_needs_no_process_group():
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main()
    batch = torch.arange(6)
    assert distributed.shard(batch) is batch
    distributed.check_batch(7)  # one process divides every batch
