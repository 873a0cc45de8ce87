"""What several recipes share: the checks of their configs' numbers, and codes h = E(x) of a frozen encoder.

Every training config checks its numbers in ``__post_init__`` with ``check_fields``, so the
command line and the Python API refuse the same values (NaN, ±inf, a negative count, 1e308) in
one line that names the flag, before any work; the ranges live in ``limits`` (torch-free, so the
command line checks its flags with the same):

    check_fields(self, epochs=EPOCHS, batch_size=BATCH, lr=LR, noise=NOISE, train_subset=SUBSET, seed=SEED)
"""

from __future__ import annotations

from typing import Any, Iterator

import torch

from ..data import make_loader
from ..data.datasets import CHANNELS, SIZES
from ..io import InputError, check_number
from .limits import SEED, SUBSET  # noqa: F401 - the shared names, with the bounded ones in limits

# Rules without an upper bound (the keywords of ``ppgn.io.check_number``); ``limits`` has the bounded ones.
COUNT = dict(low=1, integer=True)
POSITIVE = dict(low=0, low_open=True)
NON_NEGATIVE = dict(low=0)
OPTIONAL = dict(optional=True)  # None allowed: a default resolved later (the data's own size), e.g. SIZE | OPTIONAL

# Config fields that `ppgn train` takes as a flag of the same name: their messages name the flag.
FLAGS = frozenset({
    "size", "channels", "width", "d_width", "generator_width", "code_dim", "noise", "epochs", "classifier_epochs",
    "evaluator_epochs", "generator_epochs", "dae_epochs", "batch_size", "train_subset", "seed", "blocks", "hidden",
    "conv_blocks", "conv_hidden", "cond_features", "class_weight", "class_batch", "clamp", "lr",
})  # fmt: skip


def flag(field: str) -> str:
    """How a config field is named in a message: its `ppgn train` flag (``--batch-size``), else the field."""
    return "--" + field.replace("_", "-") if field in FLAGS else field


def check_fields(config: Any, **rules: dict) -> None:
    """Refuse, in one line naming the flag, a number of ``config`` that breaks its rule.

    Args:
        rules: field name → the keywords of ``ppgn.io.check_number`` (``COUNT``, ``POSITIVE``, ...),
            with ``optional=True`` where None is allowed. A tuple (per-scale widths) is checked item by item.
    Raises:
        InputError: NaN, ±inf, a fraction where a count is needed, or a number out of bounds.
        TypeError: not a number (a string, or None where it is not optional).
    """
    for field, rule in rules.items():
        rule = dict(rule)
        value = getattr(config, field)
        if value is None and rule.pop("optional", False):
            continue
        rule.pop("optional", None)
        for item in value if isinstance(value, (tuple, list)) else (value,):
            check_number(item, flag(field), **rule)


def check_image_shape(config: Any) -> None:
    """Refuse an image side or channel count (``size``, ``channels``; None: the data's own) the networks are not built for."""
    if config.size is not None and config.size not in SIZES:
        raise InputError(f"--size {config.size} is not a side the networks are built for; valid: {', '.join(map(str, SIZES))}")
    if config.channels is not None and config.channels not in CHANNELS:
        raise InputError(f"--channels {config.channels} is not supported; valid: 1 (grey), 3 (RGB)")


@torch.no_grad()
def encode_batches(encoder: torch.nn.Module, data, workers: int = 0, batch: int = 500) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(h1, h) = E(x) for the items of ``data`` (a torch dataset of (x, y)), a batch at a time,
    streamed, on the encoder's device."""
    encoder.eval()
    device = next(encoder.parameters()).device
    for x, _ in make_loader(data, batch_size=batch, num_workers=workers):
        yield encoder.encode(x.to(device))


def encode_dataset(encoder: torch.nn.Module, data, workers: int = 0, batch: int = 500) -> torch.Tensor:
    """h = E(x) for every item of ``data``, on the CPU: (N, D)."""
    return torch.cat([h.cpu() for _, h in encode_batches(encoder, data, workers, batch)])


def encode_all(encoder: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """h = E(x) for images already in memory (N, C, H, W), on the CPU: (N, D)."""
    return encode_dataset(encoder, torch.utils.data.TensorDataset(images, torch.zeros(len(images))), batch=1000)


def encoded_sets(config, run, data_dir: str | None = None) -> tuple[int, torch.Tensor, torch.Tensor, str]:
    """What a prior on h learns from: the frozen encoder ``config.classifier``'s codes of the train and
    test sets of ``config.dataset``, (N, D) on the CPU, with the run's step count and the train set's
    fingerprint. The count is asked first, so a set smaller than one batch is refused before any encoding."""
    from ..data import load_dataset, to_tensor
    from ..models import Classifier, load_model

    encoder = load_model(config.classifier, run.device, expect=Classifier)
    train, test = load_dataset(config.dataset, "train", data_dir), load_dataset(config.dataset, "test", data_dir)
    steps = run.total_steps(len(train.images))
    return steps, encode_all(encoder, to_tensor(train.images)), encode_all(encoder, to_tensor(test.images)), train.sha256
