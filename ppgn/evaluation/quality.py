"""The quality benchmark: real data, the paper's five PPGN variants (and any other model), side by side.

Every row is sampled with several seeds and scored by the independent evaluator (never used
while sampling); each column is the mean ± std over seeds:

    accuracy           the evaluator agrees with the class asked for
    fid, kid           Fréchet distance and KID to 10k real test images, in evaluator features
    inception_score    the Inception-Score-style score from the evaluator's p(y | x)
    diversity          within-class feature spread / that of real test images (1 = as diverse)
    ms_ssim            mean MS-SSIM of same-class pairs (lower = more diverse)
    distinct_classes   classes one chain visits when the asked class switches mid-chain
    switch_rate        fraction of those switches the chain follows
    seconds_per_sample wall time of sampling divided by the number of samples

Two rows are not samplers but references: ``real`` (real train images scored like samples: the
floor every metric can reach) and ``reconstruction`` (G(E(x)) of those same images: the best
this generator can do when it is handed a good code). An ε1 × ε3 grid of one preset follows.
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
from ..sampling import PRESETS, get_preset
from .evaluate import EvaluatorBundle, evaluate_samples
from .mixing import measure_mixing

REFERENCE_ROWS = ("real", "reconstruction")
METRICS = ("accuracy", "fid", "kid", "inception_score", "diversity", "ms_ssim", "distinct_classes", "switch_rate", "seconds_per_sample")


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


FULL = QualityConfig()
QUICK = QualityConfig(
    seeds=(0, 1), per_class=4, steps=30, mixing_chains=4, mixing_segments=3, mixing_steps=10,
    ablation_eps1=(0.3, 1.0), ablation_eps3=(0.0, 0.3), ablation_per_class=2,
)


@dataclass
class RowResult:
    name: str
    per_seed: list[dict]  # one dict of METRICS per seed
    grid: np.ndarray | None  # uint8 (N, H, W, C) samples of the first seed, grouped by class
    grid_labels: np.ndarray
    mixing_images: np.ndarray | None = None  # (chains, segments, H, W, C) of the first seed

    def summary(self, metric: str) -> tuple[float, float]:
        values = np.array([s[metric] for s in self.per_seed], dtype=float)
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

    def __init__(self, pipe, data_dir: str | Path | None):
        self.pipe = pipe
        self.data_dir = data_dir
        self._train = None
        self._others: dict = {}

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
        started = time.perf_counter()
        if name in PRESETS:
            out = self.pipe.sample(labels.tolist(), num=len(labels), preset=name, seed=seed, steps=steps)
        else:  # another model with the same classes, e.g. a cINN, by its registered name
            out = self._other(name).sample(labels.tolist(), num=len(labels), seed=seed)
        return out.array, time.perf_counter() - started

    def _other(self, name: str):
        if name not in self._others:
            from ..pipelines import load

            self._others[name] = load(name, device=self.pipe.device)
        return self._others[name]


def _check_rows(rows: tuple[str, ...], classes: tuple[str, ...]) -> None:
    """Rows are references, presets, or cINNs of the same classes (scored by the same evaluator)."""
    from ..pipelines.registry import shipped_models

    others = [name for name, entry in shipped_models().items() if entry.kind == "cinn" and entry.classes == classes]
    valid = (*REFERENCE_ROWS, *PRESETS, *others)
    for name in rows:
        if name not in valid:
            raise ValueError(f"unknown row {name!r}; valid: {', '.join(valid)}")


class _Cache:
    """Finished jobs on disk: a killed run resumes, and a run with one more row costs that row.

    A job is kept under a hash of everything that shapes its numbers except the row list and
    the seeds (which name the job): the per-row settings and the model folder.
    """

    def __init__(self, folder: str | Path | None, config: QualityConfig, model_folder: Path):
        key = {k: v for k, v in asdict(config).items() if k not in ("rows", "seeds")}
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
    _check_rows(config.rows, tuple(pipe.classes))
    bundle = EvaluatorBundle.from_folder(pipe.folder, pipe.device)
    rows, cache = _Rows(pipe, data_dir), _Cache(cache_dir, config, pipe.folder)
    labels = np.repeat(np.arange(len(pipe.classes)), config.per_class)
    results = {name: RowResult(name, [], None, labels) for name in config.rows}
    jobs = [(name, seed) for name in config.rows for seed in config.seeds]
    bar = tqdm(jobs, desc="bench quality", disable=not progress)
    for name, seed in bar:
        bar.set_postfix_str(f"{name} seed {seed}")
        job = cache.get(f"{name}-seed{seed}")
        if job is None:
            images, seconds = rows.draw(name, labels, seed, config.steps)
            job = {"metrics": _score(images, labels, bundle, seconds), "images": images}
            if name in PRESETS:
                mixing = measure_mixing(pipe, bundle.network, name, config.mixing_chains, config.mixing_segments,
                                        config.mixing_steps, seed)
                job["metrics"].update(mixing.as_dict())
                job["mixing"] = mixing.images
            cache.put(f"{name}-seed{seed}", **job)
        row = results[name]
        row.per_seed.append(job["metrics"])
        if seed == config.seeds[0]:
            row.grid, row.mixing_images = job["images"], job.get("mixing")
    return QualityResult(config, list(results.values()), _ablation(pipe, bundle, config, cache, progress))


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
    grid = []
    for eps1, eps3 in tqdm(cells, desc=f"ablation ε1×ε3 ({config.ablation_preset})", disable=not progress):
        name = f"ablation-{config.ablation_preset}-eps1={eps1:g}-eps3={eps3:g}-seed{config.seeds[0]}"
        job = cache.get(name)
        if job is None:
            started = time.perf_counter()
            out = pipe.sample(labels.tolist(), num=len(labels), preset=config.ablation_preset, seed=config.seeds[0],
                              steps=config.steps, eps1=eps1, eps3=eps3)
            metrics = _score(out.array, labels, bundle, time.perf_counter() - started)
            del metrics["distinct_classes"], metrics["switch_rate"]
            job = {"metrics": metrics, "images": out.array}
            cache.put(name, **job)
        grid.append({"eps1": eps1, "eps3": eps3, **job["metrics"], "images": job["images"], "labels": labels})
    return grid

