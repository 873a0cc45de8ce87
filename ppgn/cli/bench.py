"""``ppgn bench ...``: speed and quality (docs/results.md), and the measurements of
docs/conditions.md (networks, neurons, inpaint, captions). Each command parses, calls a function
of ``ppgn.evaluation``, prints a table and optionally writes JSON.

Every number is checked while the arguments are parsed (``checked``: NaN, infinities, values
out of range refused) and every output path before any work (``outputs``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .data import one_of
from .options import (
    AUTOCAST_NAMES,
    Autocast,
    Compile,
    DataDir,
    Device,
    Model,
    Preset,
    Quiet,
    Subpixel,
    checked,
    fail,
    load_pipeline,
    outputs,
)

bench_app = typer.Typer(no_args_is_help=True, help="Measure speed and quality.")

MAX_NUM = 100_000  # samples, chains or images a command is asked for: more is a typo, not a benchmark
MAX_STEPS = 100_000  # chain steps or training batches
MAX_BATCH = 65_536  # chains run together
MAX_IMAGES = 10_000_000  # a training batch: larger than any dataset here (the library names the set's size)
IMAGE_SIZES = (28, 32, 64, 128)  # ppgn.data.SIZES, written out so that parsing needs no torch
Seed = typer.Option(0, help="Same seed, same images.", callback=checked(seed=True))
# ppgn.evaluation.quality.DIFFUSION_ROWS and MAKE_DIFFUSION, written out so that parsing needs no torch (tests/test_quality.py checks they agree).
DIFFUSION_ROW_NAMES = ("diffusion-guided", "diffusion-cfg")
MAKE_DIFFUSION = "ppgn train diffusion --minutes 42 --out runs/diffusion-fmnist"
Steps = typer.Option(None, help="Chain length (default: the preset's).", callback=checked(low=1, high=MAX_STEPS, integer=True))
JsonOut = typer.Option(None, "--json", help="Write the rows as JSON.")


def _num(default: int, help: str, low: int = 1):
    """A ``--num/-n`` option: an integer in ``low..MAX_NUM``."""
    return typer.Option(default, "--num", "-n", help=help, callback=checked(low=low, high=MAX_NUM, integer=True))


def _json(path: Optional[Path]) -> None:
    """Refuse, before any work, a ``--json`` file that could not be written."""
    outputs(**{"json": (path, ".json")})


def _write_json(path: Optional[Path], rows) -> None:
    from ..io import write_json

    if path is not None:
        write_json(path, rows)


def _arrays(pipe, split: str, data_dir):
    """A split of the model's data at its size and channels, in memory: ``.images`` uint8 (N, S, S, C), ``.labels``."""
    from ..data import ImageDataset, open_dataset

    size, _, channels = pipe.image_shape
    data = open_dataset(pipe.dataset, split, size, channels, data_dir)
    images, labels = data.arrays()
    return ImageDataset(images, labels, data.classes, str(data.name), data.fingerprint.sha256)


