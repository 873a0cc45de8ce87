"""What every ``ppgn`` command shares: its common options and the one-line error.

Kept apart from ``cli.py`` so the command modules (``cli_cinn``, ``cli_conditions``,
``cli_benches``) import them without importing the command line that registers them.
"""

from __future__ import annotations

import typer

Model = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights.")
Seed = typer.Option(0, help="Same seed, same images.")
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")
Device = typer.Option(None, "--device", help="cpu, cuda, cuda:1, ... (default: CUDA when present).")
DataDir = typer.Option(None, "--data-dir", help="Folder with the dataset (else $PPGN_DATA, else Debian's).")


def fail(message: str) -> None:
    """Print a one-line error and exit with status 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
