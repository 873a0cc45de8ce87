"""``ppgn train ...``: one command per recipe. Each parses, calls the recipe, and reports.

The defaults live in the recipes' config dataclasses alone (``ppgn.training.<recipe>``): every
option here defaults to None, meaning "the config's default", so the command line and Python
train the same thing and the card records what was used.

Bad values are refused in one line before any work: numbers while the arguments are parsed
(``checked``, before torch is imported), then by the config itself (the same checks the Python
API runs), then the ``--out`` folder (``outputs``); a checkpoint there of another config is
refused when the recipe starts.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from ..training import limits
from .options import DataDir, Device, Quiet, checked, fail, load_pipeline, outputs

UPSAMPLE_NAMES = ("transpose", "subpixel", "resize")  # ppgn.models.generator.UPSAMPLE, written out so that parsing needs no torch

train_app = typer.Typer(no_args_is_help=True, help="Train the networks (each resumes after a kill).")


def _in(rule: dict):
    """An option callback that refuses what ``rule`` (a range of ``ppgn.training.limits``) does: the
    configs check the same again, for the Python API."""
    return checked(**rule)


# Options every recipe shares; None takes the recipe's default (the help says where it lives).
Epochs = typer.Option(None, help="Epochs.", callback=_in(limits.EPOCHS))
Seed = typer.Option(None, help="Random seed.", callback=checked(seed=True))
TrainSubset = typer.Option(None, help="Train on this many examples only (0 = all).", callback=_in(limits.SUBSET))
Data = typer.Option(None, "--data", "--dataset", help="A built-in set (fashion-mnist, mnist, digits, emoji), a folder root/<class>/*.png|jpg|webp, or a contract .npz.")
Size = typer.Option(None, help="Image side: 28, 32, 64 or 128, resized and centre-cropped (default: the data's own).", callback=_in(limits.SIZE))
Channels = typer.Option(None, help="1 (grey) or 3 (RGB) (default: the data's own).", callback=_in(limits.CHANNELS))
SkipBad = typer.Option(None, "--skip-bad/--no-skip-bad", help="Leave out files that are not images and empty class folders (counted in the card) instead of refusing.")
BatchSize = typer.Option(None, help="Global batch size, over all processes under torchrun.", callback=_in(limits.BATCH))
Amp = typer.Option(None, help="Autocast the forward passes: bf16 or fp16 (fp16 on CUDA only); default full precision.")
Workers = typer.Option(0, help="Processes decoding images ahead of the training step (at most 64).", callback=_in(limits.WORKERS))


def _config(cls, **options):
    """``cls`` from the options given; one left out (None) takes the config's own default."""
    try:
        return cls(**{name: value for name, value in options.items() if value is not None})
    except (ValueError, TypeError) as err:  # each names its flag
        fail(str(err))


def _text(path: Optional[Path]) -> Optional[str]:
    """A path option as the config stores it (None stays None: the config's default)."""
    return None if path is None else str(path)


def _default_out(config, name: str) -> Path:
    """runs/<data>/<name>: the data's name, or its folder's or file's name."""
    return Path("runs") / Path(str(config.dataset).rstrip("/")).stem / name


def _out(out: Path) -> Path:
    """``--out`` if a folder can be made or written there, else a one-line error (before any work)."""
    outputs(out=(out, "/"))
    return out


def _train(recipe, config, out: Path, data_dir, device, quiet, **launch) -> dict:
    """Run ``recipe``; a missing dataset or weights file, or a bad value, becomes a one-line error.

    Args:
        launch: ``amp`` and ``workers``, for the recipes that take them.
    """
    from ..data import DataNotFoundError
    from ..models import WeightsError
    from ..models.user import UserNetworkError

    try:
        _, card = recipe(config, out, data_dir, device, quiet, **launch)
    except (DataNotFoundError, WeightsError, UserNetworkError, ValueError) as err:
        fail(str(err))
    return card


def _say(line: str) -> None:
    """Print ``line`` from one process only (rank 0 under torchrun)."""
    from ..training.distributed import is_main

    if is_main():
        typer.echo(line)


