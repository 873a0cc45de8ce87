"""``ppgn train ...``: one command per recipe. Each parses, calls the recipe, and reports."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .options import DataDir, Device, Quiet, fail, load_pipeline

train_app = typer.Typer(no_args_is_help=True, help="Train the networks (each resumes after a kill).")


def _train_classifier(model: str, dataset, out, epochs, seed, train_subset, data_dir, device, quiet):
    from ..data import DataNotFoundError
    from ..training.classifier import ClassifierTrainConfig, train_classifier

    defaults = ClassifierTrainConfig()
    config = ClassifierTrainConfig(
        model=model, dataset=dataset, epochs=epochs or defaults.epochs, seed=seed, train_subset=train_subset
    )
    try:
        _, card = train_classifier(config, out or f"runs/{dataset}/{model}", data_dir, device, quiet)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"{model}: test accuracy {card['metrics']['test_accuracy']:.4f} → {out or f'runs/{dataset}/{model}'}")


def _classifier_command(model: str, default_seed: int, summary: str):
    """The `train classifier` and `train evaluator` commands differ only in model and seed."""

    def command(
        dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
        out: Optional[Path] = typer.Option(None, help=f"Output folder (default runs/DATASET/{model})."),
        epochs: int = typer.Option(0, help="Epochs (0 = the recipe's default)."),
        seed: int = typer.Option(default_seed, help="Random seed."),
        train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
        data_dir: Optional[Path] = DataDir,
        device: Optional[str] = Device,
        quiet: bool = Quiet,
    ):
        _train_classifier(model, dataset, out, epochs, seed, train_subset, data_dir, device, quiet)

    command.__doc__ = summary
    return command


train_app.command("classifier")(
    _classifier_command("classifier", 0, "Train the encoder/classifier E/C whose penultimate layer is the code h.")
)
train_app.command("evaluator")(
    _classifier_command("evaluator", 1, "Train the independent evaluator (another architecture and seed; used only to measure).")
)


@train_app.command("generator")
def train_generator_cmd(
    dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
    classifier: Optional[Path] = typer.Option(None, help="The frozen encoder E (default runs/DATASET/classifier/classifier.safetensors)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/generator)."),
    noise: float = typer.Option(0.5, help="Noise on h in per-unit stds (0 = noiseless Joint PPGN-h)."),
    epochs: int = typer.Option(0, help="Epochs (0 = the recipe's default)."),
    seed: int = 0,
    train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train G (and D) as in Joint PPGN-h: L_img + L_h1 + L_h + L_GAN, noise on h."""
    from ..data import DataNotFoundError
    from ..models import WeightsError
    from ..training.generator import GeneratorTrainConfig, train_generator

    if noise < 0:
        fail(f"--noise must be >= 0, got {noise}")
    defaults = GeneratorTrainConfig()
    config = GeneratorTrainConfig(
        dataset=dataset,
        classifier=str(classifier or f"runs/{dataset}/classifier/classifier.safetensors"),
        noise=noise,
        epochs=epochs or defaults.epochs,
        seed=seed,
        train_subset=train_subset,
    )
    out = out or Path(f"runs/{dataset}/generator")
    try:
        _, card = train_generator(config, out, data_dir, device, quiet)
    except (DataNotFoundError, WeightsError, ValueError) as err:
        fail(str(err))
    typer.echo(f"generator: {card['metrics']} → {out}")


def _dae_command(space: str, default_noise: float, default_epochs: int, summary: str):
    """`train dae-h` and `train dae-x` differ only in the space the DAE models and its defaults."""

    def command(
        dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
        classifier: Optional[Path] = typer.Option(None, help="The frozen encoder E, for dae-h (default runs/DATASET/classifier/classifier.safetensors)."),
        out: Optional[Path] = typer.Option(None, help=f"Output folder (default runs/DATASET/dae-{space})."),
        noise: float = typer.Option(default_noise, help="Noise σ (per-unit stds of h, or pixel units of x)."),
        epochs: int = typer.Option(default_epochs, help="Epochs."),
        seed: int = 0,
        data_dir: Optional[Path] = DataDir,
        device: Optional[str] = Device,
        quiet: bool = Quiet,
    ):
        from ..data import DataNotFoundError
        from ..models import WeightsError
        from ..training.dae import DAETrainConfig, train_dae

        if noise <= 0:
            fail(f"--noise must be > 0 for a denoising autoencoder, got {noise}")
        config = DAETrainConfig(
            dataset=dataset,
            classifier=str(classifier or f"runs/{dataset}/classifier/classifier.safetensors"),
            noise=noise, epochs=epochs, seed=seed, space=space,
        )
        target = out or Path(f"runs/{dataset}/dae-{space}")
        try:
            _, card = train_dae(config, target, data_dir, device, quiet)
        except (DataNotFoundError, WeightsError, ValueError) as err:
            fail(str(err))
        typer.echo(f"dae-{space}: {card['metrics']} → {target}")

    command.__doc__ = summary
    return command


