"""What pipelines return, and the checks every pipeline makes on the classes it is asked for."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..data import parse_class

MAX_NUM = 4096  # samples in one call: beyond this, call again (memory grows linearly)


@dataclass
class Samples:
    """Samples and what the sampler measured.

    Attributes:
        array: uint8 (N, H, W, C).
        labels: int64 (N,), the class asked for.
        prob: float32 (N,), the probability of that class at the end: the PPGN's shipped
            classifier E/C (whatever condition steered the chain), or a cINN's exact posterior.
        h: (N, D) final codes (a cINN's latent z).
        prob_per_step: (steps, N) exp(log p(y | G(h_t))) of the condition that steered the chain,
            before each step: p(class) for a class condition, exp(activation) for a hidden unit,
            the product of the terms' probabilities for a sum. Empty for a cINN.
        trajectory: (steps + 1, R, C, H, W) images of the first R chains in [-1, 1], or None.
        acceptance: float (N,), with exact MALA (``mh``): the fraction of each chain's proposals
            kept once its step size was fixed; None otherwise.
    """

    array: np.ndarray
    labels: np.ndarray
    prob: np.ndarray
    h: torch.Tensor
    prob_per_step: torch.Tensor
    trajectory: torch.Tensor | None = None
    acceptance: np.ndarray | None = None

    @property
    def images(self) -> list[Image.Image]:
        """The samples as PIL images (mode L or RGB)."""
        mode = "L" if self.array.shape[-1] == 1 else "RGB"
        return [Image.fromarray(a.squeeze(-1) if mode == "L" else a, mode) for a in self.array]


@dataclass
class Inpainted:
    """What ``inpaint`` returns.

    Attributes:
        array: uint8 (N, H, W, C), the composites (real pixels outside the hole).
        generated: uint8 (N, H, W, C), G(h) before compositing.
        mask: float (1 or N, 1, H, W), 1 where pixels were known.
        labels: int64 (N,), the class asked for, or -1 when none was.
    """

    array: np.ndarray
    generated: np.ndarray
    mask: torch.Tensor
    labels: np.ndarray


@dataclass
class Visualization:
    """What ``visualize`` returns.

    Attributes:
        layer, unit: the unit, as in "layer:unit".
        images: uint8 (N, H, W, C), the generated images.
        activations: float (N,), the unit's activation on each.
        scale: the calibration factor applied to the activation's gradient.
    """

    layer: str
    unit: int
    images: np.ndarray
    activations: np.ndarray
    scale: float


def class_labels(class_, num: int, classes: tuple[str, ...]) -> torch.Tensor:
    """One class index per sample (num,), from a name, an index, or a list/tensor of ``num`` indices.

    Raises:
        ValueError: one line naming the valid classes or the expected shape.
    """
    if isinstance(class_, (list, tuple, torch.Tensor, np.ndarray)):
        labels = class_.detach().to("cpu", torch.long) if isinstance(class_, torch.Tensor) else torch.as_tensor(np.asarray(class_), dtype=torch.long)
        if labels.shape != (num,):
            raise ValueError(f"need one class per sample: {num} labels, got shape {tuple(labels.shape)}")
        bad = labels[(labels < 0) | (labels >= len(classes))]
        if len(bad):
            raise ValueError(f"class index {bad[0].item()} out of range; valid: 0..{len(classes) - 1}")
        return labels
    return torch.full((num,), parse_class(class_, classes), dtype=torch.long)
