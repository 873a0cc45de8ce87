"""The one validation layer: every value that comes from outside (a flag, an argument of the
Python API, a path to write, a JSON file) passes one of these before any work is done.

Each check returns the value it accepts (so callers write ``n = check_count(n, "--num")``) or
raises ``InputError`` (a ``ValueError``) or ``TypeError`` with one line that names the argument
and says what is valid. NaN and infinities fail every number check: a comparison such as
``value < 0`` is False for NaN, so "not (value >= low)" is how the bounds are written here.

    >>> check_number(0.5, "--eps1", low=0)
    0.5
    >>> check_number(float("nan"), "--eps1", low=0)
    Traceback (most recent call last):
    ...
    ppgn.io.checks.InputError: --eps1 must be a finite number >= 0, got nan
"""

from __future__ import annotations

import json
import math
import numbers
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed takes 64-bit seeds; keep them non-negative


class InputError(ValueError):
    """A value from the user that cannot be used; the message names it and what is valid."""


def _bounds(low, high, low_open: bool, high_open: bool) -> str:
    low, high = (None if b is None else _Shown(b) for b in (low, high))
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high:g}"
    return ""


class _Shown(float):
    """A bound as people write it: 0, 0.5, 1e+06; integers in full (a seed's 2**63-1)."""

    def __new__(cls, value):
        shown = super().__new__(cls, value)
        shown.exact = value
        return shown

    def __format__(self, spec: str) -> str:
        return str(self.exact) if isinstance(self.exact, int) else format(float(self.exact), spec)


def check_number(
    value: Any, name: str, *, low: float | None = None, high: float | None = None,
    low_open: bool = False, high_open: bool = False, integer: bool = False,
) -> float | int:
    """``value`` if it is a finite number (an integer with ``integer``) within the bounds.

    Args:
        low, high: the bounds, inclusive unless ``low_open`` / ``high_open``.

    Raises:
        TypeError: not a number (a string, None, a bool).
        InputError: NaN, ±inf, a fraction where an integer is needed, or out of bounds.
    """  # fmt: skip
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if integer and not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be {kind}, got {value!r}")
    bounds = _bounds(low, high, low_open, high_open)
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond any float (10**400)
        finite = False
    if not integer and not finite:
        raise InputError(f"{name} must be a finite number{' ' + bounds if bounds else ''}, got {value}")
    inside = (low is None or (value > low if low_open else value >= low)) and (
        high is None or (value < high if high_open else value <= high)
    )
    if not inside:
        raise InputError(f"{name} must be {'an integer' if integer else 'a finite number'} {bounds}, got {value}")
    return int(value) if integer else float(value)


def check_count(value: Any, name: str, low: int = 1, high: int | None = None) -> int:
    """An integer count in ``low..high``."""
    return check_number(value, name, low=low, high=high, integer=True)


def check_seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in 0..2**63-1 (same seed, same images)."""
    if value is None:
        raise TypeError(f"{name} must be an integer in 0..{MAX_SEED}, got None: a seed is required, so that results repeat")
    return check_number(value, name, low=0, high=MAX_SEED, integer=True)


def check_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (strings)."""
    choices = list(choices)
    if not isinstance(value, str) or value not in choices:
        raise InputError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")
    return value


def _nearest_existing(path: Path) -> Path:
    """The path itself or its closest ancestor that exists (what ``mkdir(parents=True)`` would build on)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_folder(folder: Path, name: str, shown: Path) -> None:
    """Refuse unless ``folder`` is a folder a file can be created in (tried, then removed)."""
    if not folder.is_dir():
        raise InputError(f"{name} {shown}: {folder} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise InputError(f"{name} {shown}: cannot write in {folder} ({err.strerror or type(err).__name__})") from None


def check_output(path: str | Path | None, name: str, suffixes: Iterable[str] = ()) -> Path | None:
    """Refuse, before any work, an output file that could not be written: a wrong suffix, a
    folder in its place, a file where a parent folder should be, or a folder not writable.

    Args:
        suffixes: the file endings the output's format takes (".npz"); empty means any.
    """
    if path is None:
        return None
    path = Path(path)
    suffixes = [s.lower() for s in suffixes]
    if suffixes and path.suffix.lower() not in suffixes:
        raise InputError(f"{name} writes a {' or '.join(suffixes)} file, got {str(path)!r}")
    if path.is_dir():
        raise InputError(f"{name} {path} is a folder; give a file name ending in {' or '.join(suffixes) or 'a suffix'}")
    _probe_folder(_nearest_existing(path.parent), name, path)
    return path


def check_output_dir(path: str | Path | None, name: str) -> Path | None:
    """Refuse, before any work, an output folder that is a file or lies where nothing can be written."""
    if path is None:
        return None
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{name} {path} is a file; give a folder")
    _probe_folder(_nearest_existing(path), name, path)
    return path


def read_json_file(path: str | Path, what: str = "JSON file") -> dict:
    """A JSON object from ``path``, or one line naming the file and the fault (never a traceback)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {what} {path}: {getattr(err, 'strerror', None) or type(err).__name__}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}); the {what} is corrupt") from None
    if not isinstance(value, dict):
        raise InputError(f"{path}: the {what} must hold a JSON object, got {type(value).__name__}")
    return value


def env_flag(name: str) -> bool:
    """An environment switch (1/true/yes) such as PPGN_DEBUG."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")
