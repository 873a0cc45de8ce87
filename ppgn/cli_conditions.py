"""Command bodies for plug & play conditions: user networks, hidden neurons, inpainting, captions.

``ppgn.cli`` registers them with ``register(app, train_app, bench_app)``; like the rest of the
command line they only parse, call the library and save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli_options import DataDir, Device, Model, Quiet, Seed, fail


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
    from .data import DataNotFoundError
    from .sampling.network import UserNetworkError
    from .training.condition_net import ConditionNetTrainConfig, train_condition_net

    if epochs <= 0:
        fail(f"--epochs must be > 0, got {epochs}")
    config = ConditionNetTrainConfig(module=module, dataset=dataset, epochs=epochs, seed=seed, train_subset=train_subset)
    target = out or Path(f"runs/{dataset}/condition-{module.rpartition(':')[2]}")
    try:
        _, card = train_condition_net(config, target, data_dir, device, quiet)
    except (DataNotFoundError, UserNetworkError, ValueError) as err:
        fail(str(err))
    typer.echo(f"{module}: {card['metrics']} → {target}")


def visualize_cmd(
    model: str = Model,
    neuron: Optional[str] = typer.Option(None, help="The unit, LAYER:UNIT (see --list), e.g. fc.2:7."),
    list_: bool = typer.Option(False, "--list", help="Print one line per layer: its name and unit count."),
    module: Optional[str] = typer.Option(None, help="Visualise your network instead: package.module:factory."),
    weights: Optional[Path] = typer.Option(None, help="A .safetensors state dict for --module."),
    num: int = typer.Option(8, "--num", "-n", help="Generated images."),
    seed: int = Seed,
    preset: str = typer.Option("joint-ppgn-h", help="joint-ppgn-h (diverse facets), dgn-am (no prior, no noise), ..."),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: the preset's)."),
    spatial: str = typer.Option("centre", help="Conv units: the centre position (the paper) or the mean over positions."),
    real_subset: int = typer.Option(0, help="Look for the top-9 real images among this many training images (0 = all)."),
    out: Optional[Path] = typer.Option(None, help="Write the figure (generated row, top-9 real row) as PNG."),
    json_out: Optional[Path] = typer.Option(None, "--json", help='Write {"layer", "unit", "activations", "top9_real"}.'),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Images that drive one hidden unit (multifaceted visualisation), beside the real images that do."""
    from .cli import _load_pipeline
    from .data import DataNotFoundError, load_fashion_mnist
    from .images import save_image
    from .models import WeightsError
    from .sampling import PRESETS
    from .sampling.neuron import SPATIAL
    from .visualize import figure, target_network, top_real, units_of, visualize

    if preset not in PRESETS:
        fail(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    if spatial not in SPATIAL:
        fail(f"unknown --spatial {spatial!r}; valid: {', '.join(SPATIAL)}")
    if not 0 < num <= 256:
        fail(f"--num must be in 1..256, got {num}")
    if steps is not None and steps <= 0:
        fail(f"--steps must be > 0, got {steps}")
    pipe = _load_pipeline(model, device)
    try:
        net = target_network(pipe, module, weights)
        if list_:
            for layer, units in units_of(pipe, net).items():
                typer.echo(f"{layer} {units}")
            return
        if neuron is None:
            fail("give --neuron LAYER:UNIT (or --list to see the layers)")
        if out is None and json_out is None:
            fail("nothing to write: give --out FILE.png and/or --json FILE.json")
        vis = visualize(pipe, net, neuron, num, seed, preset, spatial, steps, progress=not quiet)
        train = load_fashion_mnist("train", data_dir)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    images = train.images if not real_subset else train.images[:real_subset]
    idx, top_acts = top_real(net, vis.layer, vis.unit, images, 9, spatial)
    if out is not None:
        save_image(figure(vis.images, vis.activations, images[idx][..., None], top_acts), out)
    _write_json(json_out, {"layer": vis.layer, "unit": vis.unit, "activations": [round(float(a), 4) for a in vis.activations],
                           "top9_real": [round(float(a), 4) for a in top_acts]})
    if not quiet:
        typer.echo(f"{vis.layer}:{vis.unit} generated mean {vis.activations.mean():.3f} (max {vis.activations.max():.3f}); "
                   f"top-9 real mean {top_acts.mean():.3f}" + "".join(f" → {p}" for p in (out, json_out) if p), err=True)


def inpaint_cmd(
    model: str = Model,
    image: Path = typer.Option(..., help="A grey PNG of the model's size (28×28)."),
    box: Optional[str] = typer.Option(None, help="The hole, x,y,w,h in pixels."),
    mask: Optional[Path] = typer.Option(None, help="Or a mask PNG of the same size: white = the hole."),
    class_: Optional[str] = typer.Option(None, "--class", "-c", help="Also ask for this class (name or index)."),
    num: int = typer.Option(8, "--num", "-n", help="Fills to sample."),
    seed: int = Seed,
    preset: str = typer.Option("joint-ppgn-h", help="The sampler preset."),
    eps4: float = typer.Option(0.03, help="Weight ε4 of the context term."),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: the preset's)."),
    out: Path = typer.Option(..., help="FILE.png: a grid with the input; FILE.npz: the composites in the samples contract."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Fill a hole in an image with PPGN-context: plausible, agreeing with the known pixels."""
    import numpy as np
    import torch

    from .cli import _load_pipeline
    from .data import to_tensor
    from .evaluation.evaluate import EvaluatorBundle
    from .images import make_grid, save_image, save_npz
    from .inpainting import box_mask, inpaint, parse_box, read_grey, read_mask
    from .models import WeightsError
    from .sampling import PRESETS

    if preset not in PRESETS:
        fail(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    if (box is None) == (mask is None):
        fail("give exactly one of --box x,y,w,h and --mask FILE.png")
    if not 0 < num <= 256:
        fail(f"--num must be in 1..256, got {num}")
    if eps4 < 0:
        fail(f"--eps4 must be >= 0, got {eps4}")
    if out.suffix.lower() not in (".png", ".npz"):
        fail(f"--out must end in .png or .npz, got {out.name}")
    pipe = _load_pipeline(model, device)
    size = pipe.classifier.config.image_size
    try:
        pixels = read_grey(image, size)
        holes = box_mask(size, parse_box(box)) if box is not None else read_mask(mask, size)
        result = inpaint(pipe, to_tensor(pixels[None]), holes, class_, num, seed, preset, eps4, steps, progress=not quiet)
        bundle = EvaluatorBundle.from_folder(pipe.folder, pipe.device) if class_ is None else None
    except (ValueError, WeightsError) as err:
        fail(str(err))
    labels = result.labels
    if bundle is not None:  # no class asked: file each fill under the evaluator's guess
        with torch.no_grad():
            labels = bundle.network(to_tensor(result.array[..., 0]).to(pipe.device)).argmax(1).cpu().numpy()
    with torch.no_grad():
        prob = pipe.classifier(to_tensor(result.array[..., 0]).to(pipe.device)).softmax(1).cpu().numpy()
    if out.suffix.lower() == ".npz":
        save_npz(out, result.array, labels, prob[np.arange(num), labels])
    else:
        shown = (pixels * result.mask[0, 0].numpy() + 128 * (1 - result.mask[0, 0].numpy())).astype(np.uint8)
        save_image(make_grid(np.concatenate([pixels[None, ..., None], shown[None, ..., None], result.array]), num + 2), out)
    if not quiet:
        names = ", ".join(sorted({pipe.classes[k] for k in labels.tolist()}))
        typer.echo(f"{num} fills ({names}) → {out}", err=True)


def _write_json(path: Optional[Path], value) -> None:
    if path is not None:
        import json

        from .models.io import atomic_write

        text = json.dumps(value, indent=2) + "\n"
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))


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
    from .data import DataNotFoundError
    from .models import WeightsError
    from .training.captioner import CaptionerTrainConfig, train_captioner

    if epochs <= 0:
        fail(f"--epochs must be > 0, got {epochs}")
    if classifier is None:
        from .pipeline import MODELS, WEIGHTS

        if model not in MODELS and not Path(model).is_dir():
            fail(f"unknown model {model!r}; valid: {', '.join(sorted(MODELS))}, or a folder of weights")
        classifier = str((WEIGHTS / model if model in MODELS else Path(model)) / "classifier.safetensors")
    config = CaptionerTrainConfig(dataset=dataset, epochs=epochs, seed=seed, train_subset=train_subset,
                                  classifier="" if classifier.lower() == "none" else classifier)
    target = out or Path(f"runs/{dataset}/captioner")
    try:
        _, card = train_captioner(config, target, data_dir, device, quiet)
    except (DataNotFoundError, WeightsError, ValueError) as err:
        fail(str(err))
    typer.echo(f"captioner: {card['metrics']} → {target}")


def register(app: typer.Typer, train_app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands (and the benches of ``cli_benches``) to the ``ppgn`` command line."""
    from . import cli_benches

    train_app.command("condition-net")(train_condition_net_cmd)
    train_app.command("captioner")(train_captioner_cmd)
    app.command("visualize")(visualize_cmd)
    app.command("inpaint")(inpaint_cmd)
    cli_benches.register(bench_app)
