"""Recipe: train a denoising autoencoder, on codes h (PPGN-h) or on images x (PPGN-x).

    ppgn train dae-h --data fashion-mnist --out runs/fashion-mnist/dae-h
    ppgn train dae-x --data fashion-mnist --out runs/fashion-mnist/dae-x

On h: codes E(x) of the training images (E frozen) get Gaussian noise of σ = 0.5 per-unit
standard deviations, the level the Joint PPGN-h generator was trained with, so the two priors
are comparable. On x: images in [-1, 1] get noise of σ = 0.25, small enough that R_x(x) − x
still points along ∇log p(x). R is trained to restore the clean input by mean squared error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import make_loader, open_dataset, take_subset
from ..models import (
    Classifier,
    CodeDAE,
    CodeDAEConfig,
    ImageDAE,
    ImageDAEConfig,
    load_model,
    save_model,
)
from .common import OPTIONAL, check_fields, check_image_shape, encode_dataset
from .limits import BATCH, CHANNELS, EPOCHS, LR, NEEDED_NOISE, SEED, SIZE, SUBSET
from .loop import Run

SPACES = {"h": (0.5, 20), "x": (0.25, 3)}  # each space's default (noise σ, epochs)


@dataclass(frozen=True)
class DAETrainConfig:
    dataset: str = "fashion-mnist"  # a built-in name, a folder root/<class>/*.png, or a contract .npz (open_dataset)
    size: int | None = None  # image side; None: the data's own
    channels: int | None = None  # 1 or 3; None: the data's own
    skip_bad: bool = False  # leave out files that are not images (folders) instead of refusing
    classifier: str | None = None  # the frozen E (space "h"); None: runs/<dataset>/classifier/classifier.safetensors
    noise: float | None = None  # σ: per-unit standard deviations of h, or pixel units of x in [-1, 1]; None: SPACES
    epochs: int | None = None  # None: SPACES
    batch_size: int = 256
    lr: float = 1e-3
    train_subset: int = 0
    seed: int = 0
    space: str = "h"  # "h": a DAE on codes (PPGN-h); "x": a DAE on images (PPGN-x)

    def __post_init__(self):
        if self.space not in SPACES:
            raise ValueError(f"unknown space {self.space!r}; valid: {', '.join(SPACES)}")
        noise, epochs = SPACES[self.space]
        defaults = dict(classifier=f"runs/{self.dataset}/classifier/classifier.safetensors", noise=noise, epochs=epochs)
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        check_fields(self, size=SIZE | OPTIONAL, channels=CHANNELS | OPTIONAL, noise=NEEDED_NOISE,  # a DAE needs noise to remove
                     epochs=EPOCHS, batch_size=BATCH, lr=LR, train_subset=SUBSET, seed=SEED)  # fmt: skip
        check_image_shape(self)


def images_of(data) -> torch.Tensor:
    """Every image of a torch dataset of (x, y), stacked: (N, C, S, S) in [-1, 1]."""
    return torch.cat([x for x, _ in make_loader(data, batch_size=1000)])


def train_dae(
    config: DAETrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
    amp: str | None = None,
    workers: int = 0,
) -> tuple[CodeDAE | ImageDAE, dict]:
    """Train R on codes (or images) of the training set; saves ``out/dae-{space}.safetensors``."""
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    dev = run.device
    opened = dict(size=config.size, channels=config.channels, data_dir=data_dir, skip_bad=config.skip_bad)
    train = take_subset(open_dataset(config.dataset, "train", **opened), config.train_subset, run.gen)
    run.batch_size(len(train))  # refuses a set smaller than one batch, before the codes are computed
    test = open_dataset(config.dataset, "test", **opened)
    if config.space == "h":  # codes are small: (N, 256) floats, held in memory
        encoder = load_model(config.classifier, dev, expect=Classifier)
        codes, test_codes = encode_dataset(encoder, train, workers), encode_dataset(encoder, test, workers)
        sigma = config.noise * codes.std(0)  # (D,)
        low, high = 0.0, None  # codes are post-ReLU
        dae = CodeDAE(CodeDAEConfig(code_dim=codes.shape[1])).to(dev)
    else:  # images, held in memory: fine for the sets this DAE is for (it is the weakest prior, kept for PPGN-x)
        codes, test_codes = images_of(train), images_of(test)
        sigma, low, high = torch.tensor(config.noise), -1.0, 1.0
        channels, size, _ = train.image_shape
        dae = ImageDAE(ImageDAEConfig(image_channels=channels, image_size=size)).to(dev)
    opt = torch.optim.Adam(dae.parameters(), lr=config.lr)
    net = run.distribute(dae)

    def step(idx: torch.Tensor) -> torch.Tensor:
        h = codes[idx]
        noisy = (h + sigma * torch.randn(h.shape, generator=run.gen)).clamp(low, high)
        noisy, h = run.shard(noisy, h)
        loss = F.mse_loss(net(noisy.to(dev)), h.to(dev))
        run.descend(loss, opt)
        return loss

    run.fit(len(codes), step, dict(dae=dae, opt=opt), f"train dae-{config.space}")
    dae.eval()
    with torch.no_grad():  # held-out codes: how much of the noise R removes
        noisy = (test_codes + sigma * torch.randn(test_codes.shape, generator=run.gen)).clamp(low, high)
        metrics = {
            "test_noisy_mse": round(F.mse_loss(noisy, test_codes).item(), 4),
            "test_denoised_mse": round(F.mse_loss(dae(noisy.to(dev)).cpu(), test_codes).item(), 4),
        }
    card = run.card(train.fingerprint, metrics)
    if run.main:
        save_model(dae, Path(out) / f"dae-{config.space}.safetensors", card)
    run.barrier()
    return dae, card
