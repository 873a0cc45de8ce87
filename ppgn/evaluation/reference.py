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

from ..data import DataNotFoundError, load_dataset, to_tensor
from ..models.io import load_state
from ..pipelines import Samples


def load_reference(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(features float64 (N, F), labels int64 (N,)) of real images."""
    state = load_state(path)
    return state["features"].double(), state["labels"].long()


@torch.no_grad()
def real_samples(pipe, num: int, split: str = "train", seed: int = 0, data_dir: str | Path | None = None) -> Samples:
    """``num`` real images of every class of the pipeline's dataset, as samples: ``prob`` is the
    pipeline's own probability of the true class (E/C for a PPGN, the exact posterior of a cINN).

    Raises:
        DataNotFoundError: the dataset is not installed (the message says how to get it).
        ValueError: ``num`` larger than the smallest class of the split.
    """
    if pipe.dataset is None:
        raise DataNotFoundError(f"{pipe.folder}: the model does not name the dataset it was trained on")
    data = load_dataset(pipe.dataset, split, data_dir)
    rng = np.random.default_rng(seed)
    smallest = int(np.bincount(data.labels).min())
    if not 0 < num <= smallest:
        raise ValueError(f"--num must be in 1..{smallest} for the {split} split, got {num}")
    idx = np.concatenate([rng.choice(np.flatnonzero(data.labels == k), num, replace=False) for k in range(len(data.classes))])
    images, labels = data.images[idx], torch.from_numpy(data.labels[idx])
    if pipe.kind == "cinn":
        from ..models.cinn import pixels_to_flow

        pixels = torch.from_numpy(images).float()[:, None].to(pipe.device)
        x, _ = pixels_to_flow(pixels, torch.full_like(pixels, 0.5), pipe.network.config.logit_alpha)
        posterior = pipe.class_posterior(x)
    else:
        posterior = pipe.classifier(to_tensor(images).to(pipe.device)).softmax(1)
    prob = posterior.gather(1, labels.to(pipe.device)[:, None]).squeeze(1).float().cpu().numpy()
    return Samples(images[..., None], labels.numpy(), prob, torch.empty(0), torch.empty(0, len(idx)))
