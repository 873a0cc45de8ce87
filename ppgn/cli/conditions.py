"""``ppgn visualize`` (what a hidden unit responds to) and ``ppgn inpaint`` (PPGN-context)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .options import MAX_STEPS, DataDir, Device, Model, Preset, Quiet, Seed, checked, fail, load_pipeline, outputs

app = typer.Typer()


@app.command("visualize")
def visualize_cmd(
    model: str = Model,
    neuron: Optional[str] = typer.Option(None, help="The unit, LAYER:UNIT (see --list), e.g. fc.2:7."),
    list_: bool = typer.Option(False, "--list", help="Print one line per layer: its name and unit count."),
    module: Optional[str] = typer.Option(None, help="Visualise your network instead: package.module:factory."),
    weights: Optional[Path] = typer.Option(None, help="A .safetensors state dict for --module."),
    num: int = typer.Option(8, "--num", "-n", callback=checked(low=1, high=256, integer=True), help="Generated images."),
    seed: int = Seed,
    preset: str = Preset,
    steps: Optional[int] = typer.Option(None, callback=checked(low=1, high=MAX_STEPS, integer=True), help="Chain length (default: the preset's)."),
    spatial: str = typer.Option("centre", help="Conv units: the centre position (the paper) or the mean over positions."),
    real_subset: int = typer.Option(0, callback=checked(low=0, integer=True), help="Look for the top-9 real images among this many training images (0 = all)."),
    out: Optional[Path] = typer.Option(None, help="Write the figure (generated row, top-9 real row) as PNG."),
    json_out: Optional[Path] = typer.Option(None, "--json", help='Write {"layer", "unit", "activations", "top9_real"}.'),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Images that drive one hidden unit (multifaceted visualisation), beside the real images that do."""
    outputs(out=(out, ".png"), json=(json_out, ".json"))
    from ..data import DataNotFoundError
    from ..io import all_or_none, save_image, write_json
    from ..models import WeightsError
    from ..pipelines.visualize import (
        figure,
        real_images,
        target_network,
        top_real,
        units_of,
        visualize,
    )
    from ..sampling import PRESETS
    from ..sampling.neuron import SPATIAL, parse_neuron

    if preset not in PRESETS:
        fail(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    if spatial not in SPATIAL:
        fail(f"unknown --spatial {spatial!r}; valid: {', '.join(SPATIAL)}")
    pipe = load_pipeline(model, device, kind="ppgn")
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
        parse_neuron(neuron, units_of(pipe, net))  # a bad unit first, then missing data, before any sampling
        images = real_images(pipe, data_dir, real_subset)
        vis = visualize(pipe, net, neuron, num, seed, preset, spatial, steps, progress=not quiet)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    idx, top_acts = top_real(net, vis.layer, vis.unit, images, 9, spatial)
    with all_or_none():
        if out is not None:
            save_image(figure(vis.images, vis.activations, images[idx], top_acts), out)
        if json_out is not None:
            write_json(json_out, {"layer": vis.layer, "unit": vis.unit, "activations": [round(float(a), 4) for a in vis.activations],
                                  "top9_real": [round(float(a), 4) for a in top_acts]})
    if not quiet:
        typer.echo(f"{vis.layer}:{vis.unit} generated mean {vis.activations.mean():.3f} (max {vis.activations.max():.3f}); "
                   f"top-9 real mean {top_acts.mean():.3f}" + "".join(f" → {p}" for p in (out, json_out) if p), err=True)


@app.command("inpaint")
def inpaint_cmd(
    model: str = Model,
    image: Path = typer.Option(..., help="A PNG of the model's size (28×28 for fashion-mnist), read in its channels (grey or RGB)."),
    box: Optional[str] = typer.Option(None, help="The hole, x,y,w,h in pixels."),
    mask: Optional[Path] = typer.Option(None, help="Or a mask PNG of the same size: white = the hole."),
    class_: Optional[str] = typer.Option(None, "--class", "-c", help="Also ask for this class (name or index)."),
    num: int = typer.Option(8, "--num", "-n", callback=checked(low=1, high=256, integer=True), help="Fills to sample."),
    seed: int = Seed,
    preset: str = Preset,
    eps4: float = typer.Option(0.03, callback=checked(low=0, high=1e6), help="Weight ε4 of the context term."),
    steps: Optional[int] = typer.Option(None, callback=checked(low=1, high=MAX_STEPS, integer=True), help="Chain length (default: the preset's)."),
    out: Path = typer.Option(..., help="FILE.png: a grid with the input; FILE.npz: the composites in the samples contract."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Fill a hole in an image with PPGN-context: plausible, agreeing with the known pixels."""
    outputs(out=(out, ".png", ".npz"))
    import numpy as np

    from ..data import from_uint8
    from ..io import make_grid, read_image, save_image, save_npz
    from ..models import WeightsError
    from ..pipelines.inpaint import box_mask, filed, inpaint, parse_box, read_mask
    from ..sampling import PRESETS

    if preset not in PRESETS:
        fail(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    if (box is None) == (mask is None):
        fail("give exactly one of --box x,y,w,h and --mask FILE.png")
    pipe = load_pipeline(model, device, kind="ppgn")
    size, _, channels = pipe.image_shape
    try:
        pixels = read_image(image, channels, size)  # uint8 (S, S, C)
        holes = box_mask(size, parse_box(box)) if box is not None else read_mask(mask, size)
        result = inpaint(pipe, from_uint8(pixels[None]), holes, class_, num, seed, preset, eps4, steps, progress=not quiet)
        labels, prob = filed(pipe, result)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    if out.suffix.lower() == ".npz":
        save_npz(out, result.array, labels, prob)
    else:
        known = result.mask[0, 0].numpy()[..., None]  # (S, S, 1): 1 where known, the hole shown grey
        shown = (pixels * known + 128 * (1 - known)).astype(np.uint8)
        save_image(make_grid(np.concatenate([pixels[None], shown[None], result.array]), num + 2), out)
    if not quiet:
        names = ", ".join(sorted({pipe.classes[k] for k in labels.tolist()}))
        typer.echo(f"{num} fills ({names}) → {out}", err=True)
