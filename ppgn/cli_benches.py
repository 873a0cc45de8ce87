"""``ppgn bench networks|neurons|inpaint|captions``: the measurements of docs/conditions.md.

Registered by ``ppgn.cli_conditions.register``; each command parses, calls a function of
``ppgn.evaluation``, prints a table and optionally writes JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli_conditions import _write_json
from .cli_options import DataDir, Device, Model, Quiet, Seed, fail


def bench_networks_cmd(
    model: str = Model,
    network: list[str] = typer.Option(
        ["mlp=ppgn.examples.condition_nets:mlp@condition-mlp", "cnn=ppgn.examples.condition_nets:cnn@condition-cnn",
         "cnn logits/10=ppgn.examples.condition_nets:cnn_cold@condition-cnn",
         "cnn logits*10=ppgn.examples.condition_nets:cnn_hot@condition-cnn"],
        help="NAME=package.module:factory@WEIGHTS (a file, or a stem in the model folder); repeat for several.",
    ),
    num: int = typer.Option(16, "--num", "-n", help="Chains per class."),
    preset: str = typer.Option("joint-ppgn-h", help="The sampler preset (its ε's are used untouched)."),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: the preset's)."),
    seed: int = Seed,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the rows as JSON."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Sample every class through user networks, untuned, under each calibration mode; evaluator scores."""
    from .cli import _load_pipeline
    from .evaluation.bench_conditions import bench_user_networks
    from .models import WeightsError
    from .sampling import PRESETS

    if preset not in PRESETS:
        fail(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    if num <= 0:
        fail(f"--num must be > 0, got {num}")
    pipe = _load_pipeline(model, device)
    nets = []
    for text in network:
        name, _, rest = text.partition("=")
        module, _, weights = rest.partition("@")
        if not name or not module:
            fail(f"--network must look like NAME=package.module:factory@WEIGHTS, got {text!r}")
        if weights and not Path(weights).is_file():
            weights = str(pipe.folder / f"{weights}.safetensors")
        nets.append((name, module, weights or None))
    try:
        rows = bench_user_networks(pipe, nets, num, preset, seed, steps, progress=not quiet)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    typer.echo(f"{preset}, {num} chains per class, seed {seed}; accuracy and diversity by the evaluator")
    typer.echo(f"{'network':<32} {'calibration':>11} {'scale':>8} {'accuracy':>9} {'diversity':>9} {'fid':>7} {'s':>6}")
    for r in rows:
        typer.echo(f"{r['network']:<32} {r['calibration']:>11} {r['scale']:>8} {r['accuracy']:>9} {r['diversity']:>9} {r['fid']:>7} {r['seconds']:>6}")
    _write_json(json_out, rows)


def bench_neurons_cmd(
    model: str = Model,
    neurons: str = typer.Option("features.6:3,features.6:20,fc.2:7,fc.2:41,fc.2:100,head.1:8", help="Comma-separated LAYER:UNIT list."),
    num: int = typer.Option(16, "--num", "-n", help="Chains per unit and preset."),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: each preset's)."),
    real_subset: int = typer.Option(0, help="Look for the top real images among this many training images (0 = all)."),
    seed: int = Seed,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the rows as JSON."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """DGN-AM vs PPGN on the same hidden units: activation reached and diversity, against real images."""
    from .cli import _load_pipeline
    from .data import DataNotFoundError, load_fashion_mnist
    from .evaluation.bench_neurons import bench_neurons
    from .evaluation.evaluate import EvaluatorBundle
    from .models import WeightsError
    from .visualize import target_network

    if num < 2:
        fail(f"--num must be >= 2 (diversity needs pairs), got {num}")
    pipe = _load_pipeline(model, device)
    try:
        train = load_fashion_mnist("train", data_dir)
        evaluator = EvaluatorBundle.from_folder(pipe.folder, pipe.device).network
        images = train.images if not real_subset else train.images[:real_subset]
        rows = bench_neurons(pipe, target_network(pipe), neurons.split(","), images, num=num, seed=seed,
                             steps=steps, evaluator=evaluator, progress=not quiet)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    typer.echo(f"{num} chains per unit and preset, seed {seed}; 'vs real' = over the unit's top-{num} training images")
    typer.echo(f"{'neuron':<14} {'preset':<14} {'activation':>10} {'act/real':>9} {'diversity/real':>14}")
    for r in rows:
        typer.echo(f"{r['neuron']:<14} {r['preset']:<14} {r['activation']:>10} {r['activation_vs_real']:>9} {r['diversity_vs_real']:>14}")
    for preset in dict.fromkeys(r["preset"] for r in rows):
        mine = [r for r in rows if r["preset"] == preset]
        typer.echo(f"{'mean':<14} {preset:<14} {'':>10} {sum(r['activation_vs_real'] for r in mine) / len(mine):>9.3f} "
                   f"{sum(r['diversity_vs_real'] for r in mine) / len(mine):>14.3f}")
    _write_json(json_out, rows)


def bench_inpaint_cmd(
    model: str = Model,
    num: int = typer.Option(100, "--num", "-n", help="Held-out test images (one fill each)."),
    hole: int = typer.Option(12, help="Side of the square hole, in pixels."),
    eps4: str = typer.Option("0.03", help="Weight(s) ε4 of the context term, comma-separated to compare several."),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: the preset's)."),
    seed: int = Seed,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the rows as JSON."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Inpainting on test images with random holes: hole MSE and evaluator agreement vs baselines."""
    from .cli import _load_pipeline
    from .data import DataNotFoundError, load_fashion_mnist
    from .evaluation.bench_inpaint import bench_inpaint
    from .evaluation.evaluate import EvaluatorBundle
    from .models import WeightsError

    if not 0 < hole <= 20:
        fail(f"--hole must be in 1..20, got {hole}")
    if num <= 0:
        fail(f"--num must be > 0, got {num}")
    try:
        weights = tuple(float(e) for e in eps4.split(","))
    except ValueError:
        fail(f"--eps4 must be comma-separated numbers, got {eps4!r}")
    if any(e < 0 for e in weights):
        fail(f"--eps4 must be >= 0, got {eps4}")
    pipe = _load_pipeline(model, device)
    try:
        test, train = load_fashion_mnist("test", data_dir), load_fashion_mnist("train", data_dir)
        evaluator = EvaluatorBundle.from_folder(pipe.folder, pipe.device).network
        rows = bench_inpaint(pipe, test, train, evaluator, num, hole, seed, weights, steps, progress=not quiet)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    typer.echo(f"{num} test images, a random {hole}×{hole} hole each, seed {seed}, ε4 = {eps4}")
    typer.echo(f"{'method':<46} {'hole MSE':>9} {'evaluator agrees':>17} {'s':>6}")
    for r in rows:
        typer.echo(f"{r['method']:<46} {r['hole_mse']:>9} {r['evaluator_agreement']:>17} {r['seconds']:>6}")
    _write_json(json_out, rows)


def bench_captions_cmd(
    model: str = Model,
    captions: Optional[str] = typer.Option(None, help="Semicolon-separated captions (default: eight covering both attributes)."),
    num: int = typer.Option(32, "--num", "-n", help="Samples per caption."),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: the preset's)."),
    seed: int = Seed,
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the rows as JSON."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Caption samples: evaluator agreement with the named class, attribute hit rates, vs real images."""
    from .cli import _load_pipeline
    from .data import DataNotFoundError, load_fashion_mnist
    from .evaluation.bench_captions import CAPTIONS, bench_captions
    from .evaluation.evaluate import EvaluatorBundle
    from .models import WeightsError

    if num <= 0:
        fail(f"--num must be > 0, got {num}")
    pipe = _load_pipeline(model, device)
    chosen = tuple(c.strip() for c in captions.split(";")) if captions else CAPTIONS
    try:
        test = load_fashion_mnist("test", data_dir)
        evaluator = EvaluatorBundle.from_folder(pipe.folder, pipe.device).network
        rows = bench_captions(pipe, test, evaluator, chosen, num, seed, steps=steps, progress=not quiet)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    typer.echo(f"{num} samples per caption, seed {seed}; attribute rates measured from pixels")
    typer.echo(f"{'caption':<26} {'evaluator: samples':>18} {'real':>6} {'+class':>7}   "
               "attribute: samples / real base rate / class-only samples / caption+class samples")
    for r in rows:
        attrs = "; ".join(f"{w} {r['attributes'][w]:.2f} / {r['real_base_rate'][w]:.2f} / {r['class_only_rate'][w]:.2f}"
                          f" / {r['composed_attributes'][w]:.2f}" for w in r["attributes"])
        typer.echo(f"{r['caption']:<26} {r['agreement']:>18} {r['real_agreement']:>6} {r['composed_agreement']:>7}   {attrs}")
    _write_json(json_out, rows)


def register(bench_app: typer.Typer) -> None:
    bench_app.command("networks")(bench_networks_cmd)
    bench_app.command("neurons")(bench_neurons_cmd)
    bench_app.command("inpaint")(bench_inpaint_cmd)
    bench_app.command("captions")(bench_captions_cmd)
