"""The quality benchmark: real data, the paper's five PPGN variants (and any other model), side by side.

Every row is sampled with several seeds and scored by the independent evaluator (never used
while sampling); each column is the mean ± std over seeds:

    accuracy           the evaluator agrees with the class asked for
    fid, kid           Fréchet distance and KID to 10k real test images, in evaluator features
    inception_score    the Inception-Score-style score from the evaluator's p(y | x)
    diversity          within-class feature spread / that of real test images (1 = as diverse)
    ms_ssim            mean MS-SSIM of same-class pairs (lower = more diverse)
    precision, recall  improved precision and recall (Kynkäänniemi et al., 2019), per class, each class's
                       samples against as many real test images of it, k = 3: the share of samples on the
                       real manifold (fidelity) and of real images on the samples' manifold (coverage)
    distinct_classes   classes one chain visits when the asked class switches mid-chain
    switch_rate        fraction of those switches the chain follows
    seconds_per_sample wall time of sampling divided by the number of samples
    evaluations_per_sample  forward passes of the generating network (G, the UNet, the cINN) per sample

Two rows are not samplers but references: ``real`` (real train images scored like samples: the
floor every metric can reach) and ``reconstruction`` (G(E(x)) of those same images: the best
this generator can do when it is handed a good code). Two rows are another kind of generator, a
diffusion model of a folder made by ``ppgn train diffusion`` (``QualityConfig.diffusion``):
``diffusion-guided``, its unconditional branch steered by the same classifier E/C through the
same ``ClassCondition`` a PPGN chain climbs (read on the denoised estimate x̂0), and
``diffusion-cfg``, classifier-free guidance by its own labels. An ε1 × ε3 grid of one preset follows.

Finished (row, seed) jobs are cached with their images; a job cached before a metric existed
gets it from the cached images (or, for the evaluation count, from the row's settings) when it is read.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data import dataset_items, from_uint8, open_dataset, to_uint8
from ..io import atomic_write
from ..pipelines.diffusion import DEFAULT_ETA, DEFAULT_SCALE, DiffusionPipeline
from ..sampling import PRESETS, get_preset
from .evaluate import EvaluatorBundle, class_precision_recall, evaluate_samples
from .metrics import evaluator_outputs
from .mixing import measure_mixing

GUIDED_SCALE, GUIDED_ETA = DEFAULT_SCALE["classifier"], DEFAULT_ETA["classifier"]
CFG_SCALE, CFG_ETA = DEFAULT_SCALE["cfg"], DEFAULT_ETA["cfg"]

REFERENCE_ROWS = ("real", "reconstruction")
DIFFUSION_ROWS = {"diffusion-guided": "classifier", "diffusion-cfg": "cfg"}  # row → DiffusionPipeline's guidance
METRICS = ("accuracy", "fid", "kid", "inception_score", "diversity", "ms_ssim", "precision", "recall", "distinct_classes",
           "switch_rate", "seconds_per_sample", "evaluations_per_sample")
# Settings that shape the diffusion rows alone: kept out of the cache key of the other rows (their
# jobs are named by a digest of these and of the diffusion model instead).
DIFFUSION_FIELDS = ("diffusion", "diffusion_steps", "guided_scale", "guided_eta", "cfg_scale", "cfg_eta")


@dataclass(frozen=True)
class QualityConfig:
    rows: tuple[str, ...] = (*REFERENCE_ROWS, *PRESETS)
    seeds: tuple[int, ...] = (0, 1, 2)
    per_class: int = 32  # samples per class per seed
    steps: int | None = None  # chain length (None: each preset's own)
    mixing_chains: int = 16
    mixing_segments: int = 5  # class switches per chain: distinct classes visited is at most this
    mixing_steps: int = 50  # steps between switches
    ablation_preset: str = "joint-ppgn-h"
    ablation_eps1: tuple[float, ...] = (0.1, 0.3, 1.0)
    ablation_eps3: tuple[float, ...] = (0.0, 0.1, 0.3)
    ablation_per_class: int = 10  # one seed (the first)
    # The diffusion rows: a folder made by `ppgn train diffusion` (None: no diffusion rows), DDIM steps, and each
    # guidance's weight and η, picked by a sweep on seed 7, 10 per class (apart from the reported seeds; see
    # ppgn.pipelines.diffusion).
    diffusion: str | None = None
    diffusion_steps: int = 50
    guided_scale: float = GUIDED_SCALE
    guided_eta: float = GUIDED_ETA
    cfg_scale: float = CFG_SCALE
    cfg_eta: float = CFG_ETA


FULL = QualityConfig()
QUICK = QualityConfig(
    seeds=(0, 1), per_class=4, steps=30, mixing_chains=4, mixing_segments=3, mixing_steps=10,
    ablation_eps1=(0.3, 1.0), ablation_eps3=(0.0, 0.3), ablation_per_class=2, diffusion_steps=10,
)


@dataclass
class RowResult:
    name: str
    per_seed: list[dict]  # one dict of METRICS per seed
    grid: np.ndarray | None  # uint8 (N, H, W, C) samples of the first seed, grouped by class
    grid_labels: np.ndarray
    mixing_images: np.ndarray | None = None  # (chains, segments, H, W, C) of the first seed

    def summary(self, metric: str) -> tuple[float, float]:
        values = np.array([s.get(metric, float("nan")) for s in self.per_seed], dtype=float)
        if np.isnan(values).all():
            return float("nan"), float("nan")
        return float(np.nanmean(values)), float(np.nanstd(values))


@dataclass
class QualityResult:
    config: QualityConfig
    rows: list[RowResult]
    ablation: list[dict] = field(default_factory=list)  # {eps1, eps3, metrics..., images}

    def as_json(self) -> dict:
        """Numbers only (no images): the config, each row's mean, std and per-seed values, the grid."""
        rows = []
        for row in self.rows:
            stats = {m: row.summary(m) for m in METRICS}
            rows.append({
                "name": row.name,
                "mean": {m: s[0] for m, s in stats.items()},
                "std": {m: s[1] for m, s in stats.items()},
                "per_seed": row.per_seed,
            })
        ablation = [{k: v for k, v in cell.items() if k not in ("images", "labels")} for cell in self.ablation]
        return _finite({"config": asdict(self.config), "rows": rows, "ablation": ablation})


