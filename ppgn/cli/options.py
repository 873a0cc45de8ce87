"""What every ``ppgn`` command shares: its common options, the one-line error, loading a model.

Kept apart from ``app.py`` so the command modules import them without importing the command
line that registers them.
"""

from __future__ import annotations

from typing import Optional

import typer

Model = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights.")
# Bounds the library checks too (ppgn.sampling.sampler.MAX_EPS, ppgn.pipelines.request.MAX_STEPS), written
# out so that arguments are checked before torch is imported (tests/test_layers.py checks they agree).
MAX_EPS = 1e6
MAX_STEPS = 1_000_000
Quiet = typer.Option(False, "--quiet", "-q", help="No progress bar.")
Device = typer.Option(None, "--device", help="cpu, cuda, cuda:1, ... (default: CUDA when present).")
# The names of ppgn.sampling.PRESETS, written out so that `ppgn --help` need not import torch
# (tests/test_layers.py checks they agree).
PRESET_NAMES = ("dgn-am", "ppgn-x", "ppgn-h", "joint-ppgn-h", "noiseless-joint-ppgn-h", "ppgn-flow", "ppgn-flow-mh")
# Likewise the chain's other named choices (ppgn.pipelines.ppgn.INITS, ClassCondition.FORMS, CALIBRATIONS).
INIT_NAMES = ("gaussian", "uniform", "zeros")
FORM_NAMES = ("log-softmax", "official")
CALIBRATION_NAMES = ("up", "match", "off")
AUTOCAST_NAMES = ("off", "bf16", "fp16")  # ppgn.pipelines.ppgn.AUTOCASTS
# How a PPGN chain runs (PPGNPipeline.accelerate): shared by `ppgn sample` and `ppgn bench speed`.
Autocast = typer.Option("off", help=f"Run the networks in bf16 or fp16 ({', '.join(AUTOCAST_NAMES)}; fast with a bf16 matrix unit; images change).")
Compile = typer.Option(False, "--compile", help="torch.compile each chain step's pass through G and the condition (needs a C compiler on a CPU; compiling takes minutes).")
Subpixel = typer.Option(False, "--subpixel", help="Run G's transposed convolutions as their exact sub-pixel equivalents (oneDNN convolutions; slower on this project's CPU, try yours; images equal up to float rounding).")
Preset = typer.Option("joint-ppgn-h", help=f"The sampler preset: {', '.join(PRESET_NAMES)}.")
DataDir = typer.Option(None, "--data-dir", help="Folder with the dataset (else $PPGN_DATA, else Debian's).")


def checked(low: float | None = None, high: float | None = None, *, low_open: bool = False, high_open: bool = False,
            integer: bool = False, seed: bool = False):
    """An option callback that refuses, while the arguments are parsed (before torch is imported),
    a number outside its bounds, NaN or ±inf: ``typer.Option(None, callback=checked(low=0))``.

    The check is ``ppgn.io.check_number`` (or ``check_seed``), the same the Python API runs.
    """
    def callback(ctx: typer.Context, param: typer.CallbackParam, value):
        from ..io.checks import InputError, check_number, check_seed

        if value is None or ctx.resilient_parsing:
            return value
        try:
            if seed:
                return check_seed(value, "the seed")
            return check_number(value, "the value", low=low, high=high, low_open=low_open, high_open=high_open, integer=integer)
        except (InputError, TypeError) as err:
            raise typer.BadParameter(str(err).replace("the value ", "").replace("the seed ", "")) from None

    return callback


def outputs(**paths) -> None:
    """Refuse, before any work, outputs that cannot be written: ``outputs(out=(path, ".npz"))`` for ``--out``.

    Each value is (path or None, suffix, ...); a folder output has no suffix: (path, "/").
    """
    from ..io.checks import check_output, check_output_dir

    for name, (path, *suffixes) in paths.items():
        flag = "--" + name.rstrip("_").replace("_", "-")
        if suffixes == ["/"]:
            check_output_dir(path, flag)
        else:
            check_output(path, flag, suffixes)


Seed = typer.Option(0, callback=checked(seed=True), help="Same seed, same images (an integer in 0..2**63-1).")


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
