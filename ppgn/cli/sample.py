"""``ppgn sample``, ``ppgn eval``, ``ppgn real`` and ``ppgn export``: samples in, numbers and files out."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .options import (AUTOCAST_NAMES, CALIBRATION_NAMES, FORM_NAMES, INIT_NAMES, MAX_EPS, MAX_STEPS, PRESET_NAMES, Autocast, Compile, DataDir, Device,
                      Preset, Quiet, Seed, Subpixel, checked, fail, load_pipeline, outputs)

app = typer.Typer()


@app.command("sample")
def sample_cmd(
    model: str = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights."),
    class_: Optional[str] = typer.Option(None, "--class", "-c", help="Class name or index, or 'all' (then --num per class)."),
    num: int = typer.Option(16, "--num", "-n", callback=checked(low=1, integer=True), help="Samples (per class with --class all); beyond 4096 they stream to --out in blocks of 4096, each with its own seed, shared out between ranks under torchrun."),
    seed: int = Seed,
    preset: str = Preset,
    steps: Optional[int] = typer.Option(None, callback=checked(low=1, high=MAX_STEPS, integer=True), help="Chain length (default: the preset's)."),
    eps1: Optional[float] = typer.Option(None, callback=checked(low=0, high=MAX_EPS), help="Prior weight ε1 (default: the preset's)."),
    eps2: Optional[float] = typer.Option(None, callback=checked(low=0, high=MAX_EPS), help="Condition weight ε2 (default: the preset's)."),
    eps3: Optional[float] = typer.Option(None, callback=checked(low=0, high=MAX_EPS), help="Noise std ε3 (default: the preset's)."),
    mh: bool = typer.Option(False, "--mh", help="Exact MALA: accept or reject each step, so chains sample p(h)·p(y|G(h))^ε2 exactly (needs --preset ppgn-flow; prints the acceptance rate)."),
    form: str = typer.Option("log-softmax", help="Class gradient: log-softmax, or official ((1-p)·∇logit)."),
    init: str = typer.Option("gaussian", help="Where chains start: gaussian (fitted to real codes), uniform, zeros."),
    init_image: Optional[Path] = typer.Option(None, help="Start every chain from h = E(this image)."),
    out: Optional[Path] = typer.Option(None, help="Write the samples as .npz (images, labels, prob)."),
    grid: Optional[Path] = typer.Option(None, help="Write a PNG grid of the samples."),
    gif: Optional[Path] = typer.Option(None, help="Write the chains of the first 8 samples as a GIF."),
    temperature: Optional[float] = typer.Option(None, callback=checked(low=0, low_open=True, high=10), help="cINN models only: latent temperature T (default 1.0)."),
    denoise: Optional[bool] = typer.Option(None, "--denoise/--no-denoise", help="cINN models trained with Gaussian noise: remove it (Tweedie's formula; default on)."),
    not_class: Optional[str] = typer.Option(None, "--not-class", help="Move away from this class (weight -1)."),
    caption: Optional[str] = typer.Option(None, help='A sentence, e.g. "a small dark bag" (the shipped captioner).'),
    caption_weight: float = typer.Option(1.0, callback=checked(low=-MAX_EPS, high=MAX_EPS), help="Weight of the caption term (negative = NOT)."),
    condition_module: Optional[str] = typer.Option(None, help="Your network, package.module:factory, returning logits."),
    weights: Optional[Path] = typer.Option(None, help="A .safetensors state dict for --condition-module."),
    target: Optional[int] = typer.Option(None, callback=checked(low=0, integer=True), help="The class index --condition-module should favour."),
    calibrate: str = typer.Option("up", help="Plugged-in terms vs the shipped class gradient: up (raise weak ones), match, off."),
    autocast: str = Autocast,
    compile_: bool = Compile,
    subpixel: bool = Subpixel,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Sample images with the MALA-approx chain of PPGN (a class, a caption, your network, or several), or a cINN."""
    if out is None and grid is None and gif is None:
        fail("nothing to write: give --out FILE.npz, --grid FILE.png and/or --gif FILE.gif")
    if out is not None and out.suffix.lower() in (".png", ".gif"):
        fail(f"--out writes a .npz file, got {out.name!r}; for a picture use --grid (.png) or --gif (.gif)")
    outputs(out=(out, ".npz"), grid=(grid, ".png"), gif=(gif, ".gif"))
    for name, value, valid in (("preset", preset, PRESET_NAMES), ("init", init, INIT_NAMES), ("form", form, FORM_NAMES),
                               ("calibration", calibrate, CALIBRATION_NAMES), ("autocast", autocast, AUTOCAST_NAMES)):
        if value not in valid:  # before any model loads
            fail(f"unknown {name} {value!r}; valid: {', '.join(valid)}")
    if caption is not None and not caption.strip():
        fail('--caption is empty; give a sentence, e.g. "a small dark bag"')
    import numpy as np

    from ..data import to_uint8
    from ..io import all_or_none, make_grid, read_image, save_gif, save_image, save_npz
    from ..models import WeightsError
    from ..pipelines.request import BLOCK, SampleRequest, run, run_to_file, total, world

    pipe = load_pipeline(model, device)
    if autocast != "off" or compile_ or subpixel:
        if pipe.kind != "ppgn":
            fail(f"--autocast, --compile and --subpixel speed up a PPGN chain; {model} is a {pipe.kind} model")
        pipe.accelerate(autocast, compile_, subpixel)
    started = time.perf_counter()
    try:
        start_image = None
        if init_image is not None:  # at the model's size and channels (a cINN refuses it in the request's check)
            size, _, channels = pipe.image_shape if pipe.kind == "ppgn" else (None, None, 1)
            start_image = read_image(init_image, channels, size)
        request = SampleRequest(
            class_=class_, num=num, seed=seed, preset=preset, steps=steps, eps1=eps1, eps2=eps2, eps3=eps3, form=form,
            init=init, init_image=start_image, not_class=not_class,
            caption=caption, caption_weight=caption_weight, condition_module=condition_module, weights=weights,
            target=target, calibrate=calibrate, temperature=temperature, denoise=denoise, record=8 if gif else 0, mh=mh,
        )  # fmt: skip
        streamed = out is not None and (total(pipe, request) > BLOCK or world()[1] > 1)  # blocks go to the file as they come
        result = run_to_file(pipe, request, out, progress=not quiet) if streamed else run(pipe, request, progress=not quiet)
    except (ValueError, WeightsError) as err:  # UserNetworkError is a ValueError
        fail(str(err))
    seconds = time.perf_counter() - started
    if result is None:  # a rank other than 0 under torchrun: rank 0 writes
        return
    with all_or_none():  # every output, or none
        if out is not None and not streamed:
            save_npz(out, result.array, result.labels, result.prob)
        if grid is not None:
            save_image(make_grid(result.array, min(num, 16)), grid)
        if gif is not None:
            frames = [make_grid(to_uint8(frame), len(frame), scale=4) for frame in result.trajectory[::2]]
            save_gif(frames, gif)
    names = sorted({pipe.classes[k] for k in result.labels.tolist()})
    if not quiet:
        typer.echo(
            f"{total(pipe, request)} samples of {', '.join(names)} in {seconds:.1f} s: "
            f"mean p(class) = {np.mean(result.prob):.3f}"
            + (f", Metropolis acceptance {np.mean(result.acceptance):.3f}" if getattr(result, "acceptance", None) is not None else "")
            + "".join(f" → {p}" for p in (out, grid, gif) if p is not None),
            err=True,
        )


