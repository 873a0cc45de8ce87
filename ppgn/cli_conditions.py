"""Command bodies for plug & play conditions: user networks, hidden neurons, inpainting, captions.

``ppgn.cli`` registers them with ``register(app, train_app, bench_app)``; like the rest of the
command line they only parse, call the library and save.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

Model = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights.")
Seed = typer.Option(0, help="Same seed, same images.")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")
Device = typer.Option(None, "--device", help="cpu, cuda, cuda:1, ... (default: CUDA when present).")
DataDir = typer.Option(None, "--data-dir", help="Folder with the dataset (else $PPGN_DATA, else Debian's).")


def _fail(message: str):
    from .cli import fail

    fail(message)


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
        _fail(f"--epochs must be > 0, got {epochs}")
    config = ConditionNetTrainConfig(module=module, dataset=dataset, epochs=epochs, seed=seed, train_subset=train_subset)
    target = out or Path(f"runs/{dataset}/condition-{module.rpartition(':')[2]}")
    try:
        _, card = train_condition_net(config, target, data_dir, device, quiet)
    except (DataNotFoundError, UserNetworkError, ValueError) as err:
        _fail(str(err))
    typer.echo(f"{module}: {card['metrics']} → {target}")


def register(app: typer.Typer, train_app: typer.Typer, bench_app: typer.Typer) -> None:
    """Add this module's commands to the ``ppgn`` command line."""
    train_app.command("condition-net")(train_condition_net_cmd)
