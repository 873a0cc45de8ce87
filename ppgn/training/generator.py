"""Recipe: train the generator G (and its discriminator D) as in the paper's Joint PPGN-h.

    ppgn train generator --data fashion-mnist --out runs/fashion-mnist/generator
    ppgn train generator --noise 0 --out runs/fashion-mnist/generator-noiseless

E is the trained classifier, frozen. For a real image x with codes (h1, h) = E(x):

    h̃ = max(0, h + σ·s⊙n),  n ~ N(0, I)      (s: per-unit std of h; σ = 0 for the noiseless variant)
    x̂ = G(h̃),  (ĥ1, ĥ) = E(x̂)
    L_G = λ_img·|x̂ − x|² + λ_h1·|ĥ1 − h1|²/v1 + λ_h·|ĥ − h|²/v + λ_GAN·softplus(−D(x̂))

so that R(h) = E(G(h)) is a denoising autoencoder of h: the prior the sampler uses.

Why these numbers. Every reconstruction term is a mean squared error divided by the variance
of its target over the data (v1, v), so λ = 1 weighs them equally whatever the layer's scale.
λ_GAN = 0.05 makes the adversarial gradient comparable to the reconstruction terms' (which
alone give blurry means) without letting D take over. σ = 0.5 per-unit standard deviations:
large enough that E∘G must denoise (the DAE of the prior), small enough that G(h̃) stays the
same object. Adam 2e-4, β1 = 0.5 as in DCGAN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..data import make_loader, open_dataset, take_subset
from ..models import (
    Classifier,
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    load_model,
    save_model,
)
from ..models.generator import check_upsample
from .common import OPTIONAL, check_fields, check_image_shape, encode_batches
from .limits import (
    BATCH,
    CHANNELS,
    EPOCHS,
    LR,
    MULTIPLIER,
    NOISE,
    SEED,
    SIZE,
    SUBSET,
    WEIGHT,
)
from .loop import Run


@dataclass(frozen=True)
class GeneratorTrainConfig:
    dataset: str = "fashion-mnist"  # a built-in name, a folder root/<class>/*.png, or a contract .npz (open_dataset)
    size: int | None = None  # image side; None: the data's own (it must match E's)
    channels: int | None = None  # 1 or 3; None: the data's own
    skip_bad: bool = False  # leave out files that are not images (folders) instead of refusing
    classifier: str | None = None  # the frozen E; None: runs/<dataset>/classifier/classifier.safetensors
    width: float = 4.0  # G's width multiplier (the shipped 28-px G is width 4)
    d_width: float = 2.0  # D's width multiplier (the shipped 28-px D was width 2)
    upsample: str = "transpose"  # G's upsampling: "transpose" (as shipped), "subpixel" or "resize"
    noise: float = 0.5  # σ, in per-unit standard deviations of h; 0 = noiseless Joint PPGN-h
    lambda_img: float = 1.0
    lambda_h1: float = 1.0
    lambda_h: float = 1.0
    lambda_gan: float = 0.05
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-4
    augment: bool = True  # the data's own augmentation (emoji: shifts and scales) on x, if it has one
    train_subset: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.classifier is None:
            object.__setattr__(self, "classifier", f"runs/{self.dataset}/classifier/classifier.safetensors")
        check_fields(self, size=SIZE | OPTIONAL, channels=CHANNELS | OPTIONAL, width=MULTIPLIER, d_width=MULTIPLIER, noise=NOISE,
                     lambda_img=WEIGHT, lambda_h1=WEIGHT, lambda_h=WEIGHT, lambda_gan=WEIGHT, epochs=EPOCHS, batch_size=BATCH, lr=LR,
                     train_subset=SUBSET, seed=SEED)  # fmt: skip
        check_image_shape(self)
        check_upsample(self.upsample)


@torch.no_grad()
def code_statistics(encoder: Classifier, data, workers: int = 0) -> dict[str, torch.Tensor]:
    """Per-unit std of h, and the variances of h and h1 (the loss normalisers), over ``data`` (streamed)."""
    hs, h1_sq, h1_sum, n = [], 0.0, 0.0, 0
    for h1, h in encode_batches(encoder, data, workers):
        hs.append(h.cpu())
        h1_sum += h1.sum().item()
        h1_sq += h1.square().sum().item()
        n += h1.numel()
    h = torch.cat(hs)
    return {"h_std": h.std(0), "h_var": h.var(), "h1_var": torch.tensor(h1_sq / n - (h1_sum / n) ** 2)}


def generator_losses(x, encoder, G, D, config: GeneratorTrainConfig, stats, noise: torch.Tensor) -> dict:
    """The paper's losses for one batch; returns the terms and the fake images (for D).

    Args:
        noise: n ~ N(0, I), shaped as h (B, code_dim), on the CPU or h's device.
    """
    with torch.no_grad():
        h1, h = encoder.encode(x)
        noise = noise.to(h.device)
        h_noisy = (h + config.noise * stats["h_std"] * noise).clamp_min(0)
    x_fake = G(h_noisy)
    h1_fake, h_fake = encoder.encode(x_fake)
    terms = {
        "img": F.mse_loss(x_fake, x),
        "h1": F.mse_loss(h1_fake, h1) / stats["h1_var"],
        "h": F.mse_loss(h_fake, h) / stats["h_var"],
        "gan": F.softplus(-D(x_fake)).mean(),
    }
    weights = {"img": config.lambda_img, "h1": config.lambda_h1, "h": config.lambda_h, "gan": config.lambda_gan}
    terms["total"] = sum(weights[k] * terms[k] for k in weights)
    return {**terms, "x_fake": x_fake}


def train_generator(
    config: GeneratorTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
    amp: str | None = None,
    workers: int = 0,
) -> tuple[Generator, dict]:
    """Train G and D against the frozen encoder; saves ``out/generator.safetensors`` with a card.

    Args:
        workers: processes decoding images ahead of the training step (0: in this process).
    """
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    dev = run.device
    encoder = load_model(config.classifier, dev, expect=Classifier).requires_grad_(False)
    opened = dict(size=config.size, channels=config.channels, data_dir=data_dir, skip_bad=config.skip_bad)
    train = take_subset(open_dataset(config.dataset, "train", **opened), config.train_subset, run.gen)
    run.batch_size(len(train))  # refuses a set smaller than one batch, before the code statistics
    channels, size, _ = train.image_shape
    expected = (encoder.config.image_channels, encoder.config.image_size)
    if (channels, size) != expected:
        raise ValueError(f"the data is {channels}×{size}×{size} but the classifier {config.classifier} takes "
                         f"{expected[0]}×{expected[1]}×{expected[1]}: pass --size {expected[1]} (and the channels) or another classifier")  # fmt: skip
    stats = {k: v.to(dev) for k, v in code_statistics(encoder, train, workers).items()}
    G = Generator(GeneratorConfig(code_dim=encoder.config.code_dim, image_size=size, image_channels=channels, width=config.width,
                                  upsample=config.upsample)).to(dev)
    D = Discriminator(DiscriminatorConfig(image_size=size, image_channels=channels, width=config.d_width)).to(dev)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(0.5, 0.999))
    G_net, D_net = run.distribute(G), run.distribute(D)
    augment = train.augment if config.augment else None

    def step(idx: torch.Tensor, x: torch.Tensor, _y: torch.Tensor) -> dict[str, torch.Tensor]:
        G.train()
        D.train()
        noise = run.shard(torch.randn((len(idx), encoder.config.code_dim), generator=run.gen))  # drawn for the whole batch
        if augment is not None:
            x = augment(x, u=run.shard(torch.rand(len(idx), augment.draws, generator=run.gen)))
        x = x.to(dev)
        losses = generator_losses(x, encoder, G_net, D_net, config, stats, noise)
        run.descend(losses["total"], opt_g)
        d_loss = F.softplus(-D_net(x)).mean() + F.softplus(D_net(losses["x_fake"].detach())).mean()
        run.descend(d_loss, opt_d)
        return {"loss": losses["total"]} | {k: losses[k] for k in ("img", "h1", "h", "gan")} | {"d": d_loss}

    run.fit(len(train), step, dict(G=G, D=D, opt_g=opt_g, opt_d=opt_d), "train generator", data=train, workers=workers)
    G.eval()
    card = run.card(train.fingerprint, reconstruction_metrics(encoder, G, open_dataset(config.dataset, "test", **opened)))
    if run.main:
        save_model(G, Path(out) / "generator.safetensors", card)
    run.barrier()
    return G, card


@torch.no_grad()
def reconstruction_metrics(encoder: Classifier, G: Generator, test, n: int = 2000) -> dict:
    """How well G inverts E on held-out images (the first ``n``): pixel MSE, and whether C(G(E(x))) keeps the class."""
    device = next(G.parameters()).device
    squared, kept, count = 0.0, 0, 0
    for x, y in make_loader(torch.utils.data.Subset(test, range(min(n, len(test)))), batch_size=500):
        x, y = x.to(device), y.to(device)
        x_rec = G(encoder.encode(x)[1])
        squared += F.mse_loss(x_rec, x, reduction="sum").item() / x[0].numel()
        kept += (encoder(x_rec).argmax(1) == y).sum().item()
        count += len(x)
    return {"test_reconstruction_mse": round(squared / count, 4), "test_class_kept": round(kept / count, 4)}
