"""Recipe: train the colourisation cINN p(chroma | luma) by maximum likelihood.

    ppgn train colorizer --source emoji --out runs/emoji/colorizer

x = (Cb, Cr) of an RGB image plus a little Gaussian dequantisation noise (flat white backgrounds
would otherwise be a point mass), c = its luma Y, quantised to 8 bits as a grey image file is.
Random horizontal flips; Adam with weight decay, cosine schedule, gradient clipping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.emoji import load_colour_images
from ..io import InputError
from ..models.cinn import CINN, CINNConfig
from ..models.colour import TO_YCC, colorize, split_image, to_uint8_rgb
from ..models.io import save_model
from .common import check_fields
from .limits import BATCH, BLOCKS, CLAMP, DECAY, EPOCHS, LR, NOISE, SEED, SIZE, UNITS
from .loop import Run


@dataclass(frozen=True)
class ColorizerTrainConfig:
    source: str = "emoji"  # "emoji" (fonts-noto-color-emoji) or an image folder
    size: int = 16
    epochs: int = 60
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-5
    grad_clip: float = 10.0
    blocks: int = 6
    hidden: int = 48
    cond_features: int = 16
    clamp: float = 1.0
    levels: int = 2  # Haar levels: the second (at H/4) gives spatially coherent colour
    noise: float = 0.01  # σ of the dequantisation noise on Cb, Cr
    seed: int = 0

    def __post_init__(self):
        check_fields(self, size=SIZE | dict(low=4, high=1_024), epochs=EPOCHS, batch_size=BATCH, lr=LR, weight_decay=DECAY,
                     grad_clip=CLAMP, blocks=BLOCKS, hidden=UNITS, cond_features=UNITS, clamp=CLAMP, levels=dict(low=1, high=8, integer=True),
                     noise=NOISE, seed=SEED)  # fmt: skip
        if self.size % 2:  # the Haar downsampling halves the side
            raise InputError(f"--size must be an even number >= 4, got {self.size}")


def train_colorizer(
    config: ColorizerTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
    amp: str | None = None,
) -> tuple[CINN, dict]:
    """Train, checkpointing to ``out``; saves ``out/colorizer.safetensors`` with its card."""
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    train = load_colour_images(config.source, "train", config.size, data_dir)
    steps = run.total_steps(len(train))  # refuses a set smaller than one batch, before any work
    test = load_colour_images(config.source, "test", config.size, data_dir)
    if len(test) == 0:  # the card's measures need held-out images
        raise ValueError(f"--source {config.source} leaves no held-out test images ({len(train)} to train on); give more images")
    luma, chroma = split_image(train)
    luma = (luma * 255).round() / 255  # the condition as an 8-bit grey image gives it
    model = CINN(CINNConfig(x_shape=(2, config.size, config.size), condition="image", cond_features=config.cond_features,
                            blocks=config.blocks, hidden=config.hidden, clamp=config.clamp, seed=config.seed,
                            logit_alpha=0.0, levels=config.levels)).to(run.device)  # fmt: skip
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=config.lr * 0.02)
    dims = 2 * config.size**2
    log_prob = run.distribute(model, CINN.log_prob)

    def step(idx: torch.Tensor) -> torch.Tensor:
        model.train()
        c, x = luma[idx], chroma[idx]
        flip = (torch.rand(len(idx), generator=run.gen) < 0.5)[:, None, None, None]
        c, x = torch.where(flip, c.flip(-1), c), torch.where(flip, x.flip(-1), x)
        x = x + config.noise * torch.randn(x.shape, generator=run.gen)
        x, c = run.shard(x, c)
        loss = -log_prob(x.to(run.device), c.to(run.device)).mean() / dims  # nats per chroma value
        run.descend(loss, opt, sched, clip=config.grad_clip)
        return loss

    run.fit(len(train), step, dict(model=model, opt=opt, sched=sched), "train colorizer")
    model.eval()
    metrics = {
        "train_size": len(train),
        "parameters": sum(p.numel() for p in trainable),
        **colourisation_metrics(model, test, num=8, seed=0),
    }
    card = run.card(f"{config.source}:{len(train) + len(test)} images", metrics)
    if run.main:
        save_model(model, Path(out) / "colorizer.safetensors", card)
    run.barrier()
    return model, card


@torch.no_grad()
def colourisation_metrics(net: CINN, images: np.ndarray, num: int = 8, seed: int = 0, temperature: float = 1.0) -> dict:
    """On held-out colour images (uint8 (N, H, W, 3)), from ``num`` colourings of each one's luma:

    lightness_error: mean |Y(colouring) − Y(input)| (0..255 scale): how well lightness is kept;
    diversity: mean per-pixel RGB std across the colourings (0..255);
    best_of_n_rmse / mean_rmse: RGB error to the true colours of the best / an average colouring;
    grey_rmse: the error of leaving the image grey (chroma 0), the baseline to beat.
    """
    luma, chroma_true = split_image(images)
    results = {"lightness_error": [], "diversity": [], "best": [], "mean": []}
    truth = torch.from_numpy(np.asarray(images)).float()
    for i, grey in enumerate((luma[:, 0] * 255).round().numpy().astype(np.uint8)):
        out = torch.from_numpy(colorize(net, grey, num, seed + i, temperature)).float()  # (num, H, W, 3)
        y_out = (out @ TO_YCC[0].to(out))  # (num, H, W)
        results["lightness_error"].append((y_out - luma[i, 0] * 255).abs().mean().item())
        results["diversity"].append(out.std(0).mean().item())
        rmse = ((out - truth[i]) ** 2).mean((1, 2, 3)).sqrt()
        results["best"].append(rmse.min().item())
        results["mean"].append(rmse.mean().item())
    grey = torch.from_numpy(to_uint8_rgb(luma, torch.zeros_like(chroma_true))).float()
    return {
        "num_images": len(images),
        "colourings_per_image": num,
        "lightness_error": round(float(np.mean(results["lightness_error"])), 3),
        "diversity": round(float(np.mean(results["diversity"])), 3),
        f"best_of_{num}_rmse": round(float(np.mean(results["best"])), 3),
        "mean_rmse": round(float(np.mean(results["mean"])), 3),
        "grey_rmse": round(((grey - truth) ** 2).mean((1, 2, 3)).sqrt().mean().item(), 3),
    }
