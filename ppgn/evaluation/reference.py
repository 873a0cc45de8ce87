"""Reference features of real images, shipped beside the evaluator so ``ppgn eval`` runs offline.

``ppgn train evaluator`` writes ``evaluator-reference.safetensors``: the evaluator's features
of every test image and their labels. Every real-data statistic (within-class spread, feature
mean and covariance) is computed from these, never typed in.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from ..data import ImageDataset
from ..models.io import atomic_write, load_state
from .metrics import evaluator_outputs


def build_reference(evaluator: torch.nn.Module, dataset: ImageDataset, path: str | Path) -> None:
    """Save the evaluator's features (float16) and labels of ``dataset`` to ``path``."""
    features, _ = evaluator_outputs(evaluator, dataset.images[..., None])
    tensors = {"features": features.half().contiguous(), "labels": torch.from_numpy(dataset.labels).contiguous()}
    metadata = {"dataset": dataset.name, "sha256": dataset.sha256}
    atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load_reference(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """(features float64 (N, F), labels int64 (N,)) of real images."""
    state = load_state(path)
    return state["features"].double(), state["labels"].long()