@bench_app.command("networks")
def bench_networks_cmd(
    model: str = Model,
    network: list[str] = typer.Option(
        ["mlp=ppgn.examples.condition_nets:mlp@condition-mlp", "cnn=ppgn.examples.condition_nets:cnn@condition-cnn",
         "cnn logits/10=ppgn.examples.condition_nets:cnn_cold@condition-cnn",
         "cnn logits*10=ppgn.examples.condition_nets:cnn_hot@condition-cnn"],
        help="NAME=package.module:factory@WEIGHTS (a file, or a stem in the model folder); repeat for several.",
    ),
    num: int = _num(16, "Chains per class."),
    preset: str = Preset,
    steps: Optional[int] = Steps,
    seed: int = Seed,
    json_out: Optional[Path] = JsonOut,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Sample every class through user networks, untuned, under each calibration mode; evaluator scores."""
    from ..evaluation.bench_conditions import bench_user_networks
    from ..models import WeightsError
    from ..sampling import PRESETS

    if preset not in PRESETS:
        fail(f"unknown --preset {preset!r}; valid: {', '.join(PRESETS)}")
    _json(json_out)
    pipe = load_pipeline(model, device, kind="ppgn")
    nets = []
    for text in network:
        name, _, rest = text.partition("=")
        module, _, weights = rest.partition("@")
        if not name or not module:
            fail(f"--network must look like NAME=package.module:factory@WEIGHTS, got {text!r}")
        if weights and not Path(weights).is_file():
            weights = str(pipe.folder / f"{weights}.safetensors")
            if not Path(weights).is_file():
                fail(f"--network {text!r}: weights {rest.partition('@')[2]!r} are neither a file nor a stem in {pipe.folder}")
        nets.append((name, module, weights or None))
    try:
        rows = bench_user_networks(pipe, nets, num, preset, seed, steps, progress=not quiet)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    typer.echo(f"{preset}, {num} chains per class, seed {seed}; accuracy and diversity by the evaluator")
    typer.echo(f"{'network':<32} {'calibration':>11} {'scale':>8} {'accuracy':>9} {'diversity':>9} {'fid':>7} {'s':>6}")
    for r in rows:
        typer.echo(f"{r['network']:<32} {r['calibration']:>11} {r['scale']:>8} {r['accuracy']:>9} {r['diversity']:>9} {r['fid']:>7} {r['seconds']:>6}")
    _write_json(json_out, rows)


@bench_app.command("neurons")
def bench_neurons_cmd(
    model: str = Model,
    neurons: str = typer.Option("features.6:3,features.6:20,fc.2:7,fc.2:41,fc.2:100,head.1:8", help="Comma-separated LAYER:UNIT list."),
    num: int = _num(16, "Chains per unit and preset (at least 2: diversity needs pairs).", low=2),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: each preset's).", callback=checked(low=1, high=MAX_STEPS, integer=True)),
    real_subset: int = typer.Option(0, help="Look for the top real images among this many training images (0 = all).",
                                    callback=checked(low=0, integer=True)),
    seed: int = Seed,
    json_out: Optional[Path] = JsonOut,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """DGN-AM vs PPGN on the same hidden units: activation reached and diversity, against real images."""
    from ..data import DataNotFoundError
    from ..evaluation.bench_neurons import bench_neurons
    from ..evaluation.evaluate import EvaluatorBundle
    from ..models import WeightsError
    from ..pipelines.visualize import target_network, units_of
    from ..sampling.neuron import parse_neuron

    if real_subset and real_subset < num:
        fail(f"--real-subset must be 0 (all) or at least --num ({num}) images, got {real_subset}")
    _json(json_out)
    pipe = load_pipeline(model, device, kind="ppgn")
    try:
        net = target_network(pipe)
        units = units_of(pipe, net)
        for neuron in neurons.split(","):
            parse_neuron(neuron.strip(), units)
    except ValueError as err:
        fail(f"--neurons {neurons!r}: {err}")
    try:
        train = _arrays(pipe, "train", data_dir)
        evaluator = EvaluatorBundle.from_folder(pipe.folder, pipe.device).network
        images = train.images if not real_subset else train.images[:real_subset]
        rows = bench_neurons(pipe, net, [n.strip() for n in neurons.split(",")], images, num=num, seed=seed,
                             steps=steps, evaluator=evaluator, progress=not quiet)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    typer.echo(f"{num} chains per unit and preset, seed {seed}; 'vs real' = over the unit's top-{num} training images")
    typer.echo(f"{'neuron':<14} {'preset':<14} {'activation':>10} {'act/real':>9} {'diversity/real':>14}")
    for r in rows:
        typer.echo(f"{r['neuron']:<14} {r['preset']:<14} {r['activation']:>10} {r['activation_vs_real']:>9} {r['diversity_vs_real']:>14}")
    for preset in dict.fromkeys(r["preset"] for r in rows):
        mine = [r for r in rows if r["preset"] == preset]
        typer.echo(f"{'mean':<14} {preset:<14} {'':>10} {sum(r['activation_vs_real'] for r in mine) / len(mine):>9.3f} "
                   f"{sum(r['diversity_vs_real'] for r in mine) / len(mine):>14.3f}")
    _write_json(json_out, rows)


@bench_app.command("inpaint")
def bench_inpaint_cmd(
    model: str = Model,
    num: int = _num(100, "Held-out test images (one fill each)."),
    hole: int = typer.Option(12, help="Side of the square hole, in pixels (1..20).", callback=checked(low=1, high=20, integer=True)),
    eps4: str = typer.Option("0.03", help="Weight(s) ε4 of the context term, comma-separated to compare several."),
    steps: Optional[int] = Steps,
    seed: int = Seed,
    json_out: Optional[Path] = JsonOut,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Inpainting on test images with random holes: hole MSE and evaluator agreement vs baselines."""
    from ..data import DataNotFoundError
    from ..evaluation.bench_inpaint import bench_inpaint
    from ..evaluation.evaluate import EvaluatorBundle
    from ..io import InputError, check_number
    from ..models import WeightsError

    try:
        weights = tuple(check_number(float(e), "--eps4", low=0, high=1e6) for e in eps4.split(","))
    except InputError as err:
        fail(f"{err} (in {eps4!r})")
    except ValueError:
        fail(f"--eps4 must be comma-separated numbers, got {eps4!r}")
    _json(json_out)
    pipe = load_pipeline(model, device, kind="ppgn")
    try:
        test, train = _arrays(pipe, "test", data_dir), _arrays(pipe, "train", data_dir)
        evaluator = EvaluatorBundle.from_folder(pipe.folder, pipe.device).network
        rows = bench_inpaint(pipe, test, train, evaluator, num, hole, seed, weights, steps, progress=not quiet)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    typer.echo(f"{num} test images, a random {hole}×{hole} hole each, seed {seed}, ε4 = {eps4}")
    typer.echo(f"{'method':<46} {'hole MSE':>9} {'evaluator agrees':>17} {'s':>6}")
    for r in rows:
        typer.echo(f"{r['method']:<46} {r['hole_mse']:>9} {r['evaluator_agreement']:>17} {r['seconds']:>6}")
    _write_json(json_out, rows)


@bench_app.command("captions")
def bench_captions_cmd(
    model: str = Model,
    captions: Optional[str] = typer.Option(None, help="Semicolon-separated captions (default: eight covering both attributes)."),
    num: int = _num(32, "Samples per caption."),
    steps: Optional[int] = Steps,
    seed: int = Seed,
    json_out: Optional[Path] = JsonOut,
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Caption samples: evaluator agreement with the named class, attribute hit rates, vs real images."""
    from ..data import DataNotFoundError, load_dataset
    from ..evaluation.bench_captions import CAPTIONS, bench_captions
    from ..evaluation.evaluate import EvaluatorBundle
    from ..models import WeightsError

    chosen = CAPTIONS if captions is None else tuple(c.strip() for c in captions.split(";"))
    if not all(chosen):
        fail(f"--captions must be captions separated by ';', none of them empty, got {captions!r}")
    _json(json_out)
    pipe = load_pipeline(model, device, kind="ppgn")
    try:
        test = load_dataset(pipe.dataset, "test", data_dir)
        evaluator = EvaluatorBundle.from_folder(pipe.folder, pipe.device).network
        rows = bench_captions(pipe, test, evaluator, chosen, num, seed, steps=steps, progress=not quiet)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    typer.echo(f"{num} samples per caption, seed {seed}; attribute rates measured from pixels")
    typer.echo(f"{'caption':<26} {'evaluator: samples':>18} {'real':>6} {'+class':>7}   "
               "attribute: samples / real base rate / class-only samples / caption+class samples")
    for r in rows:
        attrs = "; ".join(f"{w} {r['attributes'][w]:.2f} / {r['real_base_rate'][w]:.2f} / {r['class_only_rate'][w]:.2f}"
                          f" / {r['composed_attributes'][w]:.2f}" for w in r["attributes"])
        typer.echo(f"{r['caption']:<26} {r['agreement']:>18} {r['real_agreement']:>6} {r['composed_agreement']:>7}   {attrs}")
    _write_json(json_out, rows)


@bench_app.command("train")
def bench_train_cmd(
    data: str = typer.Option("digits", help="A built-in set, a folder root/<class>/*.png or a contract .npz."),
    size: Optional[int] = typer.Option(None, help="Image side: 28, 32, 64 or 128 (default: the data's own).", callback=one_of(*IMAGE_SIZES)),
    channels: Optional[int] = typer.Option(None, help="1 or 3 (default: the data's own).", callback=one_of(1, 3)),
    steps: int = typer.Option(40, help="Global batches to train (the first is warm-up).", callback=checked(low=2, high=MAX_STEPS, integer=True)),
    batch_size: int = typer.Option(128, help="Global batch size, over all processes.", callback=checked(low=1, high=MAX_IMAGES, integer=True)),
    width: float = typer.Option(1.0, help="E/C's width multiplier.", callback=checked(low=0, high=64, low_open=True)),
    amp: Optional[str] = typer.Option(None, help="bf16 or fp16 autocast."),
    workers: int = typer.Option(0, help="Processes decoding images ahead of the step.", callback=checked(low=0, high=256, integer=True)),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the result as JSON."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
):
    """Training images/s of E/C on this machine; run it under torchrun to measure several processes."""
    from ..data import DataNotFoundError
    from ..evaluation.train_speed import training_throughput
    from ..models.device import pick_device
    from ..training.distributed import is_main

    if amp is not None and amp not in ("bf16", "fp16"):
        fail(f"unknown --amp {amp!r}; valid: bf16, fp16")
    _json(json_out)
    try:
        pick_device(device)
        result = training_throughput(data, size, channels, steps, batch_size, width, device, amp, workers, data_dir)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    if is_main():
        typer.echo(f"{result['images_per_s']} images/s: {result['processes']} process(es) × {result['threads']} thread(s) on "
                   f"{result['device']}, {result['steps']} steps of {result['batch_size']} images {tuple(result['image_shape'])}")
        _write_json(json_out, result)


@bench_app.command("speed")
def bench_speed_cmd(
    model: str = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights."),
    preset: str = Preset,
    batches: str = typer.Option("1,16,64,256", help="Comma-separated batch sizes (chains run together)."),
    steps: int = typer.Option(10, help="Chain steps timed per batch size (after a warm-up of two).", callback=checked(low=1, high=MAX_STEPS, integer=True)),
    repeats: int = typer.Option(3, help="Timed runs per batch size; the best counts (neighbours on a shared machine only slow a run).",
                                callback=checked(low=1, high=100, integer=True)),
    chain_steps: Optional[int] = typer.Option(None, help="Steps of one sample's chain (default: the preset's): ms/sample counts these, and the quality check runs them.",
                                              callback=checked(low=1, high=MAX_STEPS, integer=True)),
    autocast: str = Autocast,
    compile_: bool = Compile,
    subpixel: bool = Subpixel,
    quality: int = typer.Option(0, "--quality", help="Also draw this many samples per class, with these settings and exactly, and score accuracy and FID (0: no check).",
                                callback=checked(low=0, high=1000, integer=True)),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the rows as a JSON list."),
    profile: bool = typer.Option(False, "--profile", help="Also show where a step's time goes, by operator (at the largest batch up to 64)."),
    device: Optional[str] = Device,
):
    """Chain steps per second, ms per sample, FLOPs and GFLOP/s against the matmul ceiling (and, with --quality, what the samples are worth)."""
    if autocast not in AUTOCAST_NAMES:
        fail(f"unknown --autocast {autocast!r}; valid: {', '.join(AUTOCAST_NAMES)}")
    from ..evaluation.speed import bench_speed, profile_by_operator, quality_at_speed
    from ..sampling import PRESETS

    if preset not in PRESETS:
        fail(f"unknown --preset {preset!r}; valid: {', '.join(PRESETS)}")
    try:
        sizes = [int(b) for b in batches.split(",")]
    except ValueError:
        fail(f"--batches must be comma-separated integers, got {batches!r}")
    if not all(1 <= b <= MAX_BATCH for b in sizes):
        fail(f"--batches must be integers in 1..{MAX_BATCH}, got {batches!r}")
    _json(json_out)
    settings = {"autocast": autocast, "compile": compile_, "subpixel": subpixel}
    pipe = load_pipeline(model, device, kind="ppgn")
    try:
        pipe.check_preset(preset)
        rows = bench_speed(pipe, preset, sizes, steps, repeats, chain_steps, settings)
    except ValueError as err:  # e.g. a compiler that is missing, an autocast the device cannot run
        fail(str(err))
    header = f"{'batch':>5} {'steps/s':>9} {'ms/sample':>10} {'MFLOP/step':>11} {'GFLOP/s':>8} {'fp32 mm':>8} {'share':>6} {'bf16 mm':>8} {'peak MB':>8} {'load':>5}"
    flags = ", ".join(f"{k} {v}" for k, v in settings.items() if v not in ("off", False)) or "exact"
    typer.echo(f"{preset} on {rows[0]['device']}, {rows[0]['threads']} threads, {flags}; ms/sample = a {rows[0]['chain_steps']}-step chain; best of {repeats}")
    typer.echo(header)
    for r in rows:
        typer.echo(
            f"{r['batch']:>5} {r['steps_per_s']:>9} {r['ms_per_sample']:>10} {r['flops_per_step'] / r['batch'] / 1e6:>11.1f} "
            f"{r['gflops_achieved']:>8} {r['matmul_fp32_gflops']:>8} {100 * r['share_of_fp32_matmul']:>5.0f}% {r['matmul_bf16_gflops']:>8} "
            f"{r['peak_mem_mb']:>8} {r['load_1min'] if r['load_1min'] is not None else '-':>5}"
        )
    batch = max([b for b in sizes if b <= 64] or [min(sizes)])
    if profile:
        ops = profile_by_operator(pipe, preset, batch)
        typer.echo(f"\nwhere a step's time goes (batch {batch} as one group of chains, operator self time):")
        for op in ops:
            typer.echo(f"  {op['operator']:<44} {op['ms_per_step']:>8.2f} ms  {100 * op['share']:5.1f}%  {op['calls_per_step']:>5} calls")
        next(r for r in rows if r["batch"] == batch)["profile"] = ops
    if quality:
        check = quality_at_speed(pipe, preset, settings, chain_steps, per_class=quality, batch=batch)
        typer.echo(f"\nquality, {quality} samples per class (evaluator accuracy, FID), chains {batch} at a time:")
        for name in ("reference", "variant"):
            q = check[name]
            typer.echo(f"  {name:<9} {q['chain_steps']:>4} steps  accuracy {q['accuracy']:.3f}  FID {q['fid']:.3f}  {q['ms_per_sample']:>8.2f} ms/sample")
        typer.echo(f"  the variant {'holds' if check['holds'] else 'does not hold'} the reference's quality")
        next(r for r in rows if r["batch"] == batch)["quality"] = check
    _write_json(json_out, rows)


@bench_app.command("quality")
def bench_quality_cmd(
    model: str = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights."),
    rows: Optional[str] = typer.Option(None, help="Comma-separated rows: real, reconstruction, presets, other model names (default: real, reconstruction and the five presets)."),
    seeds: Optional[str] = typer.Option(None, help="Comma-separated seeds (default 0,1,2; quick 0,1)."),
    per_class: Optional[int] = typer.Option(None, help="Samples per class per seed, at least 2 (default 32; quick 4).",
                                            callback=checked(low=1, high=MAX_NUM, integer=True)),
    quick: bool = typer.Option(False, "--quick", help="A small run (a couple of minutes) that exercises everything."),
    diffusion: Optional[Path] = typer.Option(None, help=f"A diffusion model folder for rows {', '.join(DIFFUSION_ROW_NAMES)} (added to the default rows); made by '{MAKE_DIFFUSION}'."),
    diffusion_steps: Optional[int] = typer.Option(None, help="DDIM steps of the diffusion rows (default 50; quick 10).", callback=checked(low=1, high=1_000, integer=True)),
    guided_scale: Optional[float] = typer.Option(None, help="Classifier-guidance weight of diffusion-guided (default: the seed-7 sweep's).", callback=checked(low=0, high=1e6)),
    cfg_scale: Optional[float] = typer.Option(None, help="Classifier-free guidance w of diffusion-cfg (default: the seed-7 sweep's).", callback=checked(low=0, high=1e6)),
    out_dir: Path = typer.Option(Path("docs"), help="Where results.md, results.json and figures/ go."),
    cache_dir: Optional[Path] = typer.Option(Path("runs/bench-quality"), help="Finished rows kept here: a rerun resumes, an added row costs only itself. 'none' to keep nothing."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Real data, reconstructions, every preset (and a guided diffusion model: --diffusion) side by side, several seeds, plus an ε1 × ε3 grid."""
    import dataclasses

    from ..data import DataNotFoundError
    from ..evaluation.quality import FULL, QUICK, bench_quality
    from ..evaluation.report import write_report
    from ..io import check_seed
    from ..models import WeightsError

    config = QUICK if quick else FULL
    if rows is not None:
        config = dataclasses.replace(config, rows=tuple(r.strip() for r in rows.split(",") if r.strip()))
    wanted = [r for r in config.rows if r in DIFFUSION_ROW_NAMES]
    if diffusion is None:
        if wanted:
            fail(f"row {wanted[0]} needs --diffusion FOLDER, a diffusion model made by '{MAKE_DIFFUSION}'")
        for flag, value in (("--diffusion-steps", diffusion_steps), ("--guided-scale", guided_scale), ("--cfg-scale", cfg_scale)):
            if value is not None:
                fail(f"{flag} sets the diffusion rows, which need --diffusion FOLDER")
    else:
        if not (diffusion / "diffusion.safetensors").is_file():
            fail(f"--diffusion {diffusion}: no diffusion.safetensors there; make one with "
                 f"'{MAKE_DIFFUSION.replace('runs/diffusion-fmnist', str(diffusion))}' (42 CPU-minutes)")
        if rows is None:
            config = dataclasses.replace(config, rows=(*config.rows, *DIFFUSION_ROW_NAMES))
        elif not wanted:
            fail(f"--diffusion is read only by rows {', '.join(DIFFUSION_ROW_NAMES)}: add one to --rows, or leave --diffusion out")
        settings = {"diffusion_steps": diffusion_steps, "guided_scale": guided_scale, "cfg_scale": cfg_scale}
        config = dataclasses.replace(config, diffusion=str(diffusion), **{k: v for k, v in settings.items() if v is not None})
    if seeds is not None:
        try:
            config = dataclasses.replace(config, seeds=tuple(check_seed(int(s), "--seeds") for s in seeds.split(",")))
        except (ValueError, TypeError):
            fail(f"--seeds must be comma-separated integers in 0..2**63-1, got {seeds!r}")
    if per_class is not None:
        if per_class < 2:  # a number, but too few for this benchmark: say why
            fail(f"--per-class must be >= 2 (diversity needs pairs), got {per_class}")
        config = dataclasses.replace(config, per_class=per_class)
    if not config.rows or not config.seeds:
        fail("--rows and --seeds must not be empty")
    cache = None if cache_dir is None or str(cache_dir) == "none" else cache_dir
    outputs(out_dir=(out_dir, "/"), cache_dir=(cache, "/"))
    started = time.perf_counter()
    try:
        result = bench_quality(load_pipeline(model, device, kind="ppgn"), config, data_dir, progress=not quiet, cache_dir=cache)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    given = {"--rows": rows, "--seeds": seeds, "--per-class": per_class, "--diffusion": diffusion, "--diffusion-steps": diffusion_steps,
             "--guided-scale": guided_scale, "--cfg-scale": cfg_scale, "--out-dir": out_dir}
    command = "ppgn bench quality" + " --quick" * quick + "".join(f" {k} {v}" for k, v in given.items() if v is not None)
    paths = write_report(result, out_dir, command)
    for row in result.rows:
        (acc, _), (fid, _), (div, _) = (row.summary(m) for m in ("accuracy", "fid", "diversity"))
        typer.echo(f"{row.name:<24} accuracy {acc:.3f}  FID {fid:.3f}  diversity {div:.3f}")
    typer.echo(f"{time.perf_counter() - started:.0f} s → " + ", ".join(str(p) for p in paths[:2]))


