"""The cINN pipeline: class-conditional sampling, likelihoods and style transfer with one network.

    >>> import ppgn
    >>> pipe = ppgn.load("mnist-cinn")
    >>> out = pipe.sample(7, num=2, seed=0, temperature=0.8)
    >>> out.array.shape
    (2, 28, 28, 1)

Sampling is one inverse pass, x = f⁻¹(T·z; c) with z ~ N(0, I): no chain. ``prob`` is the
network's own exact class posterior p(c | x) = p(x | c) / Σ_c' p(x | c') (uniform class prior).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from ..data import ImageDataset, load_dataset, parse_class
from ..io import check_count, check_number, check_seed
from ..models import load_model
from ..models.cinn import CINN, evaluate_bits_per_dim, flow_to_pixels, pixels_to_flow
from ..models.device import pick_device
from .outputs import MAX_NUM, Samples, class_labels


def to_uint8_pixels(y: torch.Tensor) -> np.ndarray:
    """y ∈ [0, 1], (N, C, H, W) → uint8 (N, H, W, C): the 8-bit cell y falls in."""
    u = (y * 256).floor().clamp(0, 255).to(torch.uint8)
    return u.permute(0, 2, 3, 1).cpu().numpy()


def light_on_dark(pixels: np.ndarray) -> np.ndarray:
    """uint8 (H, W) as MNIST draws digits, light strokes on a dark page: inverted if its border is light."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return 255 - pixels if border.mean() > 127 else pixels


class CINNPipeline:
    """A shipped (or user-trained) class-conditional cINN: ``cinn.safetensors`` in a folder."""

    kind = "cinn"

    def __init__(self, folder: str | Path, classes: tuple[str, ...], device: str | torch.device | None = None,
                 weights: str = "cinn", dataset: str | None = None):
        self.folder = Path(folder)
        self.classes = tuple(classes)
        self.weights = weights  # the stem of the weights file in ``folder``
        self.dataset = dataset  # what it was trained on: the test set of ``bits_per_dim``
        self.device = pick_device(str(device) if device is not None else None)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of its images, as in the ``.npz`` contract."""
        c, h, w = self.network.config.x_shape
        return (h, w, c)

    @cached_property
    def network(self) -> CINN:
        """The flow f(x; c), frozen."""
        return load_model(self.folder / f"{self.weights}.safetensors", self.device, expect=CINN).requires_grad_(False)

    @torch.no_grad()
    def class_posterior(self, x: torch.Tensor, chunk: int = 32) -> torch.Tensor:
        """p(c | x) for every class, (N, K), from the exact likelihoods log p(x | c).

        ``chunk`` images at a time: each costs K passes, and a smaller working set runs faster.
        """
        return torch.cat([self.network.log_prob_all_classes(part) for part in x.split(chunk)]).softmax(1)

    @torch.no_grad()
    def sample(self, class_, num: int = 16, seed: int = 0, temperature: float = 1.0, denoise: bool = True, batch: int = 512) -> Samples:
        """``num`` images of a class (name, index, or one index per sample) at latent temperature T.

        A network trained with Gaussian dequantisation models noisy images; with ``denoise`` its
        samples lose that noise by Tweedie's formula (``CINN.denoise``; nothing to do otherwise).

        Returns:
            Samples with ``h`` = the latent codes z (N, D) and an empty ``prob_per_step``.
        """
        # 1. Check inputs.
        num, seed = check_count(num, "num", high=MAX_NUM), check_seed(seed)
        temperature = check_number(temperature, "temperature", low=0, low_open=True, high=10)
        batch = check_count(batch, "batch")
        labels = class_labels(class_, num, self.classes)
        # 2. Draw z on the CPU (the same images on any device) and invert the flow.
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(num, self.network.config.dims, generator=gen) * temperature
        alpha = self.network.config.logit_alpha
        xs, probs = [], []
        for i in range(0, num, batch):
            c = labels[i : i + batch].to(self.device)
            x = self.network(z[i : i + batch].to(self.device), c, rev=True, jac=False)[0]
            if denoise:
                x = self.network.denoise(x, c)
            xs.append(x)
            probs.append(self.class_posterior(x).gather(1, c[:, None]).squeeze(1))
        # 3. Output: back to 8-bit pixels.
        x = torch.cat(xs)
        return Samples(
            array=to_uint8_pixels(flow_to_pixels(x, alpha)),
            labels=labels.numpy(),
            prob=torch.cat(probs).float().cpu().numpy(),
            h=z,
            prob_per_step=torch.empty(0, num),
        )

    @torch.no_grad()
    def transfer(self, pixels: np.ndarray, from_class) -> Samples:
        """Style transfer (the paper's figure): z = f(x; c_from), then x' = f⁻¹(z; c) for every class c.

        Decoded images are denoised as samples are (``CINN.denoise``).

        Args:
            pixels: uint8 (H, W), the model's size.
        """
        src = parse_class(from_class, self.classes)
        net = self.network
        if net.config.condition != "class":
            raise ValueError(f"{self.folder}: style transfer needs a class-conditional cINN, not one conditioned on {net.config.condition!r}")
        u = torch.as_tensor(np.asarray(pixels, np.float32))[None, None].to(self.device)
        x, _ = pixels_to_flow(u, torch.full_like(u, 0.5), net.config.logit_alpha)  # cell centres
        z, _ = net(x, torch.tensor([src], device=self.device))
        k = len(self.classes)
        targets = torch.arange(k, device=self.device)
        out = net.denoise(net(z.expand(k, -1), targets, rev=True, jac=False)[0], targets)
        return Samples(
            array=to_uint8_pixels(flow_to_pixels(out, net.config.logit_alpha)),
            labels=targets.cpu().numpy(),
            prob=self.class_posterior(out).diagonal().float().cpu().numpy(),
            h=z.cpu(),
            prob_per_step=torch.empty(0, k),
        )

    def bits_per_dim(self, data: ImageDataset | None = None, data_dir: str | Path | None = None) -> float:
        """Mean bits/dim of ``data`` (default: the test split of the training dataset), with uniform
        dequantisation (one draw, seed 0): an upper bound on the discrete model's −log₂ P(x) / D."""
        if data is None:
            if self.dataset is None:
                raise ValueError(f"{self.folder}: the model does not name its dataset; pass the images to score")
            data = load_dataset(self.dataset, "test", data_dir)
        return evaluate_bits_per_dim(self.network, data.images, data.labels)