@app.command("eval")
def eval_cmd(
    samples: Optional[Path] = typer.Argument(None, help="A .npz with images uint8 (N,H,W,C), labels int64 (N,), prob float32 (N,)."),
    model: str = typer.Option("fashion-mnist", help="Whose evaluator to use: a shipped model name or a folder."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the numbers as JSON."),
    bits_per_dim: bool = typer.Option(False, "--bits-per-dim", help="cINN models: test-set bits/dim instead of scoring samples."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
):
    """Score samples with the model's independent evaluator (never used while sampling)."""
    outputs(json=(json_out, ".json"))
    from ..evaluation.evaluate import EvaluatorBundle, check_sample_count, evaluate_samples
    from ..io import load_npz, write_json
    from ..models import WeightsError

    pipe = load_pipeline(model, device)
    if pipe.kind not in ("ppgn", "cinn"):
        fail(f"{model} is a {pipe.kind} model; eval needs a ppgn or cinn model, whose evaluator scores the samples")
    if bits_per_dim:
        return _bits_per_dim(pipe, model, samples, json_out, data_dir)
    if samples is None:
        fail("give a samples file (.npz), or --bits-per-dim for a cINN model")
    try:
        data = load_npz(samples, num_classes=len(pipe.classes), mmap=True)  # read a batch at a time
        bundle = EvaluatorBundle.from_folder(pipe.folder, pipe.device)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    shape = pipe.image_shape
    if data["images"].shape[1:] != shape:
        fail(f"{samples}: images must be (N, {', '.join(map(str, shape))}) for {model}, got {data['images'].shape}")
    check_sample_count(len(data["labels"]), f"samples file {samples}")
    result = evaluate_samples(data["images"], data["labels"], bundle)
    typer.echo(f"samples      {result['num_samples']}")
    typer.echo(f"accuracy     {result['accuracy']:.4f}  (evaluator agrees with the asked class)")
    typer.echo(f"diversity    {result['diversity']:.4f}  (within-class spread / real test images')")
    typer.echo(f"ms-ssim      {result['ms_ssim']:.4f}  (mean within-class pair similarity; lower = more diverse)")
    typer.echo(f"fid          {result['fid']:.4f}  (Fréchet distance to real test images, evaluator features)")
    typer.echo(f"kid          {result['kid']:.4f} ± {result['kid_std']:.4f}")
    typer.echo(f"is           {result['inception_score']:.4f}  (Inception-Score-style, evaluator's p(y|x))")
    typer.echo(f"precision    {result['precision']:.4f}  (fidelity: samples inside the real images' k-NN manifold, per class)")
    typer.echo(f"recall       {result['recall']:.4f}  (coverage: real images inside the samples' manifold, per class)")
    typer.echo(f"  {'class':<24} accuracy  diversity      fid")
    for k, acc in result["per_class_accuracy"].items():
        fid = result["per_class_fid"].get(k, float("nan"))
        typer.echo(f"  {k} {pipe.classes[k]:<22} {acc:8.3f}  {result['per_class_diversity'][k]:9.3f}  {fid:7.3f}")
    if json_out is not None:
        write_json(json_out, result)


def _bits_per_dim(pipe, model: str, samples, json_out: Optional[Path], data_dir: Optional[Path]) -> None:
    """``ppgn eval --bits-per-dim``: the cINN's test-set bits/dim (uniform dequantisation, a bound)."""
    from ..data import DataNotFoundError
    from ..io import write_json
    from ..models import WeightsError

    if pipe.kind != "cinn":
        fail(f"--bits-per-dim needs a cINN model, not {model}: a {pipe.kind} model has no likelihood")
    if samples is not None:
        fail("--bits-per-dim scores the test set; give no samples file with it")
    started = time.perf_counter()
    try:
        bpd = pipe.bits_per_dim(data_dir=data_dir)
    except (DataNotFoundError, ValueError, WeightsError) as err:
        fail(str(err))
    result = {"model": model, "dataset": pipe.dataset, "split": "test", "bits_per_dim": round(bpd, 4),
              "dequantisation": "uniform, one draw, seed 0", "seconds": round(time.perf_counter() - started, 1)}
    typer.echo(f"bits/dim     {bpd:.4f}  ({pipe.dataset} test, uniform dequantisation: an upper bound)")
    if json_out is not None:
        write_json(json_out, result)


@app.command("real")
def real_cmd(
    num: int = typer.Option(64, "--num", "-n", callback=checked(low=1, integer=True), help="Real images per class."),
    split: str = typer.Option("train", help="train or test."),
    seed: int = Seed,
    out: Path = typer.Option(..., help="Write them as a .npz in the samples contract (the real-data floor)."),
    model: str = typer.Option("fashion-mnist", help="Whose dataset, and whose classifier fills 'prob': a shipped name or a folder."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
):
    """Write real images in the samples contract, so `ppgn eval` gives the real-data floor."""
    outputs(out=(out, ".npz"))
    if split not in ("train", "test"):
        fail(f"unknown --split {split!r}; valid: train, test")
    from ..data import DataNotFoundError
    from ..evaluation.reference import real_samples
    from ..io import save_npz

    pipe = load_pipeline(model, device)
    if pipe.kind not in ("ppgn", "cinn"):
        fail(f"{model} is a {pipe.kind} model; real needs a ppgn or cinn model, whose dataset and classifier it uses")
    try:
        real = real_samples(pipe, num, split, seed, data_dir)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    save_npz(out, real.array, real.labels, real.prob)
    typer.echo(f"{len(real.labels)} real {split} images → {out}")


@app.command("export")
def export_cmd(
    source: Path = typer.Argument(..., help="Trained weights (.safetensors with its .json card beside)."),
    target: Path = typer.Argument(..., help="Where to write them, e.g. ppgn/weights/fashion-mnist/generator.safetensors."),
    half: bool = typer.Option(False, help="Store floating tensors as float16 (half the size)."),
):
    """Copy trained weights (and their card) for shipping, optionally as float16."""
    from ..io.checks import check_output

    check_output(target, "TARGET", [".safetensors"])
    if target.resolve() == source.resolve():
        fail(f"TARGET is SOURCE ({source}); give another file")
    import torch

    from ..io import all_or_none
    from ..models import WeightsError, load_model, read_card, save_model

    try:
        model = load_model(source)
    except WeightsError as err:
        fail(str(err))
    card = read_card(source)
    card.pop("class", None), card.pop("config", None)
    card["stored_dtype"] = "float16" if half else "float32"
    with all_or_none():  # the weights and their card together
        save_model(model, target, card, dtype=torch.float16 if half else None)
    typer.echo(f"{source} → {target} ({target.stat().st_size / 1e6:.1f} MB)")


