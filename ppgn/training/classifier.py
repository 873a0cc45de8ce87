"""Recipe: train the encoder/classifier E/C, or the independent evaluator, by cross-entropy.

    ppgn train classifier --data fashion-mnist --out runs/classifier
    ppgn train evaluator  --data photos/ --size 64 --out runs/evaluator

Light augmentation (random shifts of up to 2 pixels, or the data's own, ``augment_emoji``) and label smoothing 0.05: a few points of
test accuracy for free, and smoother logits whose gradients the sampler follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import make_loader, open_dataset, take_subset
from ..models import (
    Classifier,
    ClassifierConfig,
    Evaluator,
    EvaluatorConfig,
    save_model,
)
from ..models.evaluator import build_reference
from .common import OPTIONAL, check_fields, check_image_shape, encode_dataset
from .limits import (
    BATCH,
    CHANNELS,
    DECAY,
    EPOCHS,
    FRACTION,
    LR,
    MULTIPLIER,
    SEED,
    SHIFT,
    SIZE,
    SUBSET,
    UNITS,
)
from .loop import Run

SEEDS = {"classifier": 0, "evaluator": 1}  # the models, each with its default seed: E/C and the evaluator differ


@dataclass(frozen=True)
class ClassifierTrainConfig:
    model: str = "classifier"  # "classifier" (E/C, used while sampling) or "evaluator" (measurement only)
    dataset: str = "fashion-mnist"  # a built-in name, a folder root/<class>/*.png, or a contract .npz (open_dataset)
    size: int | None = None  # image side, 28, 32, 64 or 128; None: the data's own
    channels: int | None = None  # 1 or 3; None: the data's own
    width: float = 1.0  # the network's width multiplier (ClassifierConfig / EvaluatorConfig)
    code_dim: int = 256  # size of h (E/C only)
    skip_bad: bool = False  # leave out files that are not images (folders) instead of refusing
    epochs: int = 12
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.05
    max_shift: int = 2  # pixels; data with its own augmentation (emoji) uses that instead
    train_subset: int = 0  # 0 = the whole training set
    seed: int | None = None  # None: the model's own (SEEDS)

    def __post_init__(self):
        if self.model not in SEEDS:
            raise ValueError(f"unknown model {self.model!r}; valid: {', '.join(SEEDS)}")
        if self.seed is None:
            object.__setattr__(self, "seed", SEEDS[self.model])
        check_fields(self, size=SIZE | OPTIONAL, channels=CHANNELS | OPTIONAL, width=MULTIPLIER, code_dim=UNITS, epochs=EPOCHS,
                     batch_size=BATCH, lr=LR, weight_decay=DECAY, label_smoothing=FRACTION, max_shift=SHIFT, train_subset=SUBSET,
                     seed=SEED)  # fmt: skip
        check_image_shape(self)


def draw_shifts(n: int, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shifts (dy, dx) in 0 .. 2·max_shift for ``n`` images: (n, 2), drawn for a whole batch."""
    return torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).T


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None,
                 shifts: torch.Tensor | None = None, fill: float | None = -1.0) -> torch.Tensor:  # fmt: skip
    """Translate each image by up to ``max_shift`` pixels.

    Args:
        x: (B, C, H, W).
        shifts: (B, 2) from ``draw_shifts`` (this process's rows of a batch's); None: drawn from ``generator``.
        fill: the value brought in at the edges (-1: the black background of the grey sets);
            None: the border pixels repeated (images whose background is unknown).
    """
    if max_shift == 0:
        return x
    b, c, hgt, wid = x.shape
    dy, dx = (draw_shifts(b, max_shift, generator) if shifts is None else shifts).T
    pad = [max_shift] * 4
    padded = F.pad(x, pad, mode="replicate") if fill is None else F.pad(x, pad, value=fill)
    rows = (dy[:, None] + torch.arange(hgt))[:, :, None].expand(b, hgt, wid)
    cols = (dx[:, None] + torch.arange(wid))[:, None, :].expand(b, hgt, wid)
    batch, channel = torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None]
    return padded[batch, channel, rows[:, None], cols[:, None]]