def _finite(value):
    """NaN (a metric that does not apply to a row) becomes None: JSON has no NaN."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class _Rows:
    """Draws the images of each row for one seed; holds the pipeline, data and timings."""

    def __init__(self, pipe, data_dir: str | Path | None, config: QualityConfig):
        self.pipe = pipe
        self.data_dir = data_dir
        self.config = config
        self._train = None
        self._others: dict = {}
        self._diffusion = None

    @property
    def diffusion(self) -> DiffusionPipeline:
        """The diffusion model of ``config.diffusion``, guided by this PPGN's own classifier E/C."""
        if self._diffusion is None:
            self._diffusion = diffusion_pipeline(self.pipe, self.config.diffusion)
        return self._diffusion

    def diffusion_settings(self, name: str) -> dict:
        """How row ``name`` samples: DiffusionPipeline.sample's guidance, steps, scale and η."""
        c, guidance = self.config, DIFFUSION_ROWS[name]
        scale, eta = (c.guided_scale, c.guided_eta) if guidance == "classifier" else (c.cfg_scale, c.cfg_eta)
        return dict(guidance=guidance, steps=c.diffusion_steps, scale=scale, eta=eta)

    def evaluations(self, name: str) -> float:
        """Forward passes of the generating network per sample: G once per chain step (its gradient and the
        prior's E(G(h)) reuse that pass), the UNet once per DDIM step (twice with classifier-free guidance,
        both branches), the cINN once; NaN for the reference rows."""
        if name in PRESETS:
            preset = get_preset(name)
            return float((self.config.steps or preset.sampler.steps) + (preset.warm[1] if preset.warm else 0))
        if name in DIFFUSION_ROWS:
            settings = self.diffusion_settings(name)
            return float(settings["steps"] * (2 if settings["guidance"] == "cfg" else 1))
        if name in REFERENCE_ROWS:
            return float("nan")
        return 1.0

    @property
    def train(self):
        """The model's training data, at its image size and channels."""
        if self._train is None:
            size, _, channels = self.pipe.image_shape
            self._train = open_dataset(self.pipe.dataset, "train", size, channels, self.data_dir)
        return self._train

    def real(self, per_class: int, seed: int) -> np.ndarray:
        """Indices of ``per_class`` train images of each class, drawn with ``seed``."""
        rng = np.random.default_rng(seed)
        labels = np.asarray(self.train.labels)
        return np.concatenate([rng.choice(np.flatnonzero(labels == k), per_class, replace=False)
                               for k in range(len(self.pipe.classes))])

    def draw(self, name: str, labels: np.ndarray, seed: int, steps: int | None) -> tuple[np.ndarray, float]:
        """uint8 (N, H, W, C) images of row ``name`` for ``labels`` (grouped by class), and seconds."""
        per_class = int(np.bincount(labels).max())
        if name in REFERENCE_ROWS:
            idx = self.real(per_class, seed)
            images = dataset_items(self.train, idx)
            if name == "reconstruction":
                G = self.pipe.generator(get_preset("joint-ppgn-h").generator)
                with torch.no_grad():
                    images = to_uint8(G(self.pipe.encode(from_uint8(images))))
            return images, float("nan")
        if name in DIFFUSION_ROWS:
            _ = self.diffusion.network, self.diffusion.classifier  # loaded before the clock starts, as the PPGN's are
        started = time.perf_counter()
        if name in PRESETS:
            out = self.pipe.sample(labels.tolist(), num=len(labels), preset=name, seed=seed, steps=steps)
        elif name in DIFFUSION_ROWS:
            out = self.diffusion.sample(labels.tolist(), num=len(labels), seed=seed, **self.diffusion_settings(name))
        else:  # another model with the same classes, e.g. a cINN, by its registered name
            out = self._other(name).sample(labels.tolist(), num=len(labels), seed=seed)
        return out.array, time.perf_counter() - started

    def _other(self, name: str):
        if name not in self._others:
            from ..pipelines import load

            self._others[name] = load(name, device=self.pipe.device)
        return self._others[name]


