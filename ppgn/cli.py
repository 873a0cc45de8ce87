"""The ``ppgn`` command line: parses, calls the library, saves. No maths lives here."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from .cli_options import DataDir, Device, Quiet, fail

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Plug & Play Generative Networks.")
train_app = typer.Typer(no_args_is_help=True, help="Train the networks (each resumes after a kill).")
app.add_typer(train_app, name="train")



def _train_classifier(model: str, dataset, out, epochs, seed, train_subset, data_dir, device, quiet):
    from .data import DataNotFoundError
    from .training.classifier import ClassifierTrainConfig, train_classifier

    defaults = ClassifierTrainConfig()
    config = ClassifierTrainConfig(
        model=model, dataset=dataset, epochs=epochs or defaults.epochs, seed=seed, train_subset=train_subset
    )
    try:
        _, card = train_classifier(config, out or f"runs/{dataset}/{model}", data_dir, device, quiet)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    typer.echo(f"{model}: test accuracy {card['metrics']['test_accuracy']:.4f} → {out or f'runs/{dataset}/{model}'}")


def _classifier_command(model: str, default_seed: int, summary: str):
    """The `train classifier` and `train evaluator` commands differ only in model and seed."""

    def command(
        dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
        out: Optional[Path] = typer.Option(None, help=f"Output folder (default runs/DATASET/{model})."),
        epochs: int = typer.Option(0, help="Epochs (0 = the recipe's default)."),
        seed: int = typer.Option(default_seed, help="Random seed."),
        train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
        data_dir: Optional[Path] = DataDir,
        device: Optional[str] = Device,
        quiet: bool = Quiet,
    ):
        _train_classifier(model, dataset, out, epochs, seed, train_subset, data_dir, device, quiet)

    command.__doc__ = summary
    return command


train_app.command("classifier")(
    _classifier_command("classifier", 0, "Train the encoder/classifier E/C whose penultimate layer is the code h.")
)
train_app.command("evaluator")(
    _classifier_command("evaluator", 1, "Train the independent evaluator (another architecture and seed; used only to measure).")
)


@train_app.command("generator")
def train_generator_cmd(
    dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
    classifier: Optional[Path] = typer.Option(None, help="The frozen encoder E (default runs/DATASET/classifier/classifier.safetensors)."),
    out: Optional[Path] = typer.Option(None, help="Output folder (default runs/DATASET/generator)."),
    noise: float = typer.Option(0.5, help="Noise on h in per-unit stds (0 = noiseless Joint PPGN-h)."),
    epochs: int = typer.Option(0, help="Epochs (0 = the recipe's default)."),
    seed: int = 0,
    train_subset: int = typer.Option(0, help="Train on this many examples only (0 = all)."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Train G (and D) as in Joint PPGN-h: L_img + L_h1 + L_h + L_GAN, noise on h."""
    from .data import DataNotFoundError
    from .models import WeightsError
    from .training.generator import GeneratorTrainConfig, train_generator

    if noise < 0:
        fail(f"--noise must be >= 0, got {noise}")
    defaults = GeneratorTrainConfig()
    config = GeneratorTrainConfig(
        dataset=dataset,
        classifier=str(classifier or f"runs/{dataset}/classifier/classifier.safetensors"),
        noise=noise,
        epochs=epochs or defaults.epochs,
        seed=seed,
        train_subset=train_subset,
    )
    out = out or Path(f"runs/{dataset}/generator")
    try:
        _, card = train_generator(config, out, data_dir, device, quiet)
    except (DataNotFoundError, WeightsError, ValueError) as err:
        fail(str(err))
    typer.echo(f"generator: {card['metrics']} → {out}")


def _load_pipeline(model: str, device: Optional[str]):
    from .pipeline import MODELS, load

    if model in MODELS:
        return load(model, device=device)
    if Path(model).is_dir():
        return load(folder=model, device=device)
    fail(f"unknown model {model!r}; valid: {', '.join(sorted(MODELS))}, or a folder of weights")


