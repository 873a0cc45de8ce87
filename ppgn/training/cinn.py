"""Recipe: train a class-conditional cINN by maximum likelihood (Ardizzone et al., 2019).

    ppgn train cinn --dataset mnist --out runs/mnist/cinn

The loss is the negative log-likelihood of dequantised images, in bits per dimension:
u (8-bit pixels) → y = (u + noise)/256 → x = logit(α + (1 − 2α)·y) → z = f(x; c) and

    −log p(y | c) = ½‖z‖² + (D/2)·log 2π − log|det ∂z/∂x| − log|det ∂x/∂y|.

Uniform noise (the default) makes the reported bits/dim an upper bound on the 8-bit model's;
Gaussian noise with σ = 0.08 on normalised pixels is the authors' MNIST recipe (``--dequantisation
gaussian``). Adam with weight decay, a cosine learning-rate schedule and gradient-norm clipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log
from pathlib import Path

import torch

from ..data import load_dataset
from ..io import InputError
from ..models.cinn import (
    CINN,
    CINNConfig,
    dequantise,
    evaluate_bits_per_dim,
    nll_bits,
    pixels_to_flow,
)
from ..models.io import save_model
from .common import check_fields
from .limits import (
    BATCH,
    BLOCKS,
    CLAMP,
    DECAY,
    EPOCHS,
    LR,
    PIXEL_NOISE,
    SEED,
    SUBSET,
    UNITS,
    WEIGHT,
)
from .loop import Run

DEQUANTISATIONS = ("uniform", "gaussian")


@dataclass(frozen=True)
class CINNTrainConfig:
    dataset: str = "mnist"
    epochs: int = 60  # the authors' minimal MNIST model; scaled down for CPU runs (see the card)
    batch_size: int = 256
    lr: float = 5e-4
    weight_decay: float = 1e-5
    grad_clip: float = 10.0
    blocks: int = 8
    hidden: int = 96
    clamp: float = 1.0
    cond_features: int = 32
    layout: str = "fc"  # "fc", "multiscale" or "pyramid" (see CINNConfig)
    conv_blocks: tuple[int, ...] = (4, 4)
    conv_hidden: tuple[int, ...] = (32, 64)
    logit_alpha: float | None = None  # None: 0.05 with uniform dequantisation, 0 with gaussian (which leaves [0, 1])
    dequantisation: str = "uniform"  # "uniform" in [0, 1) pixel units, or "gaussian" (then logit_alpha must be 0)
    noise: float = 0.08  # σ of Gaussian dequantisation, in units of normalised pixels y ∈ [0, 1]
    class_weight: float = 0.0  # β of the class term β·CE(p(c | x)) / (D·ln 2); 0 = maximum likelihood only
    class_batch: int = 32  # images per batch that pay the class term (it costs K passes each)
    train_subset: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.dequantisation not in DEQUANTISATIONS:
            raise ValueError(f"unknown dequantisation {self.dequantisation!r}; valid: {', '.join(DEQUANTISATIONS)}")
        if self.logit_alpha is None:
            object.__setattr__(self, "logit_alpha", 0.0 if self.dequantisation == "gaussian" else 0.05)
        if self.dequantisation == "gaussian" and self.logit_alpha:
            raise ValueError("gaussian dequantisation leaves [0, 1], so it needs logit_alpha = 0 (a flow on the pixels themselves)")
        check_fields(self, epochs=EPOCHS, batch_size=BATCH, lr=LR, weight_decay=DECAY, grad_clip=CLAMP, blocks=BLOCKS, hidden=UNITS,
                     clamp=CLAMP, cond_features=UNITS, conv_blocks=BLOCKS, conv_hidden=UNITS, logit_alpha=dict(low=0, high=0.5, high_open=True),
                     noise=PIXEL_NOISE, class_weight=WEIGHT, class_batch=BATCH, train_subset=SUBSET, seed=SEED)  # fmt: skip
        if not self.conv_blocks or len(self.conv_blocks) != len(self.conv_hidden):
            raise InputError(f"--conv-blocks and --conv-hidden need one entry per scale, got {self.conv_blocks} and {self.conv_hidden}")


def class_term(model: CINN, pixels: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """−log p(c | x) under the model's own exact posterior, in bits per dimension (a scalar).

    Maximum likelihood alone spends at most log₂K bits per image (0.004 bits/dim on MNIST) on the
    class, so it learns the class slowly; this term (IB-INN, Ardizzone et al., 2020) asks that
    p(x | c) be higher for the right class than for the others. With the pyramid layout it asks it
    of the thumbnail's density p(s | c), where the class decides the global shape, at a fraction of the cost.
    """
    x, _ = pixels_to_flow(pixels, noise, model.config.logit_alpha)
    log_p = model.thumbnail_log_prob_all_classes(x) if model.pyramid else model.log_prob_all_classes(x)
    cross_entropy = torch.nn.functional.cross_entropy(log_p, labels)
    return cross_entropy / (model.config.dims * log(2.0))


def train_cinn(
    config: CINNTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
    amp: str | None = None,
) -> tuple[CINN, dict]:
    """Train, checkpointing to ``out`` (resumed if a checkpoint of the same config is there).

    Returns:
        the model (eval mode) and its card; saved to ``out/cinn.safetensors`` with the card beside.
    """
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    train, test = load_dataset(config.dataset, "train", data_dir), load_dataset(config.dataset, "test", data_dir)
    if config.train_subset:
        train = train.subset(config.train_subset, run.gen)
    steps = run.total_steps(len(train))  # refuses a set smaller than one batch, before any work
    pixels = torch.from_numpy(train.images).float().unsqueeze(1)  # (N, 1, H, W), 0..255
    labels = torch.from_numpy(train.labels)
    model_config = CINNConfig(
        x_shape=tuple(pixels.shape[1:]), condition="class", num_classes=len(train.classes),
        cond_features=config.cond_features, blocks=config.blocks, hidden=config.hidden,
        clamp=config.clamp, seed=config.seed, logit_alpha=config.logit_alpha,
        layout=config.layout, conv_blocks=config.conv_blocks, conv_hidden=config.conv_hidden,
        dequantisation_noise=config.noise if config.dequantisation == "gaussian" else 0.0,
    )  # fmt: skip
    model = CINN(model_config).to(run.device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=config.lr * 0.02)
    nll = run.distribute(model, nll_bits)  # nll(u, c, noise) = nll_bits(model, u, c, noise)

    def step(idx: torch.Tensor) -> torch.Tensor:
        model.train()
        u = pixels[idx].to(run.device)
        noise = dequantise(u, config.dequantisation, config.noise, run.gen)
        u, noise, c = run.shard(u, noise, labels[idx].to(run.device))
        loss = nll(u, c, noise).mean()  # bits per dimension
        if config.class_weight:  # under W processes the first ⌈k/W⌉ images of each one's shard pay it
            k = -(-config.class_batch // run.world_size)  # on the model itself: DDP averages its gradients with nll's
            loss = loss + config.class_weight * class_term(model, u[:k], c[:k], noise[:k])
        run.descend(loss, opt, sched, clip=config.grad_clip)
        return loss

    run.fit(len(train), step, dict(model=model, opt=opt, sched=sched), "train cinn")
    model.eval()
    metrics = {
        "test_bits_per_dim": round(evaluate_bits_per_dim(model, test.images, test.labels), 4),
        "train_size": len(train),
        "parameters": sum(p.numel() for p in trainable),
    }
    card = run.card(train.sha256, metrics)
    if run.main:
        save_model(model, Path(out) / "cinn.safetensors", card)
    run.barrier()
    return model, card
