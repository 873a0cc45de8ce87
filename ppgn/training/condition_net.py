"""Recipe: train any user network (``package.module:factory`` returning logits) by cross-entropy.

    ppgn train condition-net --module ppgn.examples.condition_nets:mlp --out runs/condition-mlp

The output is the plain state dict as safetensors (the format ``--weights`` reads, with the
module path in its metadata) and a JSON card beside it, so the network plugs into
``ppgn sample --condition-module ... --weights ...`` exactly as a user's own would.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tqdm import tqdm

from ..data import load_dataset, to_tensor
from ..io import atomic_write
from ..models.user import load_factory
from .classifier import accuracy, random_shift
from .common import Checkpoint, loss_summary, make_card, pick_device, resumed_batches


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
) -> tuple[torch.nn.Module, dict]:
    """Train, checkpointing to ``out``; weights go to ``out/<factory>.safetensors``."""
    started = time.time()
    dev = pick_device(device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    net = load_factory(config.module).to(dev)
    train, test = load_dataset(config.dataset, "train", data_dir), load_dataset(config.dataset, "test", data_dir)
    if config.train_subset:
        train = train.subset(config.train_subset, gen)
    x_train, y_train = to_tensor(train.images), torch.from_numpy(train.labels)
    x_test, y_test = to_tensor(test.images), torch.from_numpy(test.labels)
    steps_per_epoch = max(1, len(train) // config.batch_size)
    total = config.epochs * steps_per_epoch
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total)
    ckpt = Checkpoint(out)
    parts = dict(model=net, opt=opt, sched=sched)
    step, elapsed = ckpt.resume(config, gen, **parts)
    history: list[float] = []
    bar = tqdm(total=total, initial=step, disable=quiet, desc="train condition-net", dynamic_ncols=True)
    for idx in resumed_batches(len(train), min(config.batch_size, len(train)), config.seed, step, total):
        net.train()
        x = random_shift(x_train[idx], config.max_shift, gen).to(dev)
        loss = F.cross_entropy(net(x), y_train[idx].to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        history.append(loss.item())
        bar.update(1)
        if step % checkpoint_every == 0 or step == total:
            ckpt.save_training(config, step, elapsed + time.time() - started, gen, **parts)
    bar.close()
    net.eval()
    metrics = {"test_accuracy": round(accuracy(net, x_test, y_test), 4), "train_size": len(train), **loss_summary(history)}
    card = make_card(config, config.seed, train.sha256, elapsed + time.time() - started, metrics)
    save_user_weights(net, Path(out) / f"condition-{config.module.rpartition(':')[2]}.safetensors", config, card)
    return net, card