def _dae_command(space: str, default_noise: float, default_epochs: int, summary: str):
    """`train dae-h` and `train dae-x` differ only in the space the DAE models and its defaults."""

    def command(
        dataset: str = typer.Option("fashion-mnist", help="fashion-mnist or digits."),
        classifier: Optional[Path] = typer.Option(None, help="The frozen encoder E, for dae-h (default runs/DATASET/classifier/classifier.safetensors)."),
        out: Optional[Path] = typer.Option(None, help=f"Output folder (default runs/DATASET/dae-{space})."),
        noise: float = typer.Option(default_noise, help="Noise σ (per-unit stds of h, or pixel units of x)."),
        epochs: int = typer.Option(default_epochs, help="Epochs."),
        seed: int = 0,
        data_dir: Optional[Path] = DataDir,
        device: Optional[str] = Device,
        quiet: bool = Quiet,
    ):
        from .data import DataNotFoundError
        from .models import WeightsError
        from .training.dae import DAETrainConfig, train_dae

        if noise <= 0:
            fail(f"--noise must be > 0 for a denoising autoencoder, got {noise}")
        config = DAETrainConfig(
            dataset=dataset,
            classifier=str(classifier or f"runs/{dataset}/classifier/classifier.safetensors"),
            noise=noise, epochs=epochs, seed=seed, space=space,
        )
        target = out or Path(f"runs/{dataset}/dae-{space}")
        try:
            _, card = train_dae(config, target, data_dir, device, quiet)
        except (DataNotFoundError, WeightsError, ValueError) as err:
            fail(str(err))
        typer.echo(f"dae-{space}: {card['metrics']} → {target}")

    command.__doc__ = summary
    return command


train_app.command("dae-h")(_dae_command("h", 0.5, 20, "Train the separate denoising autoencoder on h of PPGN-h."))
train_app.command("dae-x")(_dae_command("x", 0.25, 3, "Train the denoising autoencoder on images of PPGN-x."))


