"""Inpainting on held-out test images with random holes, against simple and ablated baselines.

Methods (one fill per image):
  mean fill          the hole takes the mean training image's pixels
  nearest neighbour  the hole takes the pixels of the training image closest on the known pixels
  PPGN, no context   h0 = E(masked image), class condition only (C's guess from the masked image)
  PPGN-context       the same plus the context term ε4·(−‖m ⊙ (G(h) − x)‖²)
  PPGN-context, no class   the context term alone
Measured: the mean squared error inside the hole (pixels in [0, 1]) and how often the
independent evaluator puts the composite in the image's true class.
"""

from __future__ import annotations

import time

import torch

from ..data import from_uint8
from ..pipelines.inpaint import EPS4, inpaint, masked_start
from ..sampling.context import composite
from .metrics import evaluator_outputs


def _pixels(images) -> torch.Tensor:
    """uint8 (N, H, W) grey or (N, H, W, C) → (N, C, H, W) in [-1, 1]."""
    return from_uint8(images if images.ndim == 4 else images[..., None])


def random_boxes(n: int, size: int, hole: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 1, size, size) masks, each with a ``hole``×``hole`` square at a random place inside the
    central region (4 pixels in from the border, where centred items are), 1 where known."""
    lo, hi = 4, size - 4 - hole
    xy = torch.randint(lo, hi + 1, (n, 2), generator=generator)
    masks = torch.ones(n, 1, size, size)
    for i, (x, y) in enumerate(xy.tolist()):
        masks[i, :, y : y + hole, x : x + hole] = 0
    return masks


def nearest_neighbour_fill(images: torch.Tensor, masks: torch.Tensor, train: torch.Tensor, chunk: int = 10000) -> torch.Tensor:
    """For each image, the training image with the smallest squared distance on the known pixels.

    ‖m ⊙ (t − x)‖² = (t²)·m − 2 t·(m ⊙ x) + ‖m ⊙ x‖², so all distances are two matrix products.
    """
    m, x = masks.expand_as(images).flatten(1), images.flatten(1)  # (N, P), P = C·H·W
    best_d = torch.full((len(x),), float("inf"))
    best_i = torch.zeros(len(x), dtype=torch.long)
    for start in range(0, len(train), chunk):
        t = train[start : start + chunk].flatten(1)  # (T, P)
        d = (t * t) @ m.T - 2 * t @ (m * x).T  # (T, N), up to a constant per image
        value, index = d.min(0)
        better = value < best_d
        best_d[better], best_i[better] = value[better], index[better] + start
    return train[best_i]


def _row(name, filled, images, masks, labels, evaluator, seconds) -> dict:
    hole = (1 - masks).expand_as(images)  # every channel of a hole pixel counts
    comp = composite(filled, images, masks)
    mse = (((comp - images) / 2) ** 2 * hole).flatten(1).sum(1) / hole.flatten(1).sum(1)  # pixels in [0, 1]
    u8 = ((comp.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    logits = evaluator_outputs(evaluator, u8)[1]
    return {"method": name, "hole_mse": round(mse.mean().item(), 5),
            "evaluator_agreement": round(float((logits.argmax(1).numpy() == labels).mean()), 4), "seconds": round(seconds, 1)}


def bench_inpaint(pipe, test, train, evaluator, num: int = 100, hole: int = 12, seed: int = 0,
                  eps4: tuple[float, ...] = (EPS4,), steps: int | None = None, progress: bool = False) -> list[dict]:
    """Rows ``{method, hole_mse, evaluator_agreement, seconds}`` on ``num`` test images.

    Args:
        test, train: datasets with uint8 ``images`` (N, H, W) or (N, H, W, C) and ``labels``;
            evaluator: the independent evaluator network.
        eps4: the context weights to try (the PPGN-context rows are repeated for each).
    """
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(test), generator=gen)[:num].numpy()
    images, labels = _pixels(test.images[idx]), test.labels[idx]
    masks = random_boxes(num, images.shape[-1], hole, gen)
    train_x = _pixels(train.images)
    rows = []
    t0 = time.perf_counter()
    rows.append(_row("mean fill", train_x.mean(0, keepdim=True).expand_as(images), images, masks, labels, evaluator, time.perf_counter() - t0))
    t0 = time.perf_counter()
    rows.append(_row("nearest training neighbour", nearest_neighbour_fill(images, masks, train_x), images, masks, labels, evaluator,
                     time.perf_counter() - t0))
    with torch.no_grad():  # C's guess from the masked image: the class the sampler may condition on
        guess = pipe.classifier(masked_start(images, masks).to(pipe.device)).argmax(1).cpu()
    variants = [("PPGN, no context (class = C's guess)", True, False, 0.0)]
    for e in eps4:
        variants += [(f"PPGN-context ε4={e:g} (class = C's guess)", True, True, e), (f"PPGN-context ε4={e:g}, no class", False, True, e)]
    for name, with_class, with_context, e in variants:
        t0 = time.perf_counter()
        out = inpaint(pipe, images, masks, guess if with_class else None, num=num, seed=seed, eps4=e, steps=steps,
                      context=with_context, progress=progress)
        rows.append(_row(name, from_uint8(out.generated), images, masks, labels, evaluator, time.perf_counter() - t0))
    real = evaluator_outputs(evaluator, test.images[idx])[1]
    rows.append({"method": "(unmasked test images)", "hole_mse": 0.0,
                 "evaluator_agreement": round(float((real.argmax(1).numpy() == labels).mean()), 4), "seconds": 0.0})
    return rows

