"""The captioner: an LRCN-style encoder and GRU decoder giving log p(sentence | x).

    log p(w_1 … w_T | x) = Σ_t log p(w_t | w_<t, x)

The input's features initialise the GRU's state and are fed again at every step (as LRCN does),
so every word's probability depends on the pixels; the gradient of the sum with respect to x is
what the caption condition feeds the sampler.

The input is either the image (``input="image"``: a small CNN of its own) or, as in the paper,
whose LRCN read CaffeNet's features, the code h = E(x) of the pipeline's frozen encoder
(``input="code"``: the caller passes h, and gradients flow back to x through E).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.captions import encode
from .io import register_model


@dataclass(frozen=True)
class CaptionerConfig:
    vocab: tuple[str, ...] = ()  # index → word; 0 = <pad>, 1 = <bos>, 2 = <eos>
    input: str = "image"  # "image": x (B, C, H, W); "code": h = E(x) (B, code_dim)
    code_dim: int = 256
    image_channels: int = 1
    image_size: int = 28
    channels: tuple[int, int] = (16, 32)
    features: int = 64  # image feature size
    embed: int = 32  # word embedding size
    hidden: int = 128  # GRU state size
    # Per class: brightness lower/upper tertile, size lower/upper tertile (what "dark", "small" mean).
    thresholds: tuple = ()


class Captioner(nn.Module):
    """x (B, C, H, W) in [-1, 1] (or h (B, D)) and words → next-word logits; ``log_prob`` sums a sentence."""

    def __init__(self, config: CaptionerConfig = CaptionerConfig()):
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        side = config.image_size // 4
        if config.input not in ("image", "code"):
            raise ValueError(f"unknown captioner input {config.input!r}; valid: image, code")
        if config.input == "code":
            self.encoder = nn.Sequential(nn.Linear(config.code_dim, config.features), nn.ReLU())  # (B, D) → (B, features)
        else:
            self.encoder = nn.Sequential(  # (B, C, H, W) → (B, features)
                nn.Conv2d(config.image_channels, c1, 3, stride=2, padding=1), nn.ReLU(),  # H/2
                nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # H/4
                nn.Flatten(),
                nn.Linear(c2 * side * side, config.features), nn.ReLU(),
            )  # fmt: skip
        self.init_state = nn.Linear(config.features, config.hidden)
        self.embed = nn.Embedding(len(config.vocab), config.embed)
        self.gru = nn.GRU(config.embed + config.features, config.hidden, batch_first=True)
        self.out = nn.Linear(config.hidden, len(config.vocab))

    def forward(self, x: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) of the word after each of ``words`` (B, T) (teacher forcing)."""
        f = self.encoder(x)  # (B, features)
        inputs = torch.cat([self.embed(words), f[:, None].expand(-1, words.shape[1], -1)], 2)  # (B, T, E + F)
        states, _ = self.gru(inputs, torch.tanh(self.init_state(f))[None])  # (B, T, hidden)
        return self.out(states)

    def encode(self, sentence: str) -> torch.Tensor:
        """A caption as word indices (1, T), <bos> … <eos>, on the network's device.

        Raises:
            ValueError: an empty caption, or a word outside the vocabulary (naming the nearest known words).
        """
        device = next(self.parameters()).device
        return torch.tensor([encode(sentence, self.config.vocab)], device=device)

    def log_prob(self, x: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Σ_t log p(w_t | w_<t, x) per image, (B,), for ``sentence`` (B or 1, T) = <bos> … <eos>, 0-padded."""
        sentence = sentence.expand(len(x), -1)
        logits = self(x, sentence[:, :-1])  # predict words 1..T-1 from 0..T-2
        target = sentence[:, 1:]
        log_p = -F.cross_entropy(logits.transpose(1, 2), target, reduction="none")  # (B, T-1)
        return (log_p * (target != 0)).sum(1)


register_model(Captioner, CaptionerConfig)