def augmenter(train, max_shift: int, run: Run):
    """The step's augmentation of this process's rows ``x`` of a global batch of ``n``: the data's
    own (``train.augment``) if it has one, else random shifts; drawn for the whole batch, so a step
    does not depend on the number of processes."""
    if train.augment is not None:
        return lambda x, n: train.augment(x, u=run.shard(torch.rand(n, train.augment.draws, generator=run.gen)))
    return lambda x, n: random_shift(x, max_shift, shifts=run.shard(draw_shifts(n, max_shift, run.gen)), fill=train.background)


@torch.no_grad()
def accuracy(model: torch.nn.Module, data, workers: int = 0) -> float:
    """The share of ``data`` (a torch dataset of (x, y)) that ``model`` classifies right, streamed."""
    model.eval()
    device = next(model.parameters()).device
    correct = sum((model(x.to(device)).argmax(1).cpu() == y).sum().item() for x, y in make_loader(data, batch_size=500, num_workers=workers))
    return correct / len(data)


@torch.no_grad()
def set_code_statistics(model: Classifier, data, workers: int = 0) -> None:
    """Store the per-unit maximum of h = E(x) and a Gaussian fit of h over ``data`` (streamed)."""
    h = encode_dataset(model, data, workers).double()
    cov = torch.cov(h.T) + 1e-4 * torch.eye(h.shape[1], dtype=h.dtype)  # jitter: dead units have zero variance
    model.code_max.copy_(h.amax(0).float())
    model.code_mean.copy_(h.mean(0).float())
    model.code_scale_tril.copy_(torch.linalg.cholesky(cov).float())


def train_classifier(
    config: ClassifierTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
    amp: str | None = None,
    workers: int = 0,
) -> tuple[torch.nn.Module, dict]:
    """Train, checkpointing to ``out`` (resumed if a checkpoint of the same config is there).

    Args:
        workers: processes decoding images ahead of the training step (0: in this process).
    Returns:
        the trained model (eval mode) and its card; the weights are saved to
        ``out/<model>.safetensors`` with the card beside them.
    """
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    opened = dict(size=config.size, channels=config.channels, data_dir=data_dir, skip_bad=config.skip_bad)
    train = take_subset(open_dataset(config.dataset, "train", **opened), config.train_subset, run.gen)
    steps = run.total_steps(len(train))  # refuses a set smaller than one batch, before any work
    test = open_dataset(config.dataset, "test", **opened)
    channels, size, _ = train.image_shape
    shape = dict(num_classes=len(train.classes), image_size=size, image_channels=channels, width=config.width)
    if config.model == "classifier":
        model = Classifier(ClassifierConfig(code_dim=config.code_dim, **shape))
    else:
        model = Evaluator(EvaluatorConfig(**shape))
    model.to(run.device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=steps)
    net = run.distribute(model)
    augment = augmenter(train, config.max_shift, run)

    def step(idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        model.train()
        logits = net(augment(x, len(idx)).to(run.device))
        loss = F.cross_entropy(logits, y.to(run.device), label_smoothing=config.label_smoothing)
        run.descend(loss, opt, sched)
        return loss

    run.fit(len(train), step, dict(model=model, opt=opt, sched=sched), f"train {config.model}", data=train, workers=workers)
    model.eval()
    if isinstance(model, Classifier):
        set_code_statistics(model, train, workers)
    card = run.card(train.fingerprint, {"test_accuracy": round(accuracy(model, test, workers), 4), "train_size": len(train)})
    if run.main:
        save_model(model, Path(out) / f"{config.model}.safetensors", card)
        if isinstance(model, Evaluator):  # real-image features, so evaluation needs no dataset later
            build_reference(model, test, Path(out) / "evaluator-reference.safetensors")
    run.barrier()
    return model, card