def _read_image(path: Path, pipe):
    """A grey image file of the model's size → h = E(x), to start chains from."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from .data import to_tensor

    try:
        image = Image.open(path)
        image.load()
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from None
    size = pipe.classifier.config.image_size
    if image.size != (size, size):
        raise ValueError(f"{path}: image must be {size}×{size} pixels, got {image.size[0]}×{image.size[1]}")
    h = pipe.encode(to_tensor(np.asarray(image.convert("L"))[None]))
    return h


@app.command("sample")
def sample_cmd(
    model: str = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights."),
    class_: Optional[str] = typer.Option(None, "--class", "-c", help="Class name or index, or 'all' (then --num per class)."),
    num: int = typer.Option(16, "--num", "-n", help="Samples (per class with --class all)."),
    seed: int = typer.Option(0, help="Same seed, same images."),
    preset: str = typer.Option("joint-ppgn-h", help="dgn-am, ppgn-x, ppgn-h, joint-ppgn-h or noiseless-joint-ppgn-h."),
    steps: Optional[int] = typer.Option(None, help="Chain length (default: the preset's)."),
    eps1: Optional[float] = typer.Option(None, help="Prior weight ε1 (default: the preset's)."),
    eps2: Optional[float] = typer.Option(None, help="Condition weight ε2 (default: the preset's)."),
    eps3: Optional[float] = typer.Option(None, help="Noise std ε3 (default: the preset's)."),
    form: str = typer.Option("log-softmax", help="Class gradient: log-softmax, or official ((1-p)·∇logit)."),
    init: str = typer.Option("gaussian", help="Where chains start: gaussian (fitted to real codes), uniform, zeros."),
    init_image: Optional[Path] = typer.Option(None, help="Start every chain from h = E(this image)."),
    out: Optional[Path] = typer.Option(None, help="Write the samples as .npz (images, labels, prob)."),
    grid: Optional[Path] = typer.Option(None, help="Write a PNG grid of the samples."),
    gif: Optional[Path] = typer.Option(None, help="Write the chains of the first 8 samples as a GIF."),
    temperature: Optional[float] = typer.Option(None, help="cINN models only: latent temperature T (default 1.0)."),
    denoise: Optional[bool] = typer.Option(None, "--denoise/--no-denoise", help="cINN models trained with Gaussian noise: remove it (Tweedie's formula; default on)."),
    not_class: Optional[str] = typer.Option(None, "--not-class", help="Move away from this class (weight -1)."),
    caption: Optional[str] = typer.Option(None, help='A sentence, e.g. "a small dark bag" (the shipped captioner).'),
    caption_weight: float = typer.Option(1.0, help="Weight of the caption term (negative = NOT)."),
    condition_module: Optional[str] = typer.Option(None, help="Your network, package.module:factory, returning logits."),
    weights: Optional[Path] = typer.Option(None, help="A .safetensors state dict for --condition-module."),
    target: Optional[int] = typer.Option(None, help="The class index --condition-module should favour."),
    calibrate: str = typer.Option("up", help="Plugged-in terms vs the shipped class gradient: up (raise weak ones), match, off."),
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Sample images with the MALA-approx chain of PPGN (a class, a caption, your network, or several), or a cINN."""
    import numpy as np

    from .images import make_grid, save_gif, save_image, save_npz
    from .models import WeightsError
    from .pipeline import MAX_NUM
    from .sampling import PRESETS

    if out is None and grid is None and gif is None:
        fail("nothing to write: give --out FILE.npz, --grid FILE.png and/or --gif FILE.gif")
    for option, path, suffix in (("--out", out, ".npz"), ("--grid", grid, ".png"), ("--gif", gif, ".gif")):
        if path is not None and path.suffix.lower() != suffix:
            fail(f"{option} writes a {suffix} file, got {path.name!r}" + ("; for a PNG grid use --grid" if option == "--out" else ""))
    if preset not in PRESETS:
        fail(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    if steps is not None and steps <= 0:
        fail(f"--steps must be > 0, got {steps}")
    for name, value in (("eps1", eps1), ("eps2", eps2), ("eps3", eps3)):
        if value is not None and value < 0:
            fail(f"--{name} must be >= 0, got {value}")
    pipe = _load_pipeline(model, device)
    plugged = any(v is not None for v in (not_class, caption, condition_module, target))
    if class_ is None and not plugged:
        fail("no condition given; use --class, --caption and/or --condition-module")
    per_class = class_ is not None and class_.strip().lower() == "all"
    if per_class and plugged:
        fail("--class all cannot be combined with other conditions; name one class")
    limit = MAX_NUM // len(pipe.classes) if per_class else MAX_NUM
    if not 0 < num <= limit:
        fail(f"--num must be in 1..{limit}{' with --class all' if per_class else ''}, got {num}")
    target_class = [k for k in range(len(pipe.classes)) for _ in range(num)] if per_class else class_
    started = time.perf_counter()
    try:
        if getattr(pipe, "kind", "ppgn") == "cinn":
            from .cli_cinn import sample_cinn

            if plugged:
                fail(f"{model} is a cINN: it takes --class only, not --not-class, --caption or --condition-module")
            ppgn_only = {"--steps": steps, "--eps1": eps1, "--eps2": eps2, "--eps3": eps3, "--gif": gif, "--init-image": init_image}
            result = sample_cinn(pipe, target_class, len(target_class) if per_class else num, seed, temperature, denoise, ppgn_only)
        else:
            for option, value in (("--temperature", temperature), ("--denoise/--no-denoise", denoise)):
                if value is not None:
                    fail(f"{option} is for cINN models (mnist-cinn, fashion-mnist-cinn), not {model}")
            start = init if init_image is None else _read_image(init_image, pipe)
            condition = None
            if plugged:
                from .conditioning import Start, compose

                condition, target_class = compose(
                    pipe, num, class_, not_class, caption, caption_weight, condition_module, weights, target,
                    start=Start(num, preset, seed, start), calibration=calibrate,
                )
            result = pipe.sample(
                target_class, num=len(target_class) if per_class else num, condition=condition, preset=preset, seed=seed,
                steps=steps, eps1=eps1, eps2=eps2, eps3=eps3, form=form, init=start, record=8 if gif else 0, progress=not quiet,
            )
    except (ValueError, WeightsError) as err:  # UserNetworkError is a ValueError
        fail(str(err))
    seconds = time.perf_counter() - started
    if out is not None:
        save_npz(out, result.array, result.labels, result.prob)
    if grid is not None:
        save_image(make_grid(result.array, min(num, 16)), grid)
    if gif is not None:
        from .data.datasets import to_uint8

        frames = [make_grid(to_uint8(frame), len(frame), scale=4) for frame in result.trajectory[::2]]
        save_gif(frames, gif)
    names = sorted({pipe.classes[k] for k in result.labels.tolist()})
    if not quiet:
        typer.echo(
            f"{len(result.labels)} samples of {', '.join(names)} in {seconds:.1f} s: "
            f"mean p(class) = {np.mean(result.prob):.3f}"
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
    import json

    from .evaluation.evaluate import EvaluatorBundle, evaluate_samples
    from .images import load_npz
    from .models import WeightsError

    pipe = _load_pipeline(model, device)
    if bits_per_dim:
        from .cli_cinn import bits_per_dim_report

        return bits_per_dim_report(pipe, model, samples, json_out, data_dir)
    if samples is None:
        fail("give a samples file (.npz), or --bits-per-dim for a cINN model")
    try:
        data = load_npz(samples, num_classes=len(pipe.classes))
        bundle = EvaluatorBundle.from_folder(pipe.folder, pipe.device)
    except (ValueError, WeightsError) as err:
        fail(str(err))
    size = bundle.network.config.image_channels
    if data["images"].shape[1:] != (28, 28, size):
        fail(f"{samples}: images must be (N, 28, 28, {size}) for {model}, got {data['images'].shape}")
    result = evaluate_samples(data["images"], data["labels"], bundle)
    typer.echo(f"samples      {result['num_samples']}")
    typer.echo(f"accuracy     {result['accuracy']:.4f}  (evaluator agrees with the asked class)")
    typer.echo(f"diversity    {result['diversity']:.4f}  (within-class spread / real test images')")
    typer.echo(f"ms-ssim      {result['ms_ssim']:.4f}  (mean within-class pair similarity; lower = more diverse)")
    typer.echo(f"fid          {result['fid']:.4f}  (Fréchet distance to real test images, evaluator features)")
    typer.echo(f"kid          {result['kid']:.4f} ± {result['kid_std']:.4f}")
    typer.echo(f"is           {result['inception_score']:.4f}  (Inception-Score-style, evaluator's p(y|x))")
    for k, acc in result["per_class_accuracy"].items():
        typer.echo(f"  {k} {pipe.classes[k]:<12} {acc:.3f}")
    if json_out is not None:
        from .models.io import atomic_write

        text = json.dumps(result, indent=2) + "\n"
        atomic_write(json_out, lambda tmp: Path(tmp).write_text(text))


@app.command("real")
def real_cmd(
    num: int = typer.Option(64, "--num", "-n", help="Real images per class."),
    split: str = typer.Option("train", help="train or test."),
    seed: int = 0,
    out: Path = typer.Option(..., help="Write them as a .npz in the samples contract (the real-data floor)."),
    model: str = typer.Option("fashion-mnist", help="Whose classifier fills 'prob'."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
):
    """Write real images in the samples contract, so `ppgn eval` gives the real-data floor."""
    import numpy as np
    import torch

    from .data import DataNotFoundError, load_fashion_mnist, to_tensor
    from .images import save_npz

    try:
        data = load_fashion_mnist(split, data_dir)
    except (DataNotFoundError, ValueError) as err:
        fail(str(err))
    rng = np.random.default_rng(seed)
    per_class = np.bincount(data.labels).min()
    if not 0 < num <= per_class:
        fail(f"--num must be in 1..{per_class} for the {split} split, got {num}")
    idx = np.concatenate([rng.choice(np.flatnonzero(data.labels == k), num, replace=False) for k in range(len(data.classes))])
    pipe = _load_pipeline(model, device)
    with torch.no_grad():
        logits = pipe.classifier(to_tensor(data.images[idx]).to(pipe.device))
    prob = logits.softmax(1).gather(1, torch.from_numpy(data.labels[idx]).to(pipe.device)[:, None]).squeeze(1)
    save_npz(out, data.images[idx][..., None], data.labels[idx], prob.cpu().numpy())
    typer.echo(f"{len(idx)} real {split} images → {out}")


@app.command("export")
def export_cmd(
    source: Path = typer.Argument(..., help="Trained weights (.safetensors with its .json card beside)."),
    target: Path = typer.Argument(..., help="Where to write them, e.g. ppgn/weights/fashion-mnist/generator.safetensors."),
    half: bool = typer.Option(False, help="Store floating tensors as float16 (half the size)."),
):
    """Copy trained weights (and their card) for shipping, optionally as float16."""
    import torch

    from .models import WeightsError, load_model, read_card, save_model

    try:
        model = load_model(source)
    except WeightsError as err:
        fail(str(err))
    card = read_card(source)
    card.pop("class", None), card.pop("config", None)
    card["stored_dtype"] = "float16" if half else "float32"
    save_model(model, target, card, dtype=torch.float16 if half else None)
    typer.echo(f"{source} → {target} ({target.stat().st_size / 1e6:.1f} MB)")


bench_app = typer.Typer(no_args_is_help=True, help="Measure speed and quality.")
app.add_typer(bench_app, name="bench")


@bench_app.command("speed")
def bench_speed_cmd(
    model: str = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights."),
    preset: str = typer.Option("joint-ppgn-h", help="Which sampler preset to time."),
    batches: str = typer.Option("1,16,64,256", help="Comma-separated batch sizes (chains run together)."),
    steps: int = typer.Option(10, help="Chain steps timed per batch size (after one warm-up step)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the rows as a JSON list."),
    profile: bool = typer.Option(False, "--profile", help="Also show where a step's time goes, by operator (at the largest batch up to 64)."),
    device: Optional[str] = Device,
):
    """Chain steps per second, ms per 200-step sample, FLOPs and GFLOP/s against the matmul ceiling."""
    import json

    from .evaluation.speed import bench_speed, profile_by_operator
    from .sampling import PRESETS

    if preset not in PRESETS:
        fail(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
    try:
        sizes = [int(b) for b in batches.split(",")]
    except ValueError:
        fail(f"--batches must be comma-separated integers, got {batches!r}")
    if any(b <= 0 for b in sizes) or steps <= 0:
        fail("--batches and --steps must be positive")
    rows = bench_speed(_load_pipeline(model, device), preset, sizes, steps)
    header = f"{'batch':>5} {'steps/s':>9} {'ms/sample':>10} {'MFLOP/step':>11} {'GFLOP/s':>8} {'fp32 mm':>8} {'bf16 mm':>8} {'peak MB':>8}"
    typer.echo(f"{preset} on {rows[0]['device']}, {rows[0]['threads']} threads; ms/sample = a 200-step chain")
    typer.echo(header)
    for r in rows:
        typer.echo(
            f"{r['batch']:>5} {r['steps_per_s']:>9} {r['ms_per_sample']:>10} {r['flops_per_step'] / r['batch'] / 1e6:>11.1f} "
            f"{r['gflops_achieved']:>8} {r['matmul_fp32_gflops']:>8} {r['matmul_bf16_gflops']:>8} {r['peak_mem_mb']:>8}"
        )
    if profile:
        batch = max([b for b in sizes if b <= 64] or [min(sizes)])
        ops = profile_by_operator(_load_pipeline(model, device), preset, batch)
        typer.echo(f"\nwhere a step's time goes (batch {batch} as one group of chains, operator self time):")
        for op in ops:
            typer.echo(f"  {op['operator']:<44} {op['ms_per_step']:>8.2f} ms  {100 * op['share']:5.1f}%  {op['calls_per_step']:>5} calls")
        next(r for r in rows if r["batch"] == batch)["profile"] = ops
    if json_out is not None:
        from .models.io import atomic_write

        text = json.dumps(rows, indent=2) + "\n"
        atomic_write(json_out, lambda tmp: Path(tmp).write_text(text))


@bench_app.command("quality")
def bench_quality_cmd(
    model: str = typer.Option("fashion-mnist", help="A shipped model name, or a folder of trained weights."),
    rows: Optional[str] = typer.Option(None, help="Comma-separated rows: real, reconstruction, presets, other model names (default: real, reconstruction and the five presets)."),
    seeds: Optional[str] = typer.Option(None, help="Comma-separated seeds (default 0,1,2; quick 0,1)."),
    per_class: Optional[int] = typer.Option(None, help="Samples per class per seed (default 32; quick 4)."),
    quick: bool = typer.Option(False, "--quick", help="A small run (a couple of minutes) that exercises everything."),
    out_dir: Path = typer.Option(Path("docs"), help="Where results.md, results.json and figures/ go."),
    cache_dir: Optional[Path] = typer.Option(Path("runs/bench-quality"), help="Finished rows kept here: a rerun resumes, an added row costs only itself. 'none' to keep nothing."),
    data_dir: Optional[Path] = DataDir,
    device: Optional[str] = Device,
    quiet: bool = Quiet,
):
    """Real data, reconstructions and every preset side by side, several seeds, plus an ε1 × ε3 grid."""
    import dataclasses

    from .data import DataNotFoundError
    from .evaluation.quality import FULL, QUICK, bench_quality
    from .evaluation.report import write_report
    from .models import WeightsError

    config = QUICK if quick else FULL
    try:
        if rows is not None:
            config = dataclasses.replace(config, rows=tuple(r.strip() for r in rows.split(",") if r.strip()))
        if seeds is not None:
            config = dataclasses.replace(config, seeds=tuple(int(s) for s in seeds.split(",")))
    except ValueError:
        fail(f"--seeds must be comma-separated integers, got {seeds!r}")
    if per_class is not None:
        if per_class < 2:
            fail(f"--per-class must be >= 2 (diversity needs pairs), got {per_class}")
        config = dataclasses.replace(config, per_class=per_class)
    if not config.rows or not config.seeds:
        fail("--rows and --seeds must not be empty")
    started = time.perf_counter()
    try:
        cache = None if cache_dir is None or str(cache_dir) == "none" else cache_dir
        result = bench_quality(_load_pipeline(model, device), config, data_dir, progress=not quiet, cache_dir=cache)
    except (ValueError, WeightsError, DataNotFoundError) as err:
        fail(str(err))
    given = {"--rows": rows, "--seeds": seeds, "--per-class": per_class, "--out-dir": out_dir}
    command = "ppgn bench quality" + " --quick" * quick + "".join(f" {k} {v}" for k, v in given.items() if v is not None)
    paths = write_report(result, out_dir, command)
    for row in result.rows:
        (acc, _), (fid, _), (div, _) = (row.summary(m) for m in ("accuracy", "fid", "diversity"))
        typer.echo(f"{row.name:<24} accuracy {acc:.3f}  FID {fid:.3f}  diversity {div:.3f}")
    typer.echo(f"{time.perf_counter() - started:.0f} s → " + ", ".join(str(p) for p in paths[:2]))


from . import cli_cinn  # noqa: E402 (the cINN commands live in their own module)

cli_cinn.register(app, train_app)

from .cli_conditions import register as _register_conditions  # noqa: E402  (visualize, inpaint, ...)

_register_conditions(app, train_app, bench_app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