def valid_rows(classes: tuple[str, ...]) -> tuple[str, ...]:
    """Every row a model of ``classes`` can have: references, presets, the diffusion rows, cINNs of the same classes."""
    from ..pipelines.registry import shipped_models

    others = [name for name, entry in shipped_models().items() if entry.kind == "cinn" and entry.classes == classes]
    return (*REFERENCE_ROWS, *PRESETS, *DIFFUSION_ROWS, *others)


def _check_rows(config: QualityConfig, pipe) -> None:
    """Rows are references, presets, the diffusion rows (given a diffusion folder), or cINNs of the same classes."""
    valid = valid_rows(tuple(pipe.classes))
    for name in config.rows:
        if name not in valid:
            raise ValueError(f"unknown row {name!r}; valid: {', '.join(valid)}")
    wanted = [name for name in config.rows if name in DIFFUSION_ROWS]
    if wanted and config.diffusion is None:
        raise ValueError(f"row {wanted[0]} needs a diffusion model folder (--diffusion FOLDER), made by "
                         f"'{MAKE_DIFFUSION}'")  # fmt: skip
    if wanted:
        _ = diffusion_pipeline(pipe, config.diffusion).network  # a missing or foreign model is refused before any row runs


MAKE_DIFFUSION = "ppgn train diffusion --minutes 42 --out runs/diffusion-fmnist"  # the command behind the measured rows