def _classifier_command(model: str, summary: str):
    """The `train classifier` and `train evaluator` commands differ only in the model (and its default seed)."""

    def command(
        data: Optional[str] = Data,
        size: Optional[int] = Size,
        channels: Optional[int] = Channels,
        skip_bad: Optional[bool] = SkipBad,
        out: Optional[Path] = typer.Option(None, help=f"Output folder (default runs/DATA/{model})."),
        width: Optional[float] = typer.Option(None, help="Width multiplier of the network.", callback=_in(limits.MULTIPLIER)),
        epochs: Optional[int] = Epochs,
        batch_size: Optional[int] = BatchSize,
        seed: Optional[int] = Seed,
        train_subset: Optional[int] = TrainSubset,
        amp: Optional[str] = Amp,
        workers: int = Workers,
        data_dir: Optional[Path] = DataDir,
        device: Optional[str] = Device,
        quiet: bool = Quiet,
    ):
        from ..training.classifier import ClassifierTrainConfig, train_classifier

        config = _config(ClassifierTrainConfig, model=model, dataset=data, size=size, channels=channels, skip_bad=skip_bad, width=width,
                         epochs=epochs, batch_size=batch_size, seed=seed, train_subset=train_subset)  # fmt: skip
        out = _out(out or _default_out(config, model))
        card = _train(train_classifier, config, out, data_dir, device, quiet, amp=amp, workers=workers)
        _say(f"{model}: test accuracy {card['metrics']['test_accuracy']:.4f} → {out}")

    command.__doc__ = summary + " Options left out take ClassifierTrainConfig's defaults."
    return command


train_app.command("classifier")(
    _classifier_command("classifier", "Train the encoder/classifier E/C whose penultimate layer is the code h.")
)
train_app.command("evaluator")(
    _classifier_command("evaluator", "Train the independent evaluator (another architecture and seed; used only to measure).")
)


