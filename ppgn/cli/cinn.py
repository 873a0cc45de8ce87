"""The cINN commands: ``ppgn cinn transfer`` (style transfer) and ``ppgn colorize``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import Device, Quiet, Seed, checked, fail, load_pipeline, outputs

app = typer.Typer()
cinn_app = typer.Typer(no_args_is_help=True, help="Use a conditional invertible network (cINN).")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")


@app.command("colorize")
def colorize_cmd(
    image: Path = typer.Option(..., help="Any image (any size or mode); it is made grey at the model's size."),
    num: int = typer.Option(8, "--num", "-n", callback=checked(low=1, high=1024, integer=True), help="How many colourings."),
    seed: int = Seed,
    temperature: float = typer.Option(0.8, callback=checked(low=0, low_open=True, high=10), help="Latent temperature T (lower: safer, less varied colours)."),
    out: Path = typer.Option(..., help=".npz (images uint8 (N, H, W, 3)) or an image grid (.png)."),
    model: str = typer.Option("emoji-colorizer", help="A colourisation cINN: a shipped name, a folder, or a .safetensors file."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Diverse colourings of a grey image, sampled from the colourisation cINN."""
    outputs(out=(out, ".npz", *IMAGE_SUFFIXES))
    import numpy as np

    from ..io import make_grid, read_image, save_image, save_npz
    from ..models import WeightsError
    from ..pipelines import ColorizerPipeline

    if model.endswith(".safetensors"):
        if not Path(model).is_file():
            fail(f"no such weights file: {model}")
        pipe = ColorizerPipeline(Path(model).parent, device, weights=Path(model).stem)
    else:
        pipe = load_pipeline(model, device, kind="colorizer")
    try:
        grey = read_image(image, 1, pipe.size, resize=True)[..., 0]
        images = pipe.colorize(grey, num, seed, temperature)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    if out.suffix.lower() == ".npz":
        save_npz(out, images, np.zeros(num, np.int64), np.ones(num, np.float32))
    else:
        row = np.concatenate([np.repeat(grey[None, ..., None], 3, -1), images])
        save_image(make_grid(row, len(row), scale=4), out)
    if not quiet:
        typer.echo(f"{num} colourings of {image} → {out}", err=True)


@cinn_app.command("transfer")
def transfer_cmd(
    image: Path = typer.Option(..., help="A digit (any size or mode; dark-on-light is inverted to MNIST's light-on-dark)."),
    from_: str = typer.Option(..., "--from", help="The class the image shows (encoded with it)."),
    out: Path = typer.Option(..., help="grid.png (source, then one image per class) or .npz."),
    model: str = typer.Option("mnist-cinn", help="A class-conditional cINN: mnist-cinn, fashion-mnist-cinn, or a folder."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Style transfer: z = f(x; from), then f⁻¹(z; c) for every class c (the cINN paper's figure)."""
    outputs(out=(out, ".npz", *IMAGE_SUFFIXES))
    if not from_.strip():
        fail("--from is empty; give the class the image shows (a name or an index)")
    import numpy as np

    from ..io import make_grid, read_image, save_image, save_npz
    from ..models import WeightsError
    from ..pipelines import model_names
    from ..pipelines.cinn import light_on_dark

    pipe = load_pipeline(model, device)
    if pipe.kind != "cinn":
        fail(f"{model} is not a class-conditional cINN; valid: {', '.join(model_names('cinn'))}, or a folder with cinn.safetensors")
    try:
        pixels = light_on_dark(read_image(image, 1, pipe.image_shape[0], resize=True)[..., 0])
        result = pipe.transfer(pixels, from_)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    if out.suffix.lower() == ".npz":
        save_npz(out, result.array, result.labels, result.prob)
    else:
        row = np.concatenate([pixels[None, ..., None], result.array])
        save_image(make_grid(row, len(row), scale=3), out)
    if not quiet:
        typer.echo(f"{image} as class {from_} → every class → {out}", err=True)