def diffusion_pipeline(pipe, folder: str | Path) -> DiffusionPipeline:
    """The diffusion model in ``folder``, for ``pipe``'s classes, guided by ``pipe``'s classifier E/C.

    Raises:
        ValueError: no ``diffusion.safetensors`` in ``folder`` (naming the command that makes one), or
            a model trained on other data than ``pipe``'s.
    """
    from ..models import read_card

    folder = Path(folder)
    if not (folder / "diffusion.safetensors").is_file():
        raise ValueError(f"--diffusion {folder}: no diffusion.safetensors there; make one with "
                         f"'{MAKE_DIFFUSION.replace('runs/diffusion-fmnist', str(folder))}' (42 CPU-minutes)")  # fmt: skip
    dataset = (read_card(folder / "diffusion.safetensors").get("training_config") or {}).get("dataset")
    if dataset is not None and dataset != pipe.dataset:
        raise ValueError(f"--diffusion {folder} was trained on {dataset!r}, the model benchmarked on {pipe.dataset!r}: "
                         "its samples would be scored against the wrong data")  # fmt: skip
    return DiffusionPipeline(folder, tuple(pipe.classes), pipe.device, classifier=pipe.folder / "classifier.safetensors")


class _Cache:
    """Finished jobs on disk: a killed run resumes, and a run with one more row costs that row.

    A job is kept under a hash of everything that shapes its numbers except the row list and
    the seeds (which name the job): the per-row settings and the model folder.
    """

    def __init__(self, folder: str | Path | None, config: QualityConfig, model_folder: Path):
        key = {k: v for k, v in asdict(config).items() if k not in ("rows", "seeds", *DIFFUSION_FIELDS)}
        digest = hashlib.sha256(json.dumps([key, str(model_folder.resolve())], sort_keys=True).encode()).hexdigest()[:12]
        self.folder = Path(folder) / digest if folder is not None else None

    def get(self, job: str) -> dict | None:
        path = self.folder / f"{job}.npz" if self.folder else None
        if path is None or not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as f:
                found = {k: f[k] for k in f.files}
            found["metrics"] = json.loads(str(found["metrics"]))
        except Exception:  # a damaged cache file (cut short, not an .npz, no metrics): the job runs again and rewrites it
            return None
        return found if isinstance(found["metrics"], dict) and "images" in found else None

    def put(self, job: str, metrics: dict, **arrays: np.ndarray) -> None:
        if self.folder is None:
            return
        buffer = io.BytesIO()
        np.savez(buffer, metrics=np.array(json.dumps(metrics)), **arrays)
        atomic_write(self.folder / f"{job}.npz", lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))


def bench_quality(
    pipe, config: QualityConfig = FULL, data_dir: str | Path | None = None, progress: bool = True,
    cache_dir: str | Path | None = None,
) -> QualityResult:
    """Run every row with every seed, then the ε1 × ε3 grid; see the module docstring.

    Args:
        cache_dir: keep each finished (row, seed) there and reuse it on the next run.
    """
    _check_rows(config, pipe)
    bundle = EvaluatorBundle.from_folder(pipe.folder, pipe.device)
    rows, cache = _Rows(pipe, data_dir, config), _Cache(cache_dir, config, pipe.folder)
    labels = np.repeat(np.arange(len(pipe.classes)), config.per_class)
    results = {name: RowResult(name, [], None, labels) for name in config.rows}
    jobs = [(name, seed) for name in config.rows for seed in config.seeds]
    bar = tqdm(jobs, desc="bench quality", disable=not progress)
    for name, seed in bar:
        bar.set_postfix_str(f"{name} seed {seed}")
        key = _job_name(rows, name, seed)
        job = cache.get(key)
        if job is None:
            images, seconds = rows.draw(name, labels, seed, config.steps)
            job = {"metrics": _score(images, labels, bundle, seconds), "images": images}
            if name in PRESETS:
                mixing = measure_mixing(pipe, bundle.network, name, config.mixing_chains, config.mixing_segments,
                                        config.mixing_steps, seed)
                job["metrics"].update(mixing.as_dict())
                job["mixing"] = mixing.images
            job["metrics"]["evaluations_per_sample"] = rows.evaluations(name)
            cache.put(key, **job)
        elif _complete(job, labels, bundle, rows.evaluations(name)):
            cache.put(key, **job)  # the metrics added to a job cached before they existed: computed once
        job["metrics"]["evaluations_per_sample"] = rows.evaluations(name)  # a count from the row's settings, not a measurement
        row = results[name]
        row.per_seed.append(job["metrics"])
        if seed == config.seeds[0]:
            row.grid, row.mixing_images = job["images"], job.get("mixing")
    return QualityResult(config, list(results.values()), _ablation(pipe, bundle, config, cache, progress))


