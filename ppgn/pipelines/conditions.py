"""Wiring plug & play conditions to a pipeline: composition, captions, user networks, calibration.

    >>> import ppgn
    >>> from ppgn.pipelines.conditions import compose
    >>> pipe = ppgn.load("fashion-mnist")
    >>> condition, labels = compose(pipe, num=4, class_="bag", not_class="sneaker")
    >>> labels.tolist()
    [8, 8, 8, 8]

Every term other than the shipped classifier's class condition (a user's network, a caption)
is calibrated (``CALIBRATIONS``): its gradient is compared with the shipped class condition's,
whose ε's the presets tuned, by the mean |∇h| at the chains' starting codes.

  "up" (default)  scale a weaker gradient up to the reference, leave a stronger one alone.
                  A log-probability's gradient fades by itself once the condition holds
                  (∇ log p → 0 as p → 1), so a strong one is self-limiting, while a weak one
                  never gets the condition to hold: the failure of official issue #11.
  "match"         scale to the reference either way (used for hidden units, whose activation
                  does not saturate, so a strong gradient would swamp the prior).
  "off"           leave the term as it is.

Measured on four networks of three gradient scales (``ppgn bench networks``, docs/conditions.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import parse_class
from ..data.captions import parse_caption
from ..io import InputError, check_choice, check_number
from ..models.user import check_logits, load_user_network
from ..sampling import CaptionCondition, ClassCondition, get_preset
from ..sampling.calibration import calibration_scale
from ..sampling.conditions import Condition, ConditionLike, SumCondition


@dataclass(frozen=True)
class Start:
    """Where the chains start and which generator they use: what calibration must measure at."""

    num: int
    preset: str = "joint-ppgn-h"
    seed: int = 0
    init: str | torch.Tensor = "gaussian"


def reference_condition(pipe, num: int) -> ClassCondition:
    """The shipped classifier's class condition, chain i asking for class i mod K: a typical
    class gradient, the scale the presets' ε's were tuned for."""
    targets = torch.arange(num, device=pipe.device) % len(pipe.classes)
    return ClassCondition(pipe.classifier, targets)


CALIBRATIONS = ("up", "match", "off")
MAX_WEIGHT = 1e6  # a term's weight, either sign (negative: NOT); beyond, the step only overflows


def calibrate(pipe, condition: ConditionLike, start: Start, mode: str = "up") -> tuple[Condition, float]:
    """``s·condition``, s from the ratio of the reference's mean |∇h| to the condition's at the
    starting codes: "match" uses the ratio, "up" max(1, ratio), "off" 1.

    Returns:
        the scaled condition and s.
    """
    if mode not in CALIBRATIONS:
        raise ValueError(f"unknown calibration {mode!r}; valid: {', '.join(CALIBRATIONS)}")
    scale = 1.0
    if mode != "off":
        pipe.check_preset(start.preset)
        G = pipe.generator(get_preset(start.preset).generator)
        h0 = pipe.initial_codes(start.num, start.init, torch.Generator().manual_seed(start.seed))  # the chains' own start
        scale = calibration_scale(condition, reference_condition(pipe, start.num), G, h0)
        scale = max(1.0, scale) if mode == "up" else scale
    return SumCondition([(scale, condition)]), scale


def user_condition(pipe, module: str, weights=None, target: int = 0) -> ClassCondition:
    """A user's network (``package.module:factory`` returning logits) asking for class ``target``."""
    net = load_user_network(module, weights, pipe.device)
    size = pipe.classifier.config.image_size
    check_logits(net, target, (pipe.classifier.config.image_channels, size, size), pipe.device)
    return ClassCondition(net, target)


def compose(
    pipe,
    num: int,
    class_: str | int | None = None,
    not_class: str | int | None = None,
    caption: str | None = None,
    caption_weight: float = 1.0,
    module: str | None = None,
    weights=None,
    target: int | None = None,
    module_weight: float = 1.0,
    start: Start | None = None,
    calibration: str = "up",
) -> tuple[Condition, torch.Tensor]:
    """Σ of the conditions asked for, and the (num,) labels the samples are filed under.

    Labels are the class asked for; else the class the caption names; else the user network's
    target. Raises ValueError (one line) for bad input.
    """
    check_choice(calibration, "calibration", CALIBRATIONS)
    caption_weight = check_number(caption_weight, "--caption-weight", low=-MAX_WEIGHT, high=MAX_WEIGHT)
    module_weight = check_number(module_weight, "module_weight", low=-MAX_WEIGHT, high=MAX_WEIGHT)
    if weights is not None and module is None:
        raise InputError("--weights loads the network of --condition-module; give --condition-module too")
    if class_ is not None and not_class is not None and parse_class(class_, pipe.classes) == parse_class(not_class, pipe.classes):
        raise InputError(f"--class and --not-class name the same class ({pipe.classes[parse_class(class_, pipe.classes)]}): nothing to sample")
    start = start or Start(num)
    terms: list[tuple[float, ConditionLike]] = []
    label = None
    if class_ is not None:
        label = parse_class(class_, pipe.classes)
        terms.append((1.0, ClassCondition(pipe.classifier, label)))
    if not_class is not None:
        terms.append((-1.0, ClassCondition(pipe.classifier, parse_class(not_class, pipe.classes))))
    plugged: list[tuple[float, ConditionLike]] = []
    if caption is not None:
        condition, named = caption_condition(pipe, caption)
        plugged.append((caption_weight, condition))
        label = named if label is None else label
    if module is not None:
        if target is None:
            raise ValueError("--condition-module needs --target, the class index its logits should favour")
        plugged.append((module_weight, user_condition(pipe, module, weights, target)))
        label = target if label is None else label
    elif target is not None:
        raise ValueError("--target needs --condition-module (use --class for the shipped classifier)")
    if not terms and not plugged:
        raise ValueError("no condition given; use --class, --caption and/or --condition-module")
    for weight, condition in plugged:
        terms.append((weight, calibrate(pipe, condition, start, calibration)[0]))
    if label is None:
        raise ValueError("--not-class needs something to move towards: add --class, --caption or --condition-module")
    return SumCondition(terms), torch.full((num,), int(label), dtype=torch.long)


def caption_condition(pipe, sentence: str) -> tuple[CaptionCondition, int]:
    """The condition log p(sentence | x) and the class index the sentence names.

    Raises:
        ValueError: an empty caption, an unknown word (naming the nearest known words), or a
            caption that names no class or several.
    """
    captioner = pipe.captioner
    captioner.encode(sentence)  # word errors first: they name the nearest words
    label, _, _ = parse_caption(sentence)
    features = None
    if captioner.config.input == "code":  # it reads h = E(x), as the paper's LRCN read CaffeNet features
        features = lambda x: pipe.classifier.encode(x)[1]  # noqa: E731
    return CaptionCondition(captioner, sentence, features), label
