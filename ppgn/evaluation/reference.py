"""Real images as references: the evaluator's shipped features of the test set (so ``ppgn eval``
runs offline), and real images in the samples contract (the floor every metric can reach).

``ppgn train evaluator`` writes ``evaluator-reference.safetensors``: the evaluator's features
of every test image and their labels. Every real-data statistic (within-class spread, feature
mean and covariance) is computed from these, never typed in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data import DataNotFoundError, dataset_items, from_uint8, open_dataset
from ..models.io import WeightsError, load_state
from ..pipelines import Samples


def load_reference(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(features float64 (N, F), labels int64 (N,)) of real images.

    Raises:
        WeightsError: a missing or corrupt file, or one without features (N, F) and labels (N,).
    """
    state = load_state(path)
    features, labels = state.get("features"), state.get("labels")
    if features is None or labels is None or features.dim() != 2 or labels.shape != (len(features),) or len(features) < 2:
        raise WeightsError(f"{path}: not an evaluator reference: it needs 'features' (N, F) and 'labels' (N,), N >= 2; "
                           "remake it with 'ppgn train evaluator'")
    if labels.is_floating_point() or not torch.isfinite(features.float()).all():
        raise WeightsError(f"{path}: not an evaluator reference: non-finite features or non-integer labels")
    return features.double(), labels.long()


@torch.no_grad()
def real_samples(pipe, num: int, split: str = "train", seed: int = 0, data_dir: str | Path | None = None) -> Samples:
    """``num`` real images of every class of the pipeline's dataset (at its image size and channels),
    as samples: ``prob`` is the pipeline's own probability of the true class (E/C for a PPGN, the
    exact posterior of a cINN).

    Raises:
        DataNotFoundError: the dataset is not installed (the message says how to get it).
        ValueError: ``num`` larger than the smallest class of the split, or a model without classes.
    """
    kind = getattr(pipe, "kind", None)
    if kind not in ("ppgn", "cinn"):  # a colourisation model has no classes and no labelled dataset
        raise ValueError(f"{pipe.folder} holds a {kind} model: it has no classes to draw real images of; give a ppgn or cinn model")
    if pipe.dataset is None:
        raise DataNotFoundError(f"{pipe.folder}: the model does not name the dataset it was trained on")
    size, _, channels = pipe.image_shape
    data = open_dataset(pipe.dataset, split, size, channels, data_dir)
    all_labels = np.asarray(data.labels)
    if len(data.classes) != len(pipe.classes):
        raise ValueError(f"{pipe.dataset} has {len(data.classes)} classes, the model {len(pipe.classes)}: not the data it was trained on")
    rng = np.random.default_rng(seed)
    smallest = int(np.bincount(all_labels, minlength=len(pipe.classes)).min())
    if not 0 < num <= smallest:
        raise ValueError(f"--num must be in 1..{smallest} for the {split} split, got {num}")
    idx = np.concatenate([rng.choice(np.flatnonzero(all_labels == k), num, replace=False) for k in range(len(pipe.classes))])
    images = dataset_items(data, idx)  # uint8 (N, S, S, C)
    labels = torch.from_numpy(all_labels[idx])
    if pipe.kind == "cinn":
        from ..models.cinn import pixels_to_flow

        pixels = torch.from_numpy(images).float().permute(0, 3, 1, 2).contiguous().to(pipe.device)
        x, _ = pixels_to_flow(pixels, torch.full_like(pixels, 0.5), pipe.network.config.logit_alpha)
        posterior = pipe.class_posterior(x)
    else:
        posterior = pipe.classifier(from_uint8(images).to(pipe.device)).softmax(1)
    prob = posterior.gather(1, labels.to(pipe.device)[:, None]).squeeze(1).float().cpu().numpy()
    return Samples(images, labels.numpy(), prob, torch.empty(0), torch.empty(0, len(idx)))
