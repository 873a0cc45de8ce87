"""Training throughput: images per second of a recipe on this machine, in one process or under torchrun.

    ppgn bench train --data digits --steps 40                                  # one process
    torchrun --nproc_per_node=2 -m ppgn bench train --data digits --steps 40   # two, the same global batches

The number is the global batch times the steps, over the steps' wall time (data loading
included, the first step left out as warm-up): ``Run.throughput``, which every card records too.
"""

from __future__ import annotations

import math
import tempfile

import torch

from ..data import open_dataset
from ..training import distributed
from ..training.classifier import ClassifierTrainConfig, train_classifier


def training_throughput(data: str = "digits", size: int | None = None, channels: int | None = None, steps: int = 40,
                        batch_size: int = 128, width: float = 1.0, device: str | None = None, amp: str | None = None,
                        workers: int = 0, data_dir: str | None = None) -> dict:  # fmt: skip
    """Train E/C for ``steps`` global batches of ``batch_size`` on ``data`` and time it.

    Returns:
        {"images_per_s", "processes", "threads", "steps", "batch_size", "image_shape", "device", "amp"}.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2 (the first is warm-up), got {steps}")
    train = open_dataset(data, "train", size, channels, data_dir)
    per_epoch = len(train) // batch_size
    if per_epoch == 0:
        raise ValueError(f"batch size {batch_size} is larger than the {len(train)} training images of {data}")
    per_epoch = min(per_epoch, steps)
    epochs = math.ceil(steps / per_epoch)
    config = ClassifierTrainConfig(dataset=data, size=size, channels=channels, width=width, epochs=epochs,
                                   batch_size=batch_size, train_subset=per_epoch * batch_size)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="ppgn-bench-train-") as out:
        model, card = train_classifier(config, out, data_dir, device, quiet=True, checkpoint_every=10**9, amp=amp, workers=workers)
    return {
        "images_per_s": card["metrics"].get("train_images_per_s"),
        "processes": distributed.world_size(),
        "threads": torch.get_num_threads(),
        "steps": epochs * per_epoch,
        "batch_size": batch_size,
        "image_shape": list(train.image_shape),
        "device": str(next(model.parameters()).device),
        "amp": amp,
    }
