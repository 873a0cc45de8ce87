"""A sentence as a condition: log p(sentence | x) = Σ_t log p(w_t | w_<t, x) under a captioner.

The paper's image-captioning condition (§3.3, an LRCN model); here the captioner is any network
with ``encode(sentence) -> (1, T)`` word indices and ``log_prob(x, ids) -> (B,)``, such as
``ppgn.models.Captioner``.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .conditions import Condition


class CaptionCondition(Condition):
    """log p(sentence | x) under ``captioner``.

    Args:
        captioner: has ``encode(sentence) -> (1, T)`` and ``log_prob(x, ids (1, T)) -> (B,)``.
        sentence: the caption, e.g. "a small dark bag".
        features: what the captioner reads, computed from x (e.g. h = E(x)); None = x itself.

    Raises:
        ValueError: an empty caption, or a word outside the captioner's vocabulary (naming the
            nearest known words).
    """

    def __init__(self, captioner: nn.Module, sentence: str, features: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.captioner, self.sentence, self.features = captioner, sentence, features
        self.ids = captioner.encode(sentence)  # (1, T)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.captioner.log_prob(x if self.features is None else self.features(x), self.ids)

    def __repr__(self) -> str:
        return f"CaptionCondition({self.sentence!r})"
