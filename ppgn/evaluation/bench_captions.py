"""Do samples match their captions? The class named, and each named attribute, measured.

For each caption: ``num`` samples conditioned on it (calibrated, untuned). Reported:
  class    how often the independent evaluator puts the samples in the class the caption names,
           against the same for real test images of that class;
  attribute  how often each attribute the caption names holds in the samples, measured from the
           pixels with the captioner's own thresholds, against how often it holds in (a) real
           test images of the class (the base rate, about 1/3 by construction) and (b) samples
           of the class alone (``--class``), which shows what the words add beyond the class;
  composed the same two measures for the caption composed with its class (``--class K --caption``).
"""

from __future__ import annotations

import time

import numpy as np

from ..data.captions import attribute_words, parse_caption
from ..pipelines.conditions import Start, compose
from .metrics import evaluator_outputs

CAPTIONS = (
    "a dark bag", "a light bag", "a small sneaker", "a large sneaker",
    "a small dark pullover", "a large light coat", "a dress that is dark", "a small t-shirt",
)  # fmt: skip


def _rates(images: np.ndarray, label: int, thresholds, b: str | None, s: str | None) -> dict:
    labels = np.full(len(images), label)
    b_words, s_words = attribute_words(images[..., 0] if images.ndim == 4 else images, labels, thresholds)
    out = {}
    if b:
        out[b] = round(float(np.mean([w == b for w in b_words])), 4)
    if s:
        out[s] = round(float(np.mean([w == s for w in s_words])), 4)
    return out


def _agreement(evaluator, images: np.ndarray, label: int) -> float:
    logits = evaluator_outputs(evaluator, images if images.ndim == 4 else images[..., None])[1]
    return round(float((logits.argmax(1).numpy() == label).mean()), 4)


def bench_captions(pipe, test, evaluator, captions=CAPTIONS, num: int = 32, seed: int = 0, preset: str = "joint-ppgn-h",
                   steps: int | None = None, progress: bool = False) -> list[dict]:
    """Rows ``{caption, class, agreement, real_agreement, attributes, real_base_rate, class_only_rate,
    composed_agreement, composed_attributes, seconds}``."""
    thresholds = pipe.captioner.config.thresholds
    class_only: dict[int, np.ndarray] = {}
    rows = []
    for caption in captions:
        label, b, s = parse_caption(caption)
        started = time.perf_counter()
        condition, labels = compose(pipe, num, caption=caption, start=Start(num, preset, seed))
        out = pipe.sample(labels, num=num, preset=preset, seed=seed, steps=steps, condition=condition, progress=progress)
        seconds = time.perf_counter() - started
        if label not in class_only:
            class_only[label] = pipe.sample(label, num=num, preset=preset, seed=seed, steps=steps, progress=progress).array
        both, both_labels = compose(pipe, num, class_=label, caption=caption, start=Start(num, preset, seed))
        composed = pipe.sample(both_labels, num=num, preset=preset, seed=seed, steps=steps, condition=both, progress=progress).array
        real = test.images[test.labels == label]
        rows.append({
            "caption": caption,
            "class": pipe.classes[label],
            "agreement": _agreement(evaluator, out.array, label),
            "real_agreement": _agreement(evaluator, real, label),
            "attributes": _rates(out.array, label, thresholds, b, s),
            "real_base_rate": _rates(real, label, thresholds, b, s),
            "class_only_rate": _rates(class_only[label], label, thresholds, b, s),
            "composed_agreement": _agreement(evaluator, composed, label),
            "composed_attributes": _rates(composed, label, thresholds, b, s),
            "seconds": round(seconds, 1),
        })
    return rows
