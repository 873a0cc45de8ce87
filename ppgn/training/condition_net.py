"""Recipe: train any user network (``package.module:factory`` returning logits) by cross-entropy.

    ppgn train condition-net --module ppgn.examples.condition_nets:mlp --out runs/condition-mlp

The output is the plain state dict as safetensors (the format ``--weights`` reads, with the
module path in its metadata) and a JSON card beside it, so the network plugs into
``ppgn sample --condition-module ... --weights ...`` exactly as a user's own would.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ..data import load_dataset, to_tensor
from ..io import InputError, atomic_write
from ..models.user import load_factory
from .classifier import accuracy, random_shift
from .common import check_fields
from .limits import BATCH, DECAY, EPOCHS, LR, SEED, SHIFT, SUBSET
from .loop import Run


@dataclass(frozen=True)
class ConditionNetTrainConfig:
    module: str = "ppgn.examples.condition_nets:mlp"  # the factory, package.module:factory
    dataset: str = "fashion-mnist"
    epochs: int = 4
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    max_shift: int = 1
    train_subset: int = 0  # 0 = the whole training set
    seed: int = 0

    def __post_init__(self):
        check_fields(self, epochs=EPOCHS, batch_size=BATCH, lr=LR, weight_decay=DECAY, max_shift=SHIFT, train_subset=SUBSET, seed=SEED)
        module, _, factory = str(self.module).partition(":")
        if not (isinstance(self.module, str) and module.strip() and factory.strip()):
            raise InputError(f"--module must look like package.module:factory (a function returning the network), got {self.module!r}")


def save_user_weights(net: torch.nn.Module, path: str | Path, config: ConditionNetTrainConfig, card: dict | None) -> None:
    """The state dict (float32) with the factory and training config in the metadata; card beside."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    metadata = {"module": config.module, "training_config": json.dumps(asdict(config))}
    atomic_write(path, lambda tmp: save_file(state, tmp, metadata=metadata))
    if card is not None:
        text = json.dumps({"module": config.module, **card}, indent=2) + "\n"
        atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text))


def train_condition_net(
    config: ConditionNetTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
    amp: str | None = None,
) -> tuple[torch.nn.Module, dict]:
    """Train, checkpointing to ``out``; weights go to ``out/<factory>.safetensors``."""
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    net = load_factory(config.module).to(run.device)
    train, test = load_dataset(config.dataset, "train", data_dir), load_dataset(config.dataset, "test", data_dir)
    if config.train_subset:
        train = train.subset(config.train_subset, run.gen)
    steps = run.total_steps(len(train))  # refuses a set smaller than one batch, before any work
    x_train, y_train = to_tensor(train.images), torch.from_numpy(train.labels)
    x_test, y_test = to_tensor(test.images), torch.from_numpy(test.labels)
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    ddp = run.distribute(net)

    def step(idx: torch.Tensor) -> torch.Tensor:
        net.train()
        x, y = run.shard(random_shift(x_train[idx], config.max_shift, run.gen), y_train[idx])
        loss = F.cross_entropy(ddp(x.to(run.device)), y.to(run.device))
        run.descend(loss, opt, sched)
        return loss

    run.fit(len(train), step, dict(model=net, opt=opt, sched=sched), "train condition-net")
    net.eval()
    test_set = torch.utils.data.TensorDataset(x_test, y_test)
    card = run.card(train.sha256, {"test_accuracy": round(accuracy(net, test_set), 4), "train_size": len(train)})
    if run.main:
        save_user_weights(net, Path(out) / f"condition-{config.module.rpartition(':')[2]}.safetensors", config, card)
    run.barrier()
    return net, card
