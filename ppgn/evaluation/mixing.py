"""Mixing: does one chain move between modes when the class it is asked for changes?

The paper's class-switching videos run one chain and switch the class condition every so
many steps. Here each chain is given a random order of distinct classes, one per segment,
and continues from where the previous segment ended. At the end of every segment the
independent evaluator names the class of the image. Two figures come out:

* ``distinct_classes``: how many different classes (per the evaluator) one chain visits,
  averaged over chains; at most the number of segments.
* ``switch_rate``: the fraction of segments that end in the class asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .metrics import evaluator_outputs


@dataclass
class MixingResult:
    distinct_classes: float
    switch_rate: float
    targets: np.ndarray  # (chains, segments) the class asked for in each segment
    predicted: np.ndarray  # (chains, segments) the evaluator's class at each segment's end
    images: np.ndarray  # (chains, segments, H, W, C) uint8, the image at each segment's end

    def as_dict(self) -> dict:
        return {"distinct_classes": self.distinct_classes, "switch_rate": self.switch_rate}


def class_schedule(chains: int, segments: int, num_classes: int, seed: int) -> np.ndarray:
    """(chains, segments): a random order of classes per chain, no class twice in a row."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(chains):
        order = rng.permutation(num_classes)
        while len(order) < segments:  # more segments than classes: append fresh orders
            nxt = rng.permutation(num_classes)
            if nxt[0] == order[-1]:
                nxt = np.roll(nxt, 1)
            order = np.concatenate([order, nxt])
        rows.append(order[:segments])
    return np.stack(rows)


def measure_mixing(
    pipe, evaluator: torch.nn.Module, preset: str, chains: int = 16, segments: int = 5,
    steps_per_segment: int = 50, seed: int = 0,
) -> MixingResult:
    """Run ``chains`` chains through ``segments`` class switches and score where they end up.

    Args:
        pipe: a PPGNPipeline; evaluator: the independent evaluator of its dataset.
    """
    targets = class_schedule(chains, segments, len(pipe.classes), seed)
    h: torch.Tensor | str = "gaussian"
    ends = []
    for s in range(segments):
        out = pipe.sample(targets[:, s].tolist(), num=chains, preset=preset, seed=seed * 1000 + s,
                          steps=steps_per_segment, init=h)
        h = out.h.to(pipe.device)
        ends.append(out.array)
    images = np.stack(ends, axis=1)  # (chains, segments, H, W, C)
    _, logits = evaluator_outputs(evaluator, images.reshape(-1, *images.shape[2:]))
    predicted = logits.argmax(1).numpy().reshape(chains, segments)
    return MixingResult(
        distinct_classes=float(np.mean([len(set(row)) for row in predicted.tolist()])),
        switch_rate=float((predicted == targets).mean()),
        targets=targets,
        predicted=predicted,
        images=images,
    )