def _job_name(rows: _Rows, name: str, seed: int) -> str:
    """A cached job's name. A diffusion row's holds a digest of its model (folder, size and time of its weights)
    and its settings, which the cache folder's key leaves out: another model or scale is another job."""
    if name not in DIFFUSION_ROWS:
        return f"{name}-seed{seed}"
    weights = Path(rows.config.diffusion) / "diffusion.safetensors"
    stat = weights.stat()
    shape = [str(weights.resolve()), stat.st_size, stat.st_mtime_ns, rows.diffusion_settings(name)]
    return f"{name}-{hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:10]}-seed{seed}"


def _complete(job: dict, labels: np.ndarray, bundle: EvaluatorBundle, evaluations: float) -> bool:
    """Add to a cached job the metrics it was cached without: precision and recall from its images
    (the same evaluator features ``_score`` computes), the evaluation count from the row's settings.
    Returns whether anything was added."""
    metrics, added = job["metrics"], False
    if "precision" not in metrics or "recall" not in metrics:
        features, _ = evaluator_outputs(bundle.network, job["images"])
        found = class_precision_recall(features, labels[: len(features)], bundle.real_features, bundle.real_labels)
        metrics.update(precision=found["precision"], recall=found["recall"])
        added = True
    if "evaluations_per_sample" not in metrics:
        metrics["evaluations_per_sample"], added = evaluations, True
    return added


def _score(images: np.ndarray, labels: np.ndarray, bundle: EvaluatorBundle, seconds: float) -> dict:
    r = evaluate_samples(images, labels, bundle)
    metrics = {m: r[m] for m in METRICS if m in r}
    metrics.update(distinct_classes=float("nan"), switch_rate=float("nan"), seconds_per_sample=seconds / len(labels))
    metrics["load_per_core"] = os.getloadavg()[0] / (os.cpu_count() or 1)  # timings mean less on a busy machine
    return metrics


def _ablation(pipe, bundle: EvaluatorBundle, config: QualityConfig, cache: _Cache, progress: bool) -> list[dict]:
    """The ε1 × ε3 grid of ``config.ablation_preset`` (ε2 and everything else as the preset has it)."""
    labels = np.repeat(np.arange(len(pipe.classes)), config.ablation_per_class)
    cells = [(e1, e3) for e1 in config.ablation_eps1 for e3 in config.ablation_eps3]
    grid, evaluations = [], float(config.steps or get_preset(config.ablation_preset).sampler.steps)
    for eps1, eps3 in tqdm(cells, desc=f"ablation ε1×ε3 ({config.ablation_preset})", disable=not progress):
        name = f"ablation-{config.ablation_preset}-eps1={eps1:g}-eps3={eps3:g}-seed{config.seeds[0]}"
        job = cache.get(name)
        if job is None:
            started = time.perf_counter()
            out = pipe.sample(labels.tolist(), num=len(labels), preset=config.ablation_preset, seed=config.seeds[0],
                              steps=config.steps, eps1=eps1, eps3=eps3)
            metrics = _score(out.array, labels, bundle, time.perf_counter() - started)
            del metrics["distinct_classes"], metrics["switch_rate"]
            metrics["evaluations_per_sample"] = evaluations
            job = {"metrics": metrics, "images": out.array}
            cache.put(name, **job)
        elif _complete(job, labels, bundle, evaluations):
            cache.put(name, **job)
        grid.append({"eps1": eps1, "eps3": eps3, **job["metrics"], "images": job["images"], "labels": labels})
    return grid

