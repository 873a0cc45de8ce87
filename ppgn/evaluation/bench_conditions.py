"""Does a user's network work untuned? Sample every class through it, score with the evaluator.

For each network (a factory and its weights) the chains ask for each class in turn, with the
preset's ε's unchanged, under each calibration mode ("up", the default; "match"; "off"); the
shipped classifier is the reference row. A mode that gives the same scale as one already run
reuses that run (the chains are deterministic). The evaluator, never used while sampling, scores them.
"""

from __future__ import annotations

import time

import torch

from ..models.user import check_logits, load_user_network
from ..pipelines.conditions import CALIBRATIONS, Start, calibrate
from ..sampling import ClassCondition
from .evaluate import EvaluatorBundle, evaluate_samples


def _score(pipe, bundle, condition, labels, preset, seed, steps, progress) -> dict:
    started = time.perf_counter()
    out = pipe.sample(labels, num=len(labels), preset=preset, seed=seed, steps=steps, condition=condition, progress=progress)
    result = evaluate_samples(out.array, out.labels, bundle)
    return {
        "accuracy": round(result["accuracy"], 4),
        "diversity": round(result["diversity"], 4),
        "fid": round(result["fid"], 3),
        "seconds": round(time.perf_counter() - started, 1),
    }


def bench_user_networks(
    pipe,
    networks: list[tuple[str, str, str | None]],
    num_per_class: int = 16,
    preset: str = "joint-ppgn-h",
    seed: int = 0,
    steps: int | None = None,
    progress: bool = False,
) -> list[dict]:
    """Rows ``{network, calibration, scale, accuracy, diversity, fid, seconds}``, one per calibration mode.

    Args:
        networks: (name, ``package.module:factory``, weights file or None) for each network.
        num_per_class: chains per class (all classes run together, one batch).
    """
    K = len(pipe.classes)
    labels = torch.arange(K).repeat_interleave(num_per_class)  # (K·n,)
    bundle = EvaluatorBundle.from_folder(pipe.folder, pipe.device)
    start = Start(len(labels), preset, seed)
    size = pipe.classifier.config.image_size
    nets = []  # every network loaded and checked before any chain runs: a bad one is refused at once
    for name, module, weights in networks:
        net = load_user_network(module, weights, pipe.device)
        check_logits(net, K - 1, (pipe.classifier.config.image_channels, size, size), pipe.device)
        nets.append((name, net))
    rows = [{"network": "shipped classifier (reference)", "calibration": "-", "scale": 1.0,
             **_score(pipe, bundle, None, labels, preset, seed, steps, progress)}]
    for name, net in nets:
        raw = ClassCondition(net, labels.to(pipe.device))
        scores: dict[float, dict] = {}  # the chains are deterministic: equal scales give equal runs
        for mode in CALIBRATIONS:
            condition, scale = calibrate(pipe, raw, start, mode)
            if scale not in scores:
                scores[scale] = _score(pipe, bundle, condition, labels, preset, seed, steps, progress)
            rows.append({"network": name, "calibration": mode, "scale": round(scale, 4), **scores[scale]})
    return rows
