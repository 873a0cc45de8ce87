"""Recipe: train a denoising autoencoder, on codes h (PPGN-h) or on images x (PPGN-x).

    ppgn train dae-h --dataset fashion-mnist --out runs/fashion-mnist/dae-h
    ppgn train dae-x --dataset fashion-mnist --out runs/fashion-mnist/dae-x

On h: codes E(x) of the training images (E frozen) get Gaussian noise of σ = 0.5 per-unit
standard deviations, the level the Joint PPGN-h generator was trained with, so the two priors
are comparable. On x: images in [-1, 1] get noise of σ = 0.25, small enough that R_x(x) − x
still points along ∇log p(x). R is trained to restore the clean input by mean squared error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..data import load_dataset, to_tensor
from ..models import Classifier, CodeDAE, CodeDAEConfig, ImageDAE, ImageDAEConfig, load_model, save_model
from .common import Checkpoint, encode_all, loss_summary, make_card, pick_device, resumed_batches


@dataclass(frozen=True)
class DAETrainConfig:
    dataset: str = "fashion-mnist"
    classifier: str = "runs/fashion-mnist/classifier/classifier.safetensors"  # the frozen E (space "h")
    noise: float = 0.5  # σ: per-unit standard deviations of h, or pixel units of x in [-1, 1]
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    train_subset: int = 0
    seed: int = 0
    space: str = "h"  # "h": a DAE on codes (PPGN-h); "x": a DAE on images (PPGN-x)


def train_dae(
    config: DAETrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
) -> tuple[CodeDAE | ImageDAE, dict]:
    """Train R on codes (or images) of the training set; saves ``out/dae-{space}.safetensors``."""
    started = time.time()
    dev = pick_device(device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    train = load_dataset(config.dataset, "train", data_dir)
    if config.train_subset:
        train = train.subset(config.train_subset, gen)
    test = load_dataset(config.dataset, "test", data_dir)
    if config.space == "h":
        encoder = load_model(config.classifier, dev, expect=Classifier)
        codes, test_codes = encode_all(encoder, to_tensor(train.images)), encode_all(encoder, to_tensor(test.images))
        sigma = config.noise * codes.std(0)  # (D,)
        low, high = 0.0, None  # codes are post-ReLU
        dae = CodeDAE(CodeDAEConfig(code_dim=codes.shape[1])).to(dev)
    elif config.space == "x":
        codes, test_codes = to_tensor(train.images), to_tensor(test.images)
        sigma, low, high = torch.tensor(config.noise), -1.0, 1.0
        dae = ImageDAE(ImageDAEConfig(image_channels=codes.shape[1])).to(dev)
    else:
        raise ValueError(f"unknown space {config.space!r}; valid: h, x")
    opt = torch.optim.Adam(dae.parameters(), lr=config.lr)
    steps_per_epoch = len(codes) // config.batch_size
    total = config.epochs * steps_per_epoch

    ckpt = Checkpoint(out)
    parts = dict(dae=dae, opt=opt)
    step, elapsed = ckpt.resume(config, gen, **parts)
    history: list[float] = []
    bar = tqdm(total=total, initial=step, disable=quiet, desc=f"train dae-{config.space}", dynamic_ncols=True)
    for idx in resumed_batches(len(codes), config.batch_size, config.seed, step, total):
        h = codes[idx]
        noisy = (h + sigma * torch.randn(h.shape, generator=gen)).clamp(low, high)
        loss = F.mse_loss(dae(noisy.to(dev)), h.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        history.append(loss.item())
        bar.update(1)
        if step % checkpoint_every == 0 or step == total:
            ckpt.save_training(config, step, elapsed + time.time() - started, gen, **parts)
    bar.close()
    dae.eval()
    with torch.no_grad():  # held-out codes: how much of the noise R removes
        noisy = (test_codes + sigma * torch.randn(test_codes.shape, generator=gen)).clamp(low, high)
        metrics = {
            "test_noisy_mse": round(F.mse_loss(noisy, test_codes).item(), 4),
            "test_denoised_mse": round(F.mse_loss(dae(noisy.to(dev)).cpu(), test_codes).item(), 4),
        } | loss_summary(history)
    card = make_card(config, config.seed, train.sha256, elapsed + time.time() - started, metrics)
    save_model(dae, Path(out) / f"dae-{config.space}.safetensors", card)
    return dae, card
