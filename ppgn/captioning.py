"""Wiring captions to a pipeline: the shipped captioner, and the condition a sentence gives.

    >>> import ppgn
    >>> from ppgn.captioning import caption_condition
    >>> condition, label = caption_condition(ppgn.load("fashion-mnist"), "a small dark bag")
    >>> label
    8
"""

from __future__ import annotations

from .data.captions import encode, parse_caption
from .models import Captioner, load_model
from .sampling.caption import CaptionCondition

_CACHE: dict[tuple[str, str], Captioner] = {}


def load_captioner(pipe) -> Captioner:
    """The captioner shipped beside the pipeline's weights (``captioner.safetensors``), frozen."""
    key = (str(pipe.folder), str(pipe.device))
    if key not in _CACHE:
        net = load_model(pipe.folder / "captioner.safetensors", pipe.device, expect=Captioner)
        _CACHE[key] = net.requires_grad_(False)
    return _CACHE[key]


def caption_condition(pipe, sentence: str) -> tuple[CaptionCondition, int]:
    """The condition log p(sentence | x) and the class index the sentence names.

    Raises:
        ValueError: an empty caption, an unknown word (naming the nearest known words), or a
            caption that names no class or several.
    """
    captioner = load_captioner(pipe)
    encode(sentence, captioner.config.vocab)  # word errors first: they name the nearest words
    label, _, _ = parse_caption(sentence)
    features = None
    if captioner.config.input == "code":  # it reads h = E(x), as the paper's LRCN read CaffeNet features
        features = lambda x: pipe.classifier.encode(x)[1]  # noqa: E731
    return CaptionCondition(captioner, sentence, features), label
