"""Pipelines: a model folder's networks wired to the sampler, ready to use.

    >>> import ppgn
    >>> pipe = ppgn.load("fashion-mnist")        # a shipped name, or a folder trained by ppgn train
    >>> pipe.sample("bag", num=2, seed=0, steps=5).labels.tolist()
    [8, 8]

``load`` reads the folder's ``manifest.json`` (``registry``) and returns the pipeline of its kind:
``PPGNPipeline`` (``ppgn.py``), ``CINNPipeline`` (``cinn.py``) or ``ColorizerPipeline``
(``colorize.py``). The tasks built on a PPGN are functions of a pipeline: ``conditions`` (composed
conditions, captions, user networks and their calibration), ``inpaint``, ``visualize``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .cinn import CINNPipeline
from .colorize import ColorizerPipeline
from .outputs import MAX_NUM, Samples
from .ppgn import PPGNPipeline
from .registry import ModelEntry, model_names, resolve

__all__ = ["CINNPipeline", "ColorizerPipeline", "MAX_NUM", "ModelEntry", "PPGNPipeline", "Samples", "load", "model_names"]


def load(model: str | Path, device: str | torch.device | None = None) -> PPGNPipeline | CINNPipeline | ColorizerPipeline:
    """The pipeline of a shipped model (by name, see ``model_names()``) or of a model folder.

    Raises:
        WeightsError: an unknown name (naming the valid ones), or a folder that describes no model.
    """
    entry = resolve(model)
    if entry.kind == "cinn":
        return CINNPipeline(entry.folder, entry.classes, device, weights=entry.weights, dataset=entry.dataset)
    if entry.kind == "colorizer":
        return ColorizerPipeline(entry.folder, device, weights=entry.weights)
    return PPGNPipeline(entry.folder, entry.classes, device, dataset=entry.dataset)
