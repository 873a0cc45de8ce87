"""Colourisation with an image-conditioned cINN: p(colour | grey), sampled as many times as you like.

The cINN models the chroma (Cb, Cr) of an image given its luma Y (``ppgn.models.colour``): a
colouring is the grey image with sampled chroma, so its lightness is kept by construction.

    >>> import numpy as np
    >>> from ppgn.pipelines.colorize import colorize, load_colorizer
    >>> net = load_colorizer()
    >>> grey = np.full((16, 16), 128, np.uint8)
    >>> colorize(net, grey, num=2, seed=0).shape
    (2, 16, 16, 3)
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ..io import check_count, check_number, check_seed
from ..models import load_model
from ..models.cinn import CINN
from ..models.colour import colorize
from ..models.device import pick_device
from .outputs import MAX_NUM

DEFAULT_COLORIZER = Path(__file__).parent.parent / "weights" / "emoji" / "colorizer.safetensors"


def load_colorizer(path: str | Path = DEFAULT_COLORIZER, device: str | torch.device = "cpu") -> CINN:
    """The shipped (or a trained) colourisation cINN, frozen."""
    net = load_model(path, device, expect=CINN)
    if net.config.condition != "image" or net.config.x_shape[0] != 2:
        raise ValueError(f"{path}: not a colourisation cINN (condition {net.config.condition!r}, x_shape {net.config.x_shape})")
    return net.requires_grad_(False)


class ColorizerPipeline:
    """A shipped (or trained) colourisation cINN in a folder: diverse colourings of grey images."""

    kind = "colorizer"

    def __init__(self, folder: str | Path = DEFAULT_COLORIZER.parent, device: str | torch.device | None = None, weights: str = "colorizer"):
        self.folder = Path(folder)
        self.weights = weights
        self.device = pick_device(str(device) if device is not None else None)

    @cached_property
    def network(self) -> CINN:
        return load_colorizer(self.folder / f"{self.weights}.safetensors", self.device)

    @property
    def size(self) -> int:
        """The side of the images it colours."""
        return self.network.config.x_shape[-1]

    def colorize(self, grey: np.ndarray, num: int = 8, seed: int = 0, temperature: float = 1.0) -> np.ndarray:
        """``num`` colourings of ``grey`` (uint8 (H, W), the model's size) → uint8 (num, H, W, 3)."""
        num, seed = check_count(num, "num", high=MAX_NUM), check_seed(seed)
        temperature = check_number(temperature, "temperature", low=0, low_open=True, high=10)
        return colorize(self.network, grey, num, seed, temperature)
