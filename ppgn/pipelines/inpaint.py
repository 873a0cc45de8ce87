"""PPGN-context inpainting (Nguyen et al., 2017, §3.5): fill a hole so that the image is plausible,
agrees with the known pixels, and (optionally) is of a class.

    h0 = E(masked image);   condition = ε4·(−‖m ⊙ (G(h) − x_known)‖²) [+ log p(y = c | G(h))]

then the usual chain, and finally the real pixels are composited outside the hole.

    >>> import ppgn, torch
    >>> from ppgn.pipelines.inpaint import box_mask, inpaint
    >>> pipe = ppgn.load("fashion-mnist")
    >>> image = torch.zeros(1, 1, 28, 28)
    >>> out = inpaint(pipe, image, box_mask(28, (8, 8, 10, 10)), num=2, steps=3)
    >>> out.array.shape
    (2, 28, 28, 1)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data import from_uint8, parse_class, to_uint8
from ..io import check_count, check_number, check_seed, read_image
from ..models import Evaluator, load_model
from ..sampling import ClassCondition
from ..sampling.context import ContextCondition, composite
from .outputs import MAX_NUM, Inpainted

EPS4 = 0.03  # weight of the context term; chosen by `ppgn bench inpaint --eps4 ...` (docs/conditions.md)


def box_mask(size: int, box: tuple[int, int, int, int]) -> torch.Tensor:
    """(1, 1, size, size) mask, 0 inside the hole ``box`` = (x, y, w, h), 1 elsewhere.

    Raises:
        ValueError: a box that is empty or reaches outside the image.
    """
    x, y, w, h = box
    if w <= 0 or h <= 0:
        raise ValueError(f"--box width and height must be > 0, got w={w}, h={h}")
    if x < 0 or y < 0 or x + w > size or y + h > size:
        raise ValueError(f"--box x={x}, y={y}, w={w}, h={h} reaches outside the {size}×{size} image; need 0 <= x, x+w <= {size}, same for y")
    mask = torch.ones(1, 1, size, size)
    mask[..., y : y + h, x : x + w] = 0
    return mask


def parse_box(text: str) -> tuple[int, int, int, int]:
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ValueError(f"--box must be four integers x,y,w,h, got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def read_mask(path: str | Path, size: int) -> torch.Tensor:
    """A mask image (white = the hole to fill) → (1, 1, H, W), 1 where known."""
    hole = read_image(path, 1, size, what="mask")[..., 0] > 127
    if not hole.any():
        raise ValueError(f"{path}: the mask has no hole (no white pixels)")
    return torch.from_numpy(~hole).float()[None, None]


def masked_start(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The image (N, C, H, W) with its hole filled by the mean of the known pixels of each channel
    (mask (N, 1, H, W)): what E sees at the start."""
    fill = (image * mask).flatten(2).sum(2) / mask.flatten(2).sum(2).clamp_min(1)  # (N, C)
    return mask * image + (1 - mask) * fill[..., None, None]


def inpaint(
    pipe,
    image: torch.Tensor,
    mask: torch.Tensor,
    class_: str | int | None = None,
    num: int = 8,
    seed: int = 0,
    preset: str = "joint-ppgn-h",
    eps4: float = EPS4,
    steps: int | None = None,
    context: bool = True,
    progress: bool = False,
) -> Inpainted:
    """Fill the hole of ``image`` (1 or N, C, H, W) in [-1, 1] where ``mask`` (1 or N, 1, H, W) is 0.

    Args:
        class_: also condition on this class (name or index; a (N,) tensor for one per chain).
        context: False drops the context term (the ablation "PPGN without context").

    Raises:
        ValueError: one line, for an image or a mask of another size or channel count than the model's.
    """
    num, seed = check_count(num, "num", high=MAX_NUM), check_seed(seed)
    eps4 = check_number(eps4, "eps4", low=0)
    size, _, channels = pipe.image_shape
    if image.dim() != 4 or tuple(image.shape[1:]) != (channels, size, size):
        raise ValueError(f"the image must be (N, {channels}, {size}, {size}) for this model, got {tuple(image.shape)}")
    if mask.dim() != 4 or tuple(mask.shape[1:]) != (1, size, size):
        raise ValueError(f"the mask must be (N, 1, {size}, {size}) for this model, got {tuple(mask.shape)}")
    image, mask = image.to(pipe.device), mask.to(pipe.device)
    if isinstance(class_, torch.Tensor):
        labels = class_.long()
    elif class_ is not None:
        labels = torch.full((num,), parse_class(class_, pipe.classes), dtype=torch.long)
    else:
        labels = torch.full((num,), -1, dtype=torch.long)
    if not context and class_ is None:
        raise ValueError("without the context term a class is needed (class_)")
    terms = []
    if context:
        terms.append(eps4 * ContextCondition(image, mask))
    if class_ is not None:
        terms.append(ClassCondition(pipe.classifier, labels.to(pipe.device)))
    h0 = pipe.encode(masked_start(image, mask)).expand(num, -1) if len(image) == 1 else pipe.encode(masked_start(image, mask))
    out = pipe.sample(labels.clamp_min(0), num=num, preset=preset, seed=seed, steps=steps, condition=sum(terms),
                      init=h0, progress=progress)
    generated = from_uint8(out.array).to(pipe.device)
    return Inpainted(to_uint8(composite(generated, image, mask)), out.array, mask.cpu(), labels.numpy())


@torch.no_grad()
def filed(pipe, result: Inpainted) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities for the ``.npz`` contract: the class asked for, or, when none was,
    the guess of the folder's independent evaluator (never used while sampling); ``prob`` is
    E/C's probability of that label."""
    x = from_uint8(result.array).to(pipe.device)
    labels = result.labels
    if (labels < 0).any():
        evaluator = load_model(pipe.weights("evaluator"), pipe.device, expect=Evaluator)
        labels = evaluator(x).argmax(1).cpu().numpy()
    prob = pipe.classifier(x).softmax(1).cpu().numpy()
    return labels, prob[np.arange(len(labels)), labels]
