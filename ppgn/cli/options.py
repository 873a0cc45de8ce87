"""What every ``ppgn`` command shares: its common options, the one-line error, loading a model.

Kept apart from ``app.py`` so the command modules import them without importing the command
line that registers them.
"""

from __future__ import annotations

from typing import Optional

import typer

Model = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights.")
Seed = typer.Option(0, help="Same seed, same images.")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")
Device = typer.Option(None, "--device", help="cpu, cuda, cuda:1, ... (default: CUDA when present).")
# The names of ppgn.sampling.PRESETS, written out so that `ppgn --help` need not import torch
# (tests/test_cli.py checks they agree).
PRESET_NAMES = ("dgn-am", "ppgn-x", "ppgn-h", "joint-ppgn-h", "noiseless-joint-ppgn-h", "ppgn-flow")
Preset = typer.Option("joint-ppgn-h", help=f"The sampler preset: {', '.join(PRESET_NAMES)}.")
DataDir = typer.Option(None, "--data-dir", help="Folder with the dataset (else $PPGN_DATA, else Debian's).")


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def load_pipeline(model: str, device: Optional[str], kind: str | None = None):
    """The pipeline of a shipped model name or a model folder (of ``kind``, if given), or a one-line error."""
    from ..models import WeightsError
    from ..pipelines import load, model_names

    try:
        pipe = load(model, device=device)
    except WeightsError as err:
        fail(str(err))
    if kind is not None and pipe.kind != kind:
        fail(f"{model} is a {pipe.kind} model; this command needs a {kind} model: {', '.join(model_names(kind))}, or a folder")
    return pipe