train_app.command("dae-h")(_dae_command("h", 0.5, 20, "Train the separate denoising autoencoder on h of PPGN-h."))
train_app.command("dae-x")(_dae_command("x", 0.25, 3, "Train the denoising autoencoder on images of PPGN-x."))


@train_app.command("cinn")
def train_cinn_cmd(
    dataset: str = typer.Option("mnist", help="mnist, fashion-mnist or digits."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/cinn)."),
    epochs: int = typer.Option(60, help="Epochs (the authors' MNIST recipe: 60)."),
    layout: str = typer.Option("fc", help="fc (couplings on flattened pixels), multiscale (conv couplings at 1/2 and 1/4 size, then fc) or pyramid (fc on the 1/4-size thumbnail, conv on the detail bands given it)."),
    blocks: int = typer.Option(8, help="Permute + GLOW coupling blocks (the fully connected ones with multiscale or pyramid)."),
    hidden: int = typer.Option(96, help="Fully connected sub-network width."),
    conv_blocks: str = typer.Option("4,4", help="multiscale, pyramid: coupling blocks per scale (1/2, 1/4, ...), comma-separated."),
    conv_hidden: str = typer.Option("32,64", help="multiscale, pyramid: sub-network channels per scale, comma-separated."),
    cond_features: int = typer.Option(32, help="Width of the conditioning network's output."),
    class_weight: float = typer.Option(0.0, help="β of the class term β·CE(p(c|x)) (IB-INN); 0 = maximum likelihood only."),
    class_batch: int = typer.Option(32, help="Images per batch that pay the class term (each costs one pass per class)."),
    clamp: float = typer.Option(1.0, help="Soft clamp of the log-scales."),
    lr: float = typer.Option(5e-4, help="Adam learning rate (cosine schedule)."),
    dequantisation: str = typer.Option("uniform", help="uniform, in logit space (bits/dim is a bound), or gaussian, on the pixels (the authors')."),
    noise: float = typer.Option(0.08, help="σ of gaussian dequantisation, on pixels in [0, 1]."),
    train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
    seed: int = typer.Option(0, help="Random seed."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train a class-conditional cINN by maximum likelihood (checkpoints; resumes after a kill)."""
    from ..data import DataNotFoundError
    from ..models.cinn import LAYOUTS
    from ..training.cinn import DEQUANTISATIONS, CINNTrainConfig, train_cinn

    if dataset not in ("mnist", "fashion-mnist", "digits"):
        fail(f"unknown dataset {dataset!r}; valid: mnist, fashion-mnist, digits")
    if dequantisation not in DEQUANTISATIONS:
        fail(f"unknown dequantisation {dequantisation!r}; valid: {', '.join(DEQUANTISATIONS)}")
    if layout not in LAYOUTS:
        fail(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    for name, value in (("epochs", epochs), ("blocks", blocks), ("hidden", hidden), ("clamp", clamp), ("lr", lr), ("cond-features", cond_features), ("class-batch", class_batch)):
        if value <= 0:
            fail(f"--{name} must be > 0, got {value}")
    if class_weight < 0:
        fail(f"--class-weight must be >= 0, got {class_weight}")
    scales = {name: _positive_ints(name, text) for name, text in (("conv-blocks", conv_blocks), ("conv-hidden", conv_hidden))}
    if len(scales["conv-blocks"]) != len(scales["conv-hidden"]):
        fail(f"--conv-blocks and --conv-hidden need one entry per scale, got {conv_blocks!r} and {conv_hidden!r}")
    config = CINNTrainConfig(
        dataset=dataset, epochs=epochs, layout=layout, blocks=blocks, hidden=hidden, conv_blocks=scales["conv-blocks"],
        conv_hidden=scales["conv-hidden"], cond_features=cond_features, class_weight=class_weight, class_batch=class_batch,
        clamp=clamp, lr=lr,
        dequantisation=dequantisation, noise=noise, train_subset=train_subset, seed=seed,
        logit_alpha=0.0 if dequantisation == "gaussian" else CINNTrainConfig.logit_alpha,  # Gaussian noise leaves [0, 1]
    )  # fmt: skip
    target = out or Path(f"runs/{dataset}/cinn")
    try:
        _, card = train_cinn(config, target, data_dir, device, quiet)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"cinn: {card['metrics']} → {target}")


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
    dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
    classifier: Path = typer.Option(Path("ppgn/weights/fashion-mnist/classifier.safetensors"), help="The frozen encoder E."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/flow-prior)."),
    noise: float = typer.Option(0.5, help="Smoothing σ in per-unit stds of h (as the DAE on h)."),
    epochs: int = typer.Option(15, help="Epochs."),
    blocks: int = typer.Option(6, help="Permute + GLOW coupling blocks."),
    hidden: int = typer.Option(96, help="Sub-network width."),
    seed: int = typer.Option(0, help="Random seed."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train a normalising flow on codes h = E(x): the exact prior of preset ppgn-flow."""
    from ..data import DataNotFoundError
    from ..models import WeightsError
    from ..training.flow_prior import FlowPriorTrainConfig, train_flow_prior

    if dataset not in ("fashion-mnist", "digits"):
        fail(f"unknown dataset {dataset!r}; valid: fashion-mnist, digits")
    if noise <= 0:
        fail(f"--noise must be > 0 (codes are post-ReLU: without smoothing they have no density), got {noise}")
    for name, value in (("epochs", epochs), ("blocks", blocks), ("hidden", hidden)):
        if value <= 0:
            fail(f"--{name} must be > 0, got {value}")
    config = FlowPriorTrainConfig(dataset=dataset, classifier=str(classifier), noise=noise, epochs=epochs,
                                  blocks=blocks, hidden=hidden, seed=seed)  # fmt: skip
    target = out or Path(f"runs/{dataset}/flow-prior")
    try:
        _, card = train_flow_prior(config, target, data_dir, device, quiet)
    except (DataNotFoundError, WeightsError, ValueError) as err:
        fail(str(err))
    typer.echo(f"flow-prior: {card['metrics']} → {target}")


@train_app.command("colorizer")
def train_colorizer_cmd(
    source: str = typer.Option("emoji", help="emoji (apt-get install fonts-noto-color-emoji) or a folder of colour images."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/emoji/colorizer)."),
    size: int = typer.Option(16, help="Image side in pixels."),
    epochs: int = typer.Option(60, help="Epochs."),
    blocks: int = typer.Option(6, help="Permute + GLOW coupling blocks."),
    hidden: int = typer.Option(48, help="Sub-network channels."),
    seed: int = typer.Option(0, help="Random seed."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train the colourisation cINN p(colour | grey) by maximum likelihood."""
    from ..data import DataNotFoundError
    from ..training.colorize import ColorizerTrainConfig, train_colorizer

    if source != "emoji" and not Path(source).is_dir():
        fail(f"--source must be emoji or an existing folder of images, got {source!r}")
    if size < 4 or size % 2:
        fail(f"--size must be an even number >= 4, got {size}")
    for name, value in (("epochs", epochs), ("blocks", blocks), ("hidden", hidden)):
        if value <= 0:
            fail(f"--{name} must be > 0, got {value}")
    config = ColorizerTrainConfig(source=source, size=size, epochs=epochs, blocks=blocks, hidden=hidden, seed=seed)
    target = out or Path("runs/emoji/colorizer")
    try:
        _, card = train_colorizer(config, target, data_dir, device, quiet)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"colorizer: {card['metrics']} → {target}")


@train_app.command("condition-net")
def train_condition_net_cmd(
    module: str = typer.Option(..., help="The network's factory, package.module:factory (returns logits)."),
    dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/condition-FACTORY)."),
    epochs: int = typer.Option(4, help="Epochs."),
    seed: int = typer.Option(0, help="Random seed."),
    train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train any user network (a factory returning logits) by cross-entropy, to plug in as a condition."""
    from ..data import DataNotFoundError
    from ..models.user import UserNetworkError
    from ..training.condition_net import ConditionNetTrainConfig, train_condition_net

    if epochs <= 0:
        fail(f"--epochs must be > 0, got {epochs}")
    config = ConditionNetTrainConfig(module=module, dataset=dataset, epochs=epochs, seed=seed, train_subset=train_subset)
    target = out or Path(f"runs/{dataset}/condition-{module.rpartition(':')[2]}")
    try:
        _, card = train_condition_net(config, target, data_dir, device, quiet)
    except (DataNotFoundError, UserNetworkError, ValueError) as err:
        fail(str(err))
    typer.echo(f"{module}: {card['metrics']} → {target}")


@train_app.command("captioner")
def train_captioner_cmd(
    dataset: str = typer.Option("fashion-mnist", help="fashion-mnist (captions name its classes)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/captioner)."),
    epochs: int = typer.Option(4, help="Epochs."),
    seed: int = typer.Option(0, help="Random seed."),
    train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
    model: str = typer.Option("fashion-mnist", help="Whose encoder E the captioner reads: a shipped model name or a folder."),
    classifier: Optional[str] = typer.Option(
        None, help="Read h = E(x) of this frozen encoder instead of --model's (as LRCN read CaffeNet features); 'none' = a CNN on the pixels.",
    ),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train the captioner (encoder + GRU decoder) on captions measured from the pixels."""
    from ..data import DataNotFoundError
    from ..models import WeightsError
    from ..training.captioner import CaptionerTrainConfig, train_captioner

    if epochs <= 0:
        fail(f"--epochs must be > 0, got {epochs}")
    if classifier is None:
        classifier = str(load_pipeline(model, None, kind="ppgn").folder / "classifier.safetensors")
    config = CaptionerTrainConfig(dataset=dataset, epochs=epochs, seed=seed, train_subset=train_subset,
                                  classifier="" if classifier.lower() == "none" else classifier)
    target = out or Path(f"runs/{dataset}/captioner")
    try:
        _, card = train_captioner(config, target, data_dir, device, quiet)
    except (DataNotFoundError, WeightsError, ValueError) as err:
        fail(str(err))
    typer.echo(f"captioner: {card['metrics']} → {target}")
