"""Captions for Fashion-MNIST: a class word plus attributes measured from the pixels.

Attributes (measured, so their truth in a sample can be checked the same way):
  brightness  the mean grey level of the item's pixels (those above ``INK``): "dark" below the
              class's lower tertile, "light" above its upper tertile, unnamed in between;
  size        the fraction of the image the item covers: "small" / "large", same tertile rule.
Tertiles are per class (a "small coat" is small for a coat), fitted on the training set and
stored in the captioner's config, so a model carries the meaning of its words.

    >>> tokens("a small dark bag")
    ['a', 'small', 'dark', 'bag']
    >>> parse_caption("a small dark bag")
    (8, 'dark', 'small')
"""

from __future__ import annotations

import difflib
import re

import numpy as np

CLASS_WORDS = ("t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot")
BRIGHTNESS, SIZE = ("dark", "light"), ("small", "large")
TEMPLATES = (
    "a {c}",
    "a {b} {c}",
    "a {s} {c}",
    "a {s} {b} {c}",
    "a {c} that is {b}",
    "a {c} that is {s} and {b}",
)
SPECIALS = ("<pad>", "<bos>", "<eos>")
INK = 25  # a pixel brighter than this (of 255) belongs to the item


def vocabulary() -> tuple[str, ...]:
    """Every word the captions use, after the three special tokens."""
    words = {w for t in TEMPLATES for w in t.split() if not w.startswith("{")}
    words |= set(BRIGHTNESS) | set(SIZE) | {w for c in CLASS_WORDS for w in c.split()}
    return SPECIALS + tuple(sorted(words))


def measure(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, H, W) → (brightness (N,) in [0, 1], size (N,) in [0, 1])."""
    ink = images > INK
    area = ink.mean(axis=(1, 2))
    brightness = (images * ink).sum(axis=(1, 2)) / np.maximum(ink.sum(axis=(1, 2)), 1) / 255.0
    return brightness, area


def fit_thresholds(images: np.ndarray, labels: np.ndarray, num_classes: int) -> tuple[tuple[float, float, float, float], ...]:
    """Per class: (brightness lower, upper tertile, size lower, upper tertile)."""
    brightness, size = measure(images)
    out = []
    for k in range(num_classes):
        b, s = brightness[labels == k], size[labels == k]
        out.append(tuple(round(float(v), 5) for v in (*np.quantile(b, [1 / 3, 2 / 3]), *np.quantile(s, [1 / 3, 2 / 3]))))
    return tuple(out)


def attribute_words(images: np.ndarray, labels: np.ndarray, thresholds) -> tuple[list[str | None], list[str | None]]:
    """The brightness and size words that hold for each image (None: neither extreme)."""
    brightness, size = measure(images)
    t = np.asarray(thresholds)[labels]  # (N, 4)
    b_words = [BRIGHTNESS[0] if b < lo else BRIGHTNESS[1] if b > hi else None for b, lo, hi in zip(brightness, t[:, 0], t[:, 1])]
    s_words = [SIZE[0] if s < lo else SIZE[1] if s > hi else None for s, lo, hi in zip(size, t[:, 2], t[:, 3])]
    return b_words, s_words


def make_caption(label: int, b_word: str | None, s_word: str | None, choice: int) -> str:
    """The ``choice``-th (mod the number that fit) template whose attributes are available."""
    fits = [t for t in TEMPLATES if ("{b}" not in t or b_word) and ("{s}" not in t or s_word)]
    return fits[choice % len(fits)].format(c=CLASS_WORDS[label], b=b_word, s=s_word)


def tokens(sentence: str) -> list[str]:
    """Lower-case words; punctuation other than '-' separates words and is dropped."""
    return re.findall(r"[a-z0-9][a-z0-9-]*", sentence.lower())


def encode(sentence: str, vocab: tuple[str, ...]) -> list[int]:
    """<bos> w1 … wT <eos> as indices.

    Raises:
        ValueError: an empty caption, or a word outside ``vocab`` (naming the nearest known words).
    """
    words = tokens(sentence)
    if not words:
        raise ValueError(f"empty caption {sentence!r}; try e.g. 'a small dark bag'")
    known = [w for w in vocab if w not in SPECIALS]
    for w in words:
        if w not in vocab or w in SPECIALS:
            near = difflib.get_close_matches(w, known, n=3, cutoff=0.5)
            hint = f"nearest known words: {', '.join(near)}" if near else f"known words: {', '.join(known)}"
            raise ValueError(f"unknown word {w!r} in caption; {hint}")
    index = {w: i for i, w in enumerate(vocab)}
    return [index["<bos>"], *(index[w] for w in words), index["<eos>"]]


def parse_caption(sentence: str) -> tuple[int, str | None, str | None]:
    """(class index, brightness word or None, size word or None) that a caption names.

    Raises:
        ValueError: a caption that names no class, or more than one.
    """
    text = " " + " ".join(tokens(sentence)) + " "
    named = [k for k, c in enumerate(CLASS_WORDS) if f" {c} " in text]
    if len(named) != 1:
        what = "no class" if not named else f"{len(named)} classes ({', '.join(CLASS_WORDS[k] for k in named)})"
        raise ValueError(f"caption {sentence.strip()!r} names {what}; name one of: {', '.join(CLASS_WORDS)}")
    words = set(tokens(sentence))
    b = [w for w in BRIGHTNESS if w in words]
    s = [w for w in SIZE if w in words]
    if len(b) > 1 or len(s) > 1:
        raise ValueError(f"caption {sentence.strip()!r} names contradictory attributes: {', '.join(b + s)}")
    return named[0], (b[0] if b else None), (s[0] if s else None)
