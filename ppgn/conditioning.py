"""Wiring plug & play conditions to a pipeline: composition, user networks, calibration.

    >>> import ppgn
    >>> from ppgn.conditioning import compose
    >>> pipe = ppgn.load("fashion-mnist")
    >>> condition, labels = compose(pipe, num=4, class_="bag", not_class="sneaker")
    >>> labels.tolist()
    [8, 8, 8, 8]

Every term other than the shipped classifier's class condition (a user's network, a caption,
a hidden unit) is calibrated by default: scaled so that its mean |∇h| at the chains' starting
codes equals that of the shipped class condition, whose ε's the presets tuned. Its weight then
means what a class's weight means (1 = as strong as a class, −1 = NOT), with no tuning.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .data import parse_class
from .sampling import ClassCondition, get_preset
from .sampling.conditions import Condition, ConditionLike, SumCondition
from .sampling.network import calibration_scale, check_logits, load_user_network  # noqa: F401 (re-exported)


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


def calibrate(pipe, condition: ConditionLike, start: Start) -> tuple[Condition, float]:
    """``s·condition`` with s chosen so its mean |∇h| at the starting codes is the reference's.

    Returns:
        the scaled condition and s.
    """
    G = pipe.generator(get_preset(start.preset).generator)
    h0 = pipe.initial_codes(start.num, start.init, torch.Generator().manual_seed(start.seed))  # the chains' own start
    scale = calibration_scale(condition, reference_condition(pipe, start.num), G, h0)
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
    calibrated: bool = True,
) -> tuple[Condition, torch.Tensor]:
    """Σ of the conditions asked for, and the (num,) labels the samples are filed under.

    Labels are the class asked for; else the class the caption names; else the user network's
    target. Raises ValueError (one line) for bad input.
    """
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
        from .captioning import caption_condition

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
        terms.append((weight, calibrate(pipe, condition, start)[0] if calibrated else condition))
    if label is None:
        raise ValueError("--not-class needs something to move towards: add --class, --caption or --condition-module")
    return SumCondition(terms), torch.full((num,), int(label), dtype=torch.long)