@train_app.command("generator")
def train_generator_cmd(
    data: Optional[str] = Data,
    size: Optional[int] = Size,
    channels: Optional[int] = Channels,
    skip_bad: Optional[bool] = SkipBad,
    classifier: Optional[Path] = typer.Option(None, help="The frozen encoder E (default runs/DATA/classifier/classifier.safetensors)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATA/generator)."),
    noise: Optional[float] = typer.Option(None, help="Noise on h in per-unit stds (0 = noiseless Joint PPGN-h).", callback=_in(limits.NOISE)),
    width: Optional[float] = typer.Option(None, help="G's width multiplier (4 as shipped).", callback=_in(limits.MULTIPLIER)),
    d_width: Optional[float] = typer.Option(None, help="D's width multiplier (2 as shipped).", callback=_in(limits.MULTIPLIER)),
    upsample: Optional[str] = typer.Option(None, help=f"G's upsampling: {', '.join(UPSAMPLE_NAMES)} (transpose as shipped and fastest on this project's CPU)."),
    epochs: Optional[int] = Epochs,
    batch_size: Optional[int] = BatchSize,
    seed: Optional[int] = Seed,
    train_subset: Optional[int] = TrainSubset,
    amp: Optional[str] = Amp,
    workers: int = Workers,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train G (and D) as in Joint PPGN-h: L_img + L_h1 + L_h + L_GAN, noise on h. Options left out take GeneratorTrainConfig's defaults."""
    if upsample is not None and upsample not in UPSAMPLE_NAMES:  # before torch is imported
        fail(f"unknown --upsample {upsample!r}; valid: {', '.join(UPSAMPLE_NAMES)}")
    from ..training.generator import GeneratorTrainConfig, train_generator

    config = _config(GeneratorTrainConfig, dataset=data, size=size, channels=channels, skip_bad=skip_bad, classifier=_text(classifier),
                     noise=noise, width=width, d_width=d_width, upsample=upsample, epochs=epochs, batch_size=batch_size, seed=seed,
                     train_subset=train_subset)  # fmt: skip
    out = _out(out or _default_out(config, "generator"))
    card = _train(train_generator, config, out, data_dir, device, quiet, amp=amp, workers=workers)
    _say(f"generator: {card['metrics']} → {out}")


def _dae_command(space: str, summary: str):
    """`train dae-h` and `train dae-x` differ only in the space the DAE models (and its defaults)."""

    def command(
        data: Optional[str] = Data,
        size: Optional[int] = Size,
        channels: Optional[int] = Channels,
        skip_bad: Optional[bool] = SkipBad,
        classifier: Optional[Path] = typer.Option(None, help="The frozen encoder E, for dae-h (default runs/DATA/classifier/classifier.safetensors)."),
        out: Optional[Path] = typer.Option(None, help=f"Output folder (default runs/DATA/dae-{space})."),
        noise: Optional[float] = typer.Option(None, help="Noise σ (per-unit stds of h, or pixel units of x); > 0.", callback=_in(limits.NEEDED_NOISE)),
        epochs: Optional[int] = Epochs,
        batch_size: Optional[int] = BatchSize,
        seed: Optional[int] = Seed,
        train_subset: Optional[int] = TrainSubset,
        amp: Optional[str] = Amp,
        workers: int = Workers,
        data_dir: Optional[Path] = DataDir,
        device: Optional[str] = Device,
        quiet: bool = Quiet,
    ):
        from ..training.dae import DAETrainConfig, train_dae

        config = _config(DAETrainConfig, space=space, dataset=data, size=size, channels=channels, skip_bad=skip_bad,
                         classifier=_text(classifier), noise=noise, epochs=epochs, batch_size=batch_size, seed=seed,
                         train_subset=train_subset)  # fmt: skip
        out = _out(out or _default_out(config, f"dae-{space}"))
        card = _train(train_dae, config, out, data_dir, device, quiet, amp=amp, workers=workers)
        _say(f"dae-{space}: {card['metrics']} → {out}")

    command.__doc__ = summary + " Options left out take DAETrainConfig's defaults for this space."
    return command


train_app.command("dae-h")(_dae_command("h", "Train the separate denoising autoencoder on h of PPGN-h."))
train_app.command("dae-x")(_dae_command("x", "Train the denoising autoencoder on images of PPGN-x."))


@train_app.command("cinn")
def train_cinn_cmd(
    dataset: Optional[str] = typer.Option(None, help="mnist, fashion-mnist or digits."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/cinn)."),
    epochs: Optional[int] = Epochs,
    layout: Optional[str] = typer.Option(None, help="fc (couplings on flattened pixels), multiscale (conv couplings at 1/2 and 1/4 size, then fc) or pyramid (fc on the 1/4-size thumbnail, conv on the detail bands given it)."),
    blocks: Optional[int] = typer.Option(None, help="Permute + GLOW coupling blocks (the fully connected ones with multiscale or pyramid).", callback=_in(limits.BLOCKS)),
    hidden: Optional[int] = typer.Option(None, help="Fully connected sub-network width.", callback=_in(limits.UNITS)),
    conv_blocks: Optional[str] = typer.Option(None, help="multiscale, pyramid: coupling blocks per scale (1/2, 1/4, ...), comma-separated."),
    conv_hidden: Optional[str] = typer.Option(None, help="multiscale, pyramid: sub-network channels per scale, comma-separated."),
    cond_features: Optional[int] = typer.Option(None, help="Width of the conditioning network's output.", callback=_in(limits.UNITS)),
    class_weight: Optional[float] = typer.Option(None, help="β of the class term β·CE(p(c|x)) (IB-INN); 0 = maximum likelihood only.", callback=_in(limits.WEIGHT)),
    class_batch: Optional[int] = typer.Option(None, help="Images per batch that pay the class term (each costs one pass per class).", callback=_in(limits.BATCH)),
    clamp: Optional[float] = typer.Option(None, help="Soft clamp of the log-scales.", callback=_in(limits.CLAMP)),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate (cosine schedule).", callback=_in(limits.LR)),
    dequantisation: Optional[str] = typer.Option(None, help="uniform, in logit space (bits/dim is a bound), or gaussian, on the pixels (the authors')."),
    noise: Optional[float] = typer.Option(None, help="σ of gaussian dequantisation, on pixels in [0, 1].", callback=_in(limits.PIXEL_NOISE)),
    train_subset: Optional[int] = TrainSubset,
    seed: Optional[int] = Seed,
    batch_size: Optional[int] = BatchSize,
    amp: Optional[str] = Amp,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train a class-conditional cINN by maximum likelihood (checkpoints; resumes after a kill). Options left out take CINNTrainConfig's defaults."""
    from ..models.cinn import LAYOUTS
    from ..training.cinn import CINNTrainConfig, train_cinn

    scales = {name: None if text is None else _positive_ints(name, text) for name, text in (("conv-blocks", conv_blocks), ("conv-hidden", conv_hidden))}
    config = _config(
        CINNTrainConfig, dataset=dataset, epochs=epochs, layout=layout, blocks=blocks, hidden=hidden,
        conv_blocks=scales["conv-blocks"], conv_hidden=scales["conv-hidden"], cond_features=cond_features,
        class_weight=class_weight, class_batch=class_batch, clamp=clamp, lr=lr, dequantisation=dequantisation,
        noise=noise, train_subset=train_subset, seed=seed, batch_size=batch_size,
    )  # fmt: skip
    if config.dataset not in ("mnist", "fashion-mnist", "digits"):
        fail(f"unknown dataset {config.dataset!r}; valid: mnist, fashion-mnist, digits")
    if config.layout not in LAYOUTS:
        fail(f"unknown layout {config.layout!r}; valid: {', '.join(LAYOUTS)}")
    out = _out(out or Path(f"runs/{config.dataset}/cinn"))
    card = _train(train_cinn, config, out, data_dir, device, quiet, amp=amp)
    _say(f"cinn: {card['metrics']} → {out}")


def _positive_ints(option: str, text: str) -> tuple[int, ...]:
    """"4,4" → (4, 4); a one-line error for anything but positive integers."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or min(values) <= 0:
        fail(f"--{option} takes positive integers separated by commas, e.g. 4,4; got {text!r}")
    return values


@train_app.command("flow-prior")
def train_flow_prior_cmd(
    dataset: Optional[str] = typer.Option(None, help="fashion-mnist or digits."),
    classifier: Optional[Path] = typer.Option(None, help="The frozen encoder E (default: the shipped Fashion-MNIST one)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/flow-prior)."),
    noise: Optional[float] = typer.Option(None, help="Smoothing σ in per-unit stds of h (as the DAE on h); > 0.", callback=_in(limits.NEEDED_NOISE)),
    epochs: Optional[int] = Epochs,
    blocks: Optional[int] = typer.Option(None, help="Permute + GLOW coupling blocks.", callback=_in(limits.BLOCKS)),
    hidden: Optional[int] = typer.Option(None, help="Sub-network width.", callback=_in(limits.UNITS)),
    seed: Optional[int] = Seed,
    batch_size: Optional[int] = BatchSize,
    amp: Optional[str] = Amp,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train a normalising flow on codes h = E(x): the exact prior of preset ppgn-flow. Options left out take FlowPriorTrainConfig's defaults."""
    from ..training.flow_prior import FlowPriorTrainConfig, train_flow_prior

    config = _config(FlowPriorTrainConfig, dataset=dataset, classifier=_text(classifier), noise=noise,
                     epochs=epochs, blocks=blocks, hidden=hidden, seed=seed, batch_size=batch_size)  # fmt: skip
    if config.dataset not in ("fashion-mnist", "digits"):
        fail(f"unknown dataset {config.dataset!r}; valid: fashion-mnist, digits")
    out = _out(out or Path(f"runs/{config.dataset}/flow-prior"))
    card = _train(train_flow_prior, config, out, data_dir, device, quiet, amp=amp)
    _say(f"flow-prior: {card['metrics']} → {out}")


@train_app.command("colorizer")
def train_colorizer_cmd(
    source: Optional[str] = typer.Option(None, help="emoji (apt-get install fonts-noto-color-emoji) or a folder of colour images."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/emoji/colorizer)."),
    size: Optional[int] = typer.Option(None, help="Image side in pixels, even, >= 4.", callback=_in(limits.SIZE | dict(low=4, high=1_024))),
    epochs: Optional[int] = Epochs,
    blocks: Optional[int] = typer.Option(None, help="Permute + GLOW coupling blocks.", callback=_in(limits.BLOCKS)),
    hidden: Optional[int] = typer.Option(None, help="Sub-network channels.", callback=_in(limits.UNITS)),
    seed: Optional[int] = Seed,
    batch_size: Optional[int] = BatchSize,
    amp: Optional[str] = Amp,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train the colourisation cINN p(colour | grey) by maximum likelihood. Options left out take ColorizerTrainConfig's defaults."""
    from ..training.colorize import ColorizerTrainConfig, train_colorizer

    config = _config(ColorizerTrainConfig, source=source, size=size, epochs=epochs, blocks=blocks, hidden=hidden, seed=seed, batch_size=batch_size)
    if config.source != "emoji" and not Path(config.source).is_dir():
        fail(f"--source must be emoji or an existing folder of images, got {config.source!r}")
    out = _out(out or Path("runs/emoji/colorizer"))
    card = _train(train_colorizer, config, out, data_dir, device, quiet, amp=amp)
    _say(f"colorizer: {card['metrics']} → {out}")


@train_app.command("condition-net")
def train_condition_net_cmd(
    module: str = typer.Option(..., help="The network's factory, package.module:factory (returns logits)."),
    dataset: Optional[str] = typer.Option(None, help="fashion-mnist or digits."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/condition-FACTORY)."),
    epochs: Optional[int] = Epochs,
    seed: Optional[int] = Seed,
    batch_size: Optional[int] = BatchSize,
    amp: Optional[str] = Amp,
    train_subset: Optional[int] = TrainSubset,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train any user network (a factory returning logits) by cross-entropy, to plug in as a condition. Options left out take ConditionNetTrainConfig's defaults."""
    from ..training.condition_net import ConditionNetTrainConfig, train_condition_net

    config = _config(ConditionNetTrainConfig, module=module, dataset=dataset, epochs=epochs, seed=seed, batch_size=batch_size, train_subset=train_subset)
    out = _out(out or Path(f"runs/{config.dataset}/condition-{module.rpartition(':')[2]}"))
    card = _train(train_condition_net, config, out, data_dir, device, quiet, amp=amp)
    _say(f"{module}: {card['metrics']} → {out}")


@train_app.command("captioner")
def train_captioner_cmd(
    dataset: Optional[str] = typer.Option(None, help="fashion-mnist (captions name its classes), or digits for a quick run."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/captioner)."),
    epochs: Optional[int] = Epochs,
    seed: Optional[int] = Seed,
    batch_size: Optional[int] = BatchSize,
    amp: Optional[str] = Amp,
    train_subset: Optional[int] = TrainSubset,
    model: str = typer.Option("fashion-mnist", help="Whose encoder E the captioner reads: a shipped model name or a folder."),
    classifier: Optional[str] = typer.Option(
        None, help="Read h = E(x) of this frozen encoder instead of --model's (as LRCN read CaffeNet features); 'none' = a CNN on the pixels.",
    ),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train the captioner (encoder + GRU decoder) on captions measured from the pixels. Options left out take CaptionerTrainConfig's defaults."""
    from ..training.captioner import CaptionerTrainConfig, train_captioner

    config = _config(CaptionerTrainConfig, dataset=dataset, epochs=epochs, seed=seed, batch_size=batch_size, train_subset=train_subset)
    out = _out(out or Path(f"runs/{config.dataset}/captioner"))
    if classifier is None:  # the command line reads --model's E, which the library config cannot look up
        classifier = str(load_pipeline(model, None, kind="ppgn").folder / "classifier.safetensors")
    config = replace(config, classifier="" if classifier.lower() == "none" else classifier)
    card = _train(train_captioner, config, out, data_dir, device, quiet, amp=amp)
    _say(f"captioner: {card['metrics']} → {out}")


@train_app.command("all")
def train_all_cmd(
    data: str = typer.Option(..., help="A built-in set (fashion-mnist, mnist, digits, emoji), a folder root/<class>/*.png|jpg|webp, or a contract .npz."),
    out: Path = typer.Option(..., help="The model folder to write (manifest.json and every network's weights)."),
    size: Optional[int] = Size,
    channels: Optional[int] = Channels,
    skip_bad: Optional[bool] = SkipBad,
    width: Optional[float] = typer.Option(None, help="Width multiplier of every network (E/C ×1, G ×4, D ×2 as shipped).", callback=_in(limits.MULTIPLIER)),
    generator_width: Optional[float] = typer.Option(None, help="G's own width multiplier (default 4 × --width).", callback=_in(limits.MULTIPLIER)),
    code_dim: Optional[int] = typer.Option(None, help="Size of the code h.", callback=_in(limits.UNITS)),
    epochs: Optional[int] = typer.Option(None, help="Epochs of every stage (default: each recipe's own).", callback=_in(limits.EPOCHS)),
    classifier_epochs: Optional[int] = typer.Option(None, help="Epochs of E/C (overrides --epochs).", callback=_in(limits.EPOCHS)),
    evaluator_epochs: Optional[int] = typer.Option(None, help="Epochs of the evaluator (overrides --epochs).", callback=_in(limits.EPOCHS)),
    generator_epochs: Optional[int] = typer.Option(None, help="Epochs of G (overrides --epochs).", callback=_in(limits.EPOCHS)),
    dae_epochs: Optional[int] = typer.Option(None, help="Epochs of each DAE (overrides --epochs).", callback=_in(limits.EPOCHS)),
    batch_size: Optional[int] = BatchSize,
    noiseless: bool = typer.Option(False, help="Also train G without noise on h (presets dgn-am, ppgn-x, ppgn-h, noiseless-joint-ppgn-h)."),
    daes: bool = typer.Option(False, help="Also train the DAEs on h and on x (presets ppgn-h, ppgn-x)."),
    seed: Optional[int] = Seed,
    train_subset: Optional[int] = TrainSubset,
    amp: Optional[str] = Amp,
    workers: int = Workers,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """From a dataset to a model folder: E/C, the evaluator, G (and optionally the noiseless G and
    the DAEs), then manifest.json. Rerun the same command after a kill: finished stages are kept."""
    from ..training.all import AllTrainConfig, train_all

    config = _config(AllTrainConfig, data=data, size=size, channels=channels, skip_bad=skip_bad, width=width, generator_width=generator_width,
                     code_dim=code_dim,
                     epochs=epochs, classifier_epochs=classifier_epochs, evaluator_epochs=evaluator_epochs,
                     generator_epochs=generator_epochs, dae_epochs=dae_epochs, batch_size=batch_size, noiseless=noiseless,
                     daes=daes, seed=seed, train_subset=train_subset)  # fmt: skip
    _out(out)
    say = (lambda line: None) if quiet else (lambda line: typer.echo(line, err=True))
    manifest = _train(lambda c, o, d, dev, q: (None, train_all(c, o, d, dev, q, say, amp=amp, workers=workers)),
                      config, out, data_dir, device, quiet)  # fmt: skip
    _say(f"{len(manifest['classes'])} classes, images {tuple(manifest['image_shape'])} → {out} "
         f"(ppgn sample --model {out} --class {manifest['classes'][0]!r} ...)")


@train_app.command("diffusion")
def train_diffusion_cmd(
    data: Optional[str] = Data,
    size: Optional[int] = Size,
    channels: Optional[int] = Channels,
    skip_bad: Optional[bool] = SkipBad,
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATA/diffusion)."),
    unet_channels: Optional[int] = typer.Option(None, help="The UNet's base width (48 as in runs/diffusion-fmnist).", callback=_in(limits.UNITS)),
    multipliers: Optional[str] = typer.Option(None, help="Width of each UNet level as a multiple of --unet-channels, comma-separated (default 1,2)."),
    blocks: Optional[int] = typer.Option(None, help="Residual blocks per UNet level.", callback=_in(limits.BLOCKS)),
    patch: Optional[int] = typer.Option(None, help="Pixels folded into channels first (2: a 28×28 image is 14×14, ≈4× less compute).", callback=_in(limits.PATCH)),
    dropout: Optional[float] = typer.Option(None, help="Dropout in the residual blocks, in [0, 1).", callback=_in(limits.FRACTION)),
    schedule: Optional[str] = typer.Option(None, help="Noise schedule: cosine or linear."),
    timesteps: Optional[int] = typer.Option(None, help="Noise levels T.", callback=_in(limits.TIMESTEPS)),
    p_uncond: Optional[float] = typer.Option(None, help="How often the label is dropped to the null label (classifier-free guidance's unconditional branch), in [0, 1].", callback=_in(limits.PROBABILITY)),
    conditional: Optional[bool] = typer.Option(None, "--conditional/--unconditional", help="Learn the labels too (default), or an unconditional network only."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (an upper bound when --minutes is set).", callback=_in(limits.EPOCHS)),
    minutes: Optional[float] = typer.Option(None, help="Stop after this many minutes of training on --clock, summed over resumes (0 = all the epochs).", callback=_in(limits.MINUTES)),
    clock: Optional[str] = typer.Option(None, help="cpu (the process's CPU time over its threads: an idle machine's wall time) or wall."),
    batch_size: Optional[int] = BatchSize,
    lr: Optional[float] = typer.Option(None, help="Adam learning rate.", callback=_in(limits.LR)),
    warmup: Optional[int] = typer.Option(None, help="Steps of linear learning-rate warm-up.", callback=_in(limits.WARMUP)),
    clip: Optional[float] = typer.Option(None, help="Gradient norm clipping.", callback=_in(limits.CLAMP)),
    ema: Optional[float] = typer.Option(None, help="Decay of the moving average of the weights that is saved, in [0, 1).", callback=_in(limits.FRACTION)),
    seed: Optional[int] = Seed,
    train_subset: Optional[int] = TrainSubset,
    amp: Optional[str] = Amp,
    workers: int = Workers,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train a small diffusion model (a UNet predicting the noise) for classifier and classifier-free guidance; stops at
    --minutes. Its folder is what `ppgn bench quality --diffusion FOLDER` compares with PPGN. Options left out take
    DiffusionTrainConfig's defaults: `ppgn train diffusion --minutes 42 --out runs/diffusion-fmnist` made the benchmarked model."""
    from ..training.diffusion import CLOCKS, DiffusionTrainConfig, train_diffusion

    if schedule is not None and schedule not in ("cosine", "linear"):
        fail(f"unknown --schedule {schedule!r}; valid: cosine, linear")
    if clock is not None and clock not in CLOCKS:
        fail(f"unknown --clock {clock!r}; valid: {', '.join(CLOCKS)}")
    levels = None if multipliers is None else _positive_ints("multipliers", multipliers)
    if levels is not None and max(levels) > limits.LEVEL["high"]:
        fail(f"--multipliers must each be at most {limits.LEVEL['high']}, got {multipliers!r}")
    config = _config(DiffusionTrainConfig, dataset=data, size=size, channels=channels, skip_bad=skip_bad, unet_channels=unet_channels,
                     multipliers=levels, blocks=blocks, patch=patch, dropout=dropout, schedule=schedule, timesteps=timesteps,
                     p_uncond=p_uncond, conditional=conditional, epochs=epochs, minutes=minutes, clock=clock, batch_size=batch_size,
                     lr=lr, warmup=warmup, clip=clip, ema=ema, seed=seed, train_subset=train_subset)  # fmt: skip
    out = _out(out or _default_out(config, "diffusion"))
    card = _train(train_diffusion, config, out, data_dir, device, quiet, amp=amp, workers=workers)
    m = card["metrics"]
    _say(f"diffusion: test loss {m['test_loss']}, {m['steps']} steps ({m['epochs_seen']} epochs, stopped by {m['stopped_by']}) → {out} "
         f"(ppgn bench quality --rows diffusion-guided,diffusion-cfg --diffusion {out})")
