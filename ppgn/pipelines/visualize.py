"""Multifaceted feature visualisation: images that drive one hidden unit, next to real ones that do.

    >>> import ppgn
    >>> from ppgn.pipelines.visualize import target_network, visualize
    >>> pipe = ppgn.load("fashion-mnist")
    >>> vis = visualize(pipe, target_network(pipe), "fc.2:7", num=2, steps=5)
    >>> vis.activations.shape
    (2,)

The chain is PPGN's with a ``NeuronCondition`` in place of the class: the prior keeps the
images on the generator's manifold and the noise keeps chains apart, so the images show
different facets of what the unit responds to (with the ``dgn-am`` preset: no prior, no noise).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data import (
    BUILTIN,
    DataNotFoundError,
    FolderDataset,
    dataset_items,
    from_uint8,
    open_dataset,
)
from ..io import check_count, check_seed
from ..models import Classifier, load_model
from ..models.user import load_user_network
from ..sampling.neuron import (
    NeuronCondition,
    capture,
    layer_units,
    parse_neuron,
    unit_activation,
)
from .conditions import Start, calibrate
from .outputs import MAX_NUM, Visualization


def target_network(pipe, module: str | None = None, weights=None) -> nn.Module:
    """The network whose units are visualised: the shipped classifier E/C as defined (BatchNorm
    not folded, so module paths are those of its class), or a user's ``package.module:factory``."""
    if module is not None:
        return load_user_network(module, weights, pipe.device)
    if weights is not None:
        raise ValueError("--weights loads the network of --module; give --module too")
    net = load_model(pipe.folder / "classifier.safetensors", pipe.device, expect=Classifier)
    return net.requires_grad_(False)


def units_of(pipe, net: nn.Module) -> dict[str, int]:
    """``{layer: unit count}`` of ``net`` on this model's images."""
    size = pipe.classifier.config.image_size
    return layer_units(net, (pipe.classifier.config.image_channels, size, size))


@torch.no_grad()
def activations_of(net: nn.Module, layer: str, unit: int, images: torch.Tensor, spatial: str = "centre", batch: int = 1000) -> torch.Tensor:
    """The unit's activation (N,) on images (N, C, H, W) in [-1, 1], a batch at a time."""
    device = next(net.parameters()).device
    out = []
    for i in range(0, len(images), batch):
        with capture(net, layer) as box:
            net(images[i : i + batch].to(device))
        out.append(unit_activation(box["out"], unit, spatial).float().cpu())
    return torch.cat(out)


def real_images(pipe, data_dir=None, limit: int = 0) -> np.ndarray:
    """The training images of the model's dataset at its size and channels, uint8 (N, S, S, C)
    (the first ``limit`` of them, if given): where ``top_real`` looks.

    Raises:
        DataNotFoundError: the model names no dataset, or it is not on disk (one line saying where it looked).
    """
    if not pipe.dataset:
        raise DataNotFoundError(f"{pipe.folder}: the model does not name the dataset it was trained on")
    size, _, channels = pipe.image_shape
    try:
        data = open_dataset(pipe.dataset, "train", size, channels, data_dir)
    except DataNotFoundError:
        if pipe.dataset in BUILTIN:  # its message says how to install it
            raise
        raise DataNotFoundError(f"{pipe.folder} was trained on {pipe.dataset}, which is no longer an existing folder or .npz "
                                "file; the top real images are drawn from it") from None
    if limit and limit < len(data) and isinstance(data, FolderDataset):  # streamed from disk: read only what is asked
        return dataset_items(data, range(limit))
    return data.arrays()[0][: limit or None]


def top_real(net: nn.Module, layer: str, unit: int, images: np.ndarray, k: int = 9, spatial: str = "centre") -> tuple[np.ndarray, np.ndarray]:
    """Indices and activations of the ``k`` images (uint8 (N, H, W, C), or (N, H, W) grey) that drive the unit hardest."""
    acts = activations_of(net, layer, unit, from_uint8(images if images.ndim == 4 else images[..., None]), spatial)
    top = torch.topk(acts, min(k, len(acts)))
    return top.indices.numpy(), top.values.numpy()


def visualize(
    pipe,
    net: nn.Module,
    neuron: str,
    num: int = 8,
    seed: int = 0,
    preset: str = "joint-ppgn-h",
    spatial: str = "centre",
    steps: int | None = None,
    calibration: str = "match",
    progress: bool = False,
) -> Visualization:
    """Sample ``num`` images that drive ``neuron`` ("layer:unit") of ``net``.

    Raises:
        ValueError: one line naming the valid layers, or the valid units of the layer.
    """
    num, seed = check_count(num, "num", high=MAX_NUM), check_seed(seed)
    layer, unit = parse_neuron(neuron, units_of(pipe, net))
    condition = NeuronCondition(net, layer, unit, spatial)
    condition, scale = calibrate(pipe, condition, Start(num, preset, seed), calibration)
    out = pipe.sample(0, num=num, preset=preset, seed=seed, steps=steps, condition=condition, progress=progress)
    acts = activations_of(net, layer, unit, from_uint8(out.array), spatial)
    return Visualization(layer, unit, out.array, acts.numpy(), scale)


def figure(generated: np.ndarray, gen_acts: np.ndarray, real: np.ndarray, real_acts: np.ndarray, scale: int = 3):
    """The paper's figure: generated images (top row) and the top real ones (bottom), each with
    its activation written under it. Arrays are uint8 (N, H, W, C), C = 1 (a grey figure) or 3 (RGB)."""
    from PIL import Image, ImageDraw

    h, w, c = generated.shape[1:4]
    mode = "L" if c == 1 else "RGB"
    cell_w, cell_h, text_h = w * scale + 4, h * scale + 4, 14
    ncol = max(len(generated), len(real))
    canvas = Image.new(mode, (ncol * cell_w, 2 * (cell_h + text_h)), 255 if c == 1 else (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for row, (images, acts) in enumerate(((generated, gen_acts), (real, real_acts))):
        for i, (img, a) in enumerate(zip(images, acts)):
            tile = Image.fromarray(img[..., 0] if c == 1 else img, mode).resize((w * scale, h * scale), Image.NEAREST)
            x, y = i * cell_w + 2, row * (cell_h + text_h) + 2
            canvas.paste(tile, (x, y))
            draw.text((x, y + h * scale + 1), f"{a:.2f}", fill=0 if c == 1 else (0, 0, 0))
    return canvas
