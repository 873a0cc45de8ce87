"""Fault injection (issue 14): every command, fed bad values, refuses in one line and writes nothing.

The table (``ROWS``) holds, for every command and subcommand of ``ppgn``, inputs a hostile or
careless user would give: non-numbers, NaN and infinities, negative or zero counts, absurd
sizes, unknown names, files of the wrong kind, outputs that cannot be written and options that
make no sense together. Each row runs through the real entry point (``ppgn.cli.app.run``) in a
fresh folder holding only the row's input files, and must end with

* exit status 2 (a refusal),
* exactly one non-empty line on stderr, ``error: ...``, holding every needle of the row (the
  flag, the file or the value at fault; a tuple of needles means any one of them),
* no traceback on stdout or stderr,
* no new file or folder in the row's folder (outputs are checked before any work; a run that
  fails writes all of its outputs or none).

Each row is a valid command (``BASE``: tiny sizes, fixture data) with one bad value added at the
end (click takes the last of a repeated option), so a row that is wrongly accepted still ends
quickly. The rows state the promised behaviour: a failing row is a bug in ppgn, not in the row.

Also here: property-based checks of ``ppgn.io.check_number`` and of a ``SampleRequest``'s
check, random non-numeric text for every numeric flag, a per-command row count (a new command
without rows fails), and the start-up time of ``ppgn --help`` and of an argument error.

``python tests/test_fault_injection.py`` prints the rows per command.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import shutil
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
FMNIST = str(FIXTURES / "fashion-mnist")  # the fixture data (500 train, 200 test images)
SHIPPED = ROOT / "ppgn" / "weights" / "fashion-mnist"
CLASSIFIER = str(SHIPPED / "classifier.safetensors")
GROUPS = ("train", "bench", "data", "cinn")  # command groups: a row's command is "GROUP SUB"
ROW_TIMEOUT = float(os.environ.get("PPGN_FAULT_TIMEOUT", "30"))  # seconds; a row still running then was wrongly accepted (status 124)
ROW_MEMORY = 3.0  # GiB a row may allocate: one that tries more fails alone instead of exhausting a shared machine


def _no_cuda() -> bool:
    import torch

    return not torch.cuda.is_available()


def _cuda_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# ---------------------------------------------------------------------------------------------
# The input files every row's folder starts with (in/...), made once per worker and copied.
# ---------------------------------------------------------------------------------------------

def _png(path: Path, array: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(array).save(path)


def _bomb_png(path: Path, side: int = 200_000) -> None:
    """A PNG whose header claims side × side pixels (far beyond PIL's decompression-bomb limit)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _samples(path: Path, n: int, side: int = 28, channels: int = 1) -> None:
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (n, side, side, channels), dtype=np.uint8),
             labels=(np.arange(n) % 10).astype(np.int64), prob=np.full(n, 0.5, np.float32))


def _safetensors(path: Path, config: dict, cls: str = "CodeDAE") -> None:
    import torch
    from safetensors.torch import save_file

    save_file({"net.0.weight": torch.zeros(2, 2)}, str(path), metadata={"class": cls, "config": json.dumps(config)})


def make_inputs(folder: Path) -> None:
    """The files rows refer to as in/NAME: text where a binary belongs, empty files, bad images,
    hostile weights, folders with file suffixes, a file used as a parent folder."""
    folder.mkdir(parents=True)
    for name in ("text.npz", "text.png", "text.safetensors", "text.json", "text.gz", "text.whl", "afile"):
        (folder / name).write_text("this is not what the suffix says\n")
    for name in ("empty.npz", "empty.png", "empty.safetensors", "empty.gz"):
        (folder / name).write_bytes(b"")
    for name in ("adir", "dir.png", "dir.npz", "dir.gif", "dir.json", "dir.safetensors"):
        (folder / name).mkdir()
    (folder / "full").mkdir()
    (folder / "full" / "keep.txt").write_text("a folder that is not empty\n")
    grey = np.zeros((28, 28), np.uint8)
    grey[6:22, 8:20] = 200
    _png(folder / "good.png", grey)  # a 28×28 grey image (a valid --image / --init-image)
    _png(folder / "small.png", np.zeros((10, 10), np.uint8))  # the wrong size for a 28×28 model
    _png(folder / "black.png", np.zeros((28, 28), np.uint8))  # a mask with no hole
    _bomb_png(folder / "bomb.png")
    _samples(folder / "good.npz", 4)
    _samples(folder / "one.npz", 1)
    _samples(folder / "zero.npz", 0)
    _samples(folder / "wrongshape.npz", 4, side=32, channels=3)
    _safetensors(folder / "hostile.safetensors", {"code_dim": "abc", "hidden": [-5]})  # a string and a negative size
    _safetensors(folder / "huge.safetensors", {"code_dim": 10**12, "hidden": [10**12, 10**12]})  # allocates terabytes
    (folder / "badmanifest").mkdir()
    (folder / "badmanifest" / "manifest.json").write_text("{ not json")
    (folder / "badcard").mkdir()
    shutil.copy(SHIPPED / "dae-x.safetensors", folder / "badcard" / "dae-x.safetensors")
    (folder / "badcard" / "dae-x.json").write_text("{ not json")
    (folder / "badrun").mkdir()  # a training folder whose checkpoint is garbage
    (folder / "badrun" / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    (folder / "tiny").mkdir()  # four images: too few to hold any out for the card's metrics
    for k in range(4):
        _png(folder / "tiny" / f"{k}.png", np.full((16, 16, 3), 40 * k, np.uint8))
    (folder / "colour").mkdir()  # colour images, the colourisation trainer's --source
    rng = np.random.default_rng(0)
    for k in range(24):
        _png(folder / "colour" / f"{k}.png", rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------
# The table.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One bad input: the full argument list and what the one error line must hold."""

    args: tuple[str, ...]
    needles: tuple  # each a string, or a tuple of strings of which one must appear
    extra: tuple[str, ...] = ()  # the part of ``args`` that is bad (for the row's id)

    @property
    def command(self) -> str:
        return " ".join(self.args[:2]) if self.args[0] in GROUPS else self.args[0]

    @property
    def id(self) -> str:
        """The command and its bad part (all its arguments for a row with no base)."""
        shown = self.extra or self.args[len(self.command.split()):]
        return f"{self.command}: {' '.join(shown)}"


ROWS: list[Row] = []
NUMERIC: list[tuple[tuple[str, ...], str]] = []  # (a valid base, a numeric flag of it): for the random-text test

# A valid command per command, tiny and quick; a row adds one bad value at its end.
BASE: dict[str, list[str]] = {
    "sample": ["sample", "-c", "bag", "-n", "2", "--steps", "2", "--out", "s.npz", "--grid", "g.png", "-q"],
    "eval": ["eval", "in/good.npz", "--json", "r.json"],
    "real": ["real", "--num", "2", "--data-dir", FMNIST, "--out", "r.npz"],
    "export": ["export", str(SHIPPED / "dae-x.safetensors"), "x.safetensors"],
    "visualize": ["visualize", "--neuron", "fc.2:7", "-n", "2", "--steps", "2", "--real-subset", "20",
                  "--data-dir", FMNIST, "--out", "v.png", "--json", "v.json", "-q"],
    "inpaint": ["inpaint", "--image", "in/good.png", "--box", "8,8,10,10", "-n", "2", "--steps", "2", "--out", "i.png", "-q"],
    "colorize": ["colorize", "--image", "in/good.png", "-n", "2", "--out", "c.png", "-q"],
    "cinn transfer": ["cinn", "transfer", "--image", "in/good.png", "--from", "3", "--out", "t.png", "-q"],
    "train classifier": ["train", "classifier", "--data", "fashion-mnist", "--data-dir", FMNIST, "--epochs", "1",
                         "--train-subset", "20", "--batch-size", "10", "--width", "0.25", "--out", "run", "-q"],
    "train evaluator": ["train", "evaluator", "--data", "fashion-mnist", "--data-dir", FMNIST, "--epochs", "1",
                        "--train-subset", "20", "--batch-size", "10", "--width", "0.25", "--out", "run", "-q"],
    "train generator": ["train", "generator", "--data", "fashion-mnist", "--data-dir", FMNIST, "--classifier", CLASSIFIER,
                        "--epochs", "1", "--train-subset", "20", "--batch-size", "10", "--width", "0.25",
                        "--d-width", "0.25", "--out", "run", "-q"],
    "train dae-h": ["train", "dae-h", "--data", "fashion-mnist", "--data-dir", FMNIST, "--classifier", CLASSIFIER,
                    "--epochs", "1", "--train-subset", "20", "--batch-size", "10", "--out", "run", "-q"],
    "train dae-x": ["train", "dae-x", "--data", "fashion-mnist", "--data-dir", FMNIST, "--epochs", "1",
                    "--train-subset", "20", "--batch-size", "10", "--out", "run", "-q"],
    "train cinn": ["train", "cinn", "--dataset", "fashion-mnist", "--data-dir", FMNIST, "--epochs", "1",
                   "--train-subset", "20", "--batch-size", "10", "--blocks", "1", "--hidden", "8", "--out", "run", "-q"],
    "train flow-prior": ["train", "flow-prior", "--dataset", "fashion-mnist", "--data-dir", FMNIST, "--classifier", CLASSIFIER,
                         "--epochs", "1", "--batch-size", "50", "--blocks", "1", "--hidden", "8", "--out", "run", "-q"],
    "train colorizer": ["train", "colorizer", "--source", "in/colour", "--size", "8", "--epochs", "1", "--blocks", "1",
                        "--hidden", "4", "--batch-size", "2", "--out", "run", "-q"],
    "train condition-net": ["train", "condition-net", "--module", "ppgn.examples.condition_nets:mlp", "--dataset", "fashion-mnist",
                            "--data-dir", FMNIST, "--epochs", "1", "--train-subset", "20", "--batch-size", "10", "--out", "run", "-q"],
    "train captioner": ["train", "captioner", "--dataset", "fashion-mnist", "--data-dir", FMNIST, "--epochs", "1",
                        "--train-subset", "50", "--batch-size", "10", "--out", "run", "-q"],
    "train all": ["train", "all", "--data", "fashion-mnist", "--data-dir", FMNIST, "--out", "model", "--epochs", "1",
                  "--train-subset", "20", "--batch-size", "10", "--width", "0.25", "-q"],
    "train diffusion": ["train", "diffusion", "--data", "fashion-mnist", "--data-dir", FMNIST, "--epochs", "1",  # issue 15
                        "--train-subset", "20", "--batch-size", "10", "--unet-channels", "8", "--out", "run", "-q"],
    "bench networks": ["bench", "networks", "--network", "mlp=ppgn.examples.condition_nets:mlp@condition-mlp", "-n", "1",
                       "--steps", "2", "--json", "b.json", "-q"],
    "bench neurons": ["bench", "neurons", "--neurons", "fc.2:7", "-n", "2", "--steps", "2", "--real-subset", "20",
                      "--data-dir", FMNIST, "--json", "b.json", "-q"],
    "bench inpaint": ["bench", "inpaint", "-n", "2", "--hole", "4", "--steps", "2", "--data-dir", FMNIST, "--json", "b.json", "-q"],
    "bench captions": ["bench", "captions", "--captions", "a bag", "-n", "2", "--steps", "2", "--data-dir", FMNIST,
                       "--json", "b.json", "-q"],
    "bench train": ["bench", "train", "--data", "fashion-mnist", "--data-dir", FMNIST, "--steps", "2", "--batch-size", "8",
                    "--json", "b.json"],
    "bench speed": ["bench", "speed", "--batches", "1", "--steps", "1", "--json", "b.json"],
    "bench quality": ["bench", "quality", "--quick", "--rows", "real", "--seeds", "0", "--per-class", "2",
                      "--data-dir", FMNIST, "--out-dir", "report", "--cache-dir", "none", "-q"],
    "data mnist": ["data", "mnist", "--data-dir", "mnist-out"],  # --source is what every row of it varies
    "data folder": ["data", "folder", "--data", "fashion-mnist", "--data-dir", FMNIST, "--num", "10", "--out", "folder"],
}


def add(command: str, extra, *needles, base: list[str] | None = None) -> None:
    """A row: ``command``'s base (or ``base``) followed by ``extra``; the error line holds ``needles``."""
    args = (BASE[command] if base is None else base) + [str(a) for a in extra]
    ROWS.append(Row(tuple(args), needles, tuple(str(a) for a in extra)))


def opt(flag: str, value) -> str:
    """``--flag=value``: a value that starts with '-' is then never read as an option."""
    return f"{flag}={value}"


# Bad values by what the option takes.
NON_FINITE = ("nan", "inf", "-inf")
DIVERGED = "diverged"  # an absurd training value may instead be caught as a diverged run (nothing written)
NOT_A_NUMBER = ("abc", "1,5", "")
ABSURD_INT = 10**30


def floats(command: str, flag: str, *, low: float | None = 0, low_open: bool = True, absurd=(), base=None, alias=None):
    """Rows for a float option: non-numbers, NaN, ±inf, and below its lower bound (and absurd values).

    Args:
        low, low_open: the valid lower bound (None: any finite number).
        absurd: values that no network or chain can use (1e308); their error may name ``alias`` instead.
    """
    needle = (flag, alias) if alias else flag
    for value in NON_FINITE + ("1e999",):
        add(command, [opt(flag, value)], flag, base=base)
    for value in NOT_A_NUMBER[:2]:
        add(command, [opt(flag, value)], flag, base=base)
    if low is not None:
        add(command, [opt(flag, low - 1)], flag, base=base)
        if low_open:
            add(command, [opt(flag, low)], flag, base=base)
    for value in absurd:
        add(command, [opt(flag, value)], needle, base=base)
    NUMERIC.append((tuple(BASE[command] if base is None else base), flag))


def ints(command: str, flag: str, *, low: int = 1, absurd: bool = True, base=None):
    """Rows for an integer option: non-numbers, fractions, NaN, below its lower bound, 10**30."""
    for value in ("abc", "1.5", "nan", "inf"):
        add(command, [opt(flag, value)], flag, base=base)
    add(command, [opt(flag, low - 1)], flag, base=base)
    if low - 1 != -1:
        add(command, [opt(flag, -1)], flag, base=base)
    if absurd:
        add(command, [opt(flag, ABSURD_INT)], flag, base=base)
    NUMERIC.append((tuple(BASE[command] if base is None else base), flag))


def seeds(command: str, flag: str = "--seed"):
    """Rows for a seed: negative, beyond 2**63-1, not an integer."""
    for value in (-1, 2**63, ABSURD_INT, "abc", "1.5", "nan"):
        add(command, [opt(flag, value)], flag)
    NUMERIC.append((tuple(BASE[command]), flag))


def devices(command: str):
    """Rows for --device: a name torch does not know, and GPUs this machine does not have."""
    add(command, ["--device", "bogus"], "bogus", "cpu")
    if _cuda_count() <= 7:
        add(command, ["--device", "cuda:7"], "cuda:7", "cpu")
    if _no_cuda():
        add(command, ["--device", "cuda"], "cuda", "cpu")


KINDS = {"emoji-colorizer": "colorizer", "mnist-cinn": "cinn", "fashion-mnist": "ppgn"}  # shipped models' kinds


def models(command: str, wrong_kind: str | None = None):
    """Rows for --model: an unknown name, an empty folder, a folder with a corrupt manifest, a model of
    the wrong kind (the line names it, or its kind)."""
    add(command, ["--model", "nosuch"], "nosuch")
    add(command, ["--model", "in/adir"], "adir")
    add(command, ["--model", "in/badmanifest"], "badmanifest")
    add(command, ["--model", "in/text.safetensors"], "text.safetensors")
    if wrong_kind:
        add(command, ["--model", wrong_kind], (wrong_kind, KINDS[wrong_kind]))


def output_file(command: str, flag: str, suffix: str, wrong: str = ".txt"):
    """Rows for an output file: a wrong suffix, a place that cannot be written, a folder in its place, a file as its parent."""
    for path in (f"x{wrong}", f"/proc/x{suffix}", f"in/dir{suffix}", f"in/afile/x{suffix}"):
        add(command, [flag, path], flag)


def output_dir(command: str, flag: str = "--out"):
    """Rows for an output folder: a file in its place, a file as its parent, a place that cannot be written."""
    for path in ("in/afile", "in/afile/sub", "/proc/x"):
        add(command, [flag, path], flag)


def data_dir(command: str):
    """Rows for --data-dir: a folder that does not exist, an empty one, a file."""
    add(command, ["--data-dir", "in/missing-dir"], "missing-dir")
    add(command, ["--data-dir", "in/adir"], "adir")
    add(command, ["--data-dir", "in/afile"], "afile")


def images(command: str, flag: str):
    """Rows for an input image: text, empty, missing, a folder, a decompression bomb."""
    for name in ("text.png", "empty.png", "missing.png", "adir", "bomb.png", "good.npz"):
        add(command, [flag, f"in/{name}"], name)


def choice(command: str, flag: str, valid: str, bad: str = "nosuch"):
    """A row for an option with named choices: an unknown name; the line names it and a valid one."""
    add(command, [flag, bad], bad, valid)


# --- ppgn sample ------------------------------------------------------------------------------
C = "sample"
ints(C, "--num")
seeds(C)
ints(C, "--steps")
floats(C, "--eps1", low=0, low_open=False, absurd=("1e308",), alias="prior")
floats(C, "--eps2", low=0, low_open=False, absurd=("1e308",), alias="condition")
floats(C, "--eps3", low=0, low_open=False, absurd=("1e308",), alias="noise")
floats(C, "--caption-weight", low=None, absurd=("1e308", "-1e308"), alias="caption",
       base=BASE[C][:1] + ["--caption", "a bag"] + BASE[C][3:])
choice(C, "--preset", "joint-ppgn-h")
choice(C, "--form", "log-softmax")
choice(C, "--init", "gaussian")
add(C, ["--class", "nosuch"], "nosuch")
add(C, [opt("--class", -1)], "-1")
add(C, ["--class", "10"], "10")
add(C, ["--class", "bag", "--not-class", "bag"], "--not-class")
add(C, ["--not-class", "nosuch"], "nosuch")
add(C, ["--class", "all", "--caption", "a bag"], "--class")
add(C, ["--caption", ""], "--caption")
add(C, ["--weights", "in/text.safetensors"], "--weights", "--condition-module")
add(C, ["--weights", str(SHIPPED / "condition-mlp.safetensors")], "--weights", "--condition-module")
add(C, ["--target", "3"], "--target", "--condition-module")
add(C, ["--condition-module", "ppgn.examples.condition_nets:mlp", "--target", "99"], "--target")
add(C, ["--condition-module", "ppgn.examples.condition_nets:mlp", opt("--target", -1)], "--target")
for module, needle in (("nosuch_pkg.mod:factory", "nosuch_pkg"), ("notamodule", "notamodule"),
                       ("ppgn.examples.condition_nets:nosuch", "nosuch"), ("os:getcwd", "os:getcwd")):
    add(C, ["--condition-module", module, "--target", "3"], needle)
MLP = ["--condition-module", "ppgn.examples.condition_nets:mlp", "--target", "3"]
for name in ("text.safetensors", "empty.safetensors", "missing.safetensors", "hostile.safetensors", "huge.safetensors"):
    add(C, MLP + ["--weights", f"in/{name}"], name)
add(C, MLP + ["--calibrate", "nosuch"], "nosuch", "up")
images(C, "--init-image")
add(C, ["--init-image", "in/small.png"], "small.png")
add(C, ["--temperature", "0.5"], "--temperature")  # cINN-only options on a PPGN model
add(C, ["--denoise"], "--denoise")
add(C, ["--no-denoise"], "--denoise")
add(C, ["--mh"], "--mh", "ppgn-flow")  # exact MALA needs a prior with a log density
add(C, ["--mh", "--preset", "ppgn-flow", "--eps1", "0.3"], "--eps1")  # --mh sets the prior weight and the noise itself
add(C, ["--mh", "--preset", "ppgn-flow", "--eps3", "0.1"], "--eps3")
models(C, wrong_kind="emoji-colorizer")
add(C, ["--model", "in/badcard"], "badcard")
output_file(C, "--out", ".npz")
output_file(C, "--grid", ".png")
output_file(C, "--gif", ".gif")
add(C, ["--out", "in/text.png"], "--out")  # a .png given to --out (the grid's format)
add(C, [], "--out", base=["sample", "-c", "bag", "-n", "2", "--steps", "2", "-q"])  # nothing to write
add(C, [], "--class", base=["sample", "-n", "2", "--steps", "2", "--out", "s.npz", "-q"])  # no condition
devices(C)
CINN_SAMPLE = ["sample", "--model", "mnist-cinn", "-c", "3", "-n", "2", "--out", "s.npz", "--grid", "g.png", "-q"]
floats(C, "--temperature", low=0, low_open=True, absurd=("11", "1e308"), base=CINN_SAMPLE)
for flag, value in (("--steps", "5"), ("--eps1", "0.5"), ("--eps2", "1"), ("--eps3", "0.1"), ("--init-image", "in/good.png"),
                    ("--gif", "c.gif"), ("--caption", "a bag"), ("--not-class", "4"), ("--preset", "ppgn-h"),
                    ("--condition-module", "ppgn.examples.condition_nets:mlp")):
    add(C, [flag, value], flag, base=CINN_SAMPLE)  # PPGN-only options on a cINN
add(C, [opt("--class", 10)], "10", base=CINN_SAMPLE)
add(C, ["--mh"], "--mh", base=CINN_SAMPLE)
choice(C, "--autocast", "bf16")
add(C, ["--autocast", "bf16"], "--autocast", base=CINN_SAMPLE)  # the speed-ups of a PPGN chain, on a cINN
add(C, ["--compile"], "--compile", base=CINN_SAMPLE)
add(C, ["--subpixel"], "--subpixel", base=CINN_SAMPLE)

# --- ppgn eval --------------------------------------------------------------------------------
C = "eval"
for name in ("text.npz", "empty.npz", "missing.npz", "adir", "good.png", "zero.npz", "one.npz", "wrongshape.npz"):
    add(C, [], name, base=["eval", f"in/{name}", "--json", "r.json"])
add(C, [], "samples", base=["eval", "--json", "r.json"])  # no samples file
add(C, ["--bits-per-dim"], "--bits-per-dim")  # a PPGN model has no likelihood
add(C, ["--model", "mnist-cinn", "--bits-per-dim"], "--bits-per-dim")  # a samples file with --bits-per-dim
models(C, wrong_kind="emoji-colorizer")
output_file(C, "--json", ".json")
devices(C)

# --- ppgn real --------------------------------------------------------------------------------
C = "real"
ints(C, "--num")
add(C, [opt("--num", 1000)], "--num")  # more than the fixture's 50 per class
seeds(C)
choice(C, "--split", "train")
models(C, wrong_kind="emoji-colorizer")
data_dir(C)
output_file(C, "--out", ".npz")
add(C, [], "--out", base=["real", "--num", "2", "--data-dir", FMNIST])  # --out is required
devices(C)

# --- ppgn export ------------------------------------------------------------------------------
C = "export"
for name in ("text.safetensors", "empty.safetensors", "missing.safetensors", "adir", "hostile.safetensors",
             "huge.safetensors", "badcard/dae-x.safetensors", "good.png"):
    add(C, [], name.replace(".safetensors", ""), base=["export", f"in/{name}", "x.safetensors"])  # (or its card)
SOURCE = str(SHIPPED / "dae-x.safetensors")
for target in ("x.npz", "/proc/x.safetensors", "in/dir.safetensors", "in/afile/x.safetensors"):
    add(C, [], target, base=["export", SOURCE, target])

# --- ppgn visualize ---------------------------------------------------------------------------
C = "visualize"
ints(C, "--num")
add(C, [opt("--num", 257)], "--num")
seeds(C)
ints(C, "--steps")
ints(C, "--real-subset", low=0, absurd=False)
choice(C, "--preset", "joint-ppgn-h")
choice(C, "--spatial", "centre")
add(C, ["--neuron", "nosuch:1"], "nosuch", "fc.2")
for unit in ("99999", str(ABSURD_INT), "-1", "abc"):  # a unit the layer does not have: the line names it
    add(C, [opt("--neuron", f"fc.2:{unit}")], ("--neuron", unit))
for neuron in ("fc.2", ":", ""):
    add(C, [opt("--neuron", neuron)], "--neuron")
add(C, [], "--neuron", base=["visualize", "--out", "v.png", "-q"])  # no unit
add(C, [], "--out", base=["visualize", "--neuron", "fc.2:7", "-q"])  # nothing to write
add(C, ["--weights", "in/text.safetensors"], "--weights", "--module")
add(C, ["--weights", str(SHIPPED / "condition-mlp.safetensors")], "--weights", "--module")
add(C, ["--module", "nosuch_pkg.mod:factory"], "nosuch_pkg")
add(C, ["--module", "notamodule"], "notamodule")
add(C, ["--module", "ppgn.examples.condition_nets:mlp", "--weights", "in/hostile.safetensors"], "hostile.safetensors")
add(C, ["--module", "ppgn.examples.condition_nets:mlp", "--weights", "in/missing.safetensors"], "missing.safetensors")
models(C, wrong_kind="mnist-cinn")
data_dir(C)
output_file(C, "--out", ".png", wrong=".npz")  # visualize --out x.npz: a figure, not samples
output_file(C, "--json", ".json")
devices(C)

# --- ppgn inpaint -----------------------------------------------------------------------------
C = "inpaint"
ints(C, "--num")
add(C, [opt("--num", 257)], "--num")
seeds(C)
ints(C, "--steps")
floats(C, "--eps4", low=0, low_open=False, absurd=("1e308",), alias="context")
choice(C, "--preset", "joint-ppgn-h")
add(C, ["--class", "nosuch"], "nosuch")
for box in ("1,2,3", "a,b,c,d", "-1,0,5,5", "0,0,0,0", "20,20,20,20", "nan,0,5,5", "0,0,-5,5", f"0,0,{ABSURD_INT},5"):
    add(C, [opt("--box", box)], "--box")
images(C, "--image")
add(C, ["--image", "in/small.png"], "small.png")
add(C, ["--mask", "in/good.png"], "--box", "--mask")  # both a box and a mask
add(C, [], "--box", base=["inpaint", "--image", "in/good.png", "-n", "2", "--steps", "2", "--out", "i.png", "-q"])  # neither
MASKED = ["inpaint", "--image", "in/good.png", "-n", "2", "--steps", "2", "--out", "i.png", "-q"]
for name in ("text.png", "empty.png", "missing.png", "small.png", "black.png", "bomb.png"):
    add(C, ["--mask", f"in/{name}"], name, base=MASKED)
models(C, wrong_kind="mnist-cinn")
output_file(C, "--out", ".png")
add(C, ["--out", "/proc/x.npz"], "--out")
devices(C)

# --- ppgn colorize ----------------------------------------------------------------------------
C = "colorize"
ints(C, "--num")
add(C, [opt("--num", 1025)], "--num")
seeds(C)
floats(C, "--temperature", low=0, low_open=True, absurd=("11", "1e308"))
images(C, "--image")
add(C, ["--model", "nosuch"], "nosuch")
add(C, ["--model", "fashion-mnist"], "fashion-mnist")  # a PPGN, not a colourisation cINN
add(C, ["--model", "mnist-cinn"], "mnist-cinn")
add(C, ["--model", "in/adir"], "adir")
for name in ("text.safetensors", "empty.safetensors", "missing.safetensors", "hostile.safetensors"):
    add(C, ["--model", f"in/{name}"], name)
output_file(C, "--out", ".png")
add(C, ["--out", "/proc/x.npz"], "--out")
devices(C)

# --- ppgn cinn transfer -----------------------------------------------------------------------
C = "cinn transfer"
images(C, "--image")
for value in ("nosuch", "10", "-1", ""):
    add(C, [opt("--from", value)], value or "--from")
add(C, ["--model", "nosuch"], "nosuch")
add(C, ["--model", "fashion-mnist"], "fashion-mnist")  # a PPGN, not a cINN
add(C, ["--model", "emoji-colorizer"], "emoji-colorizer")
add(C, ["--model", "in/adir"], "adir")
add(C, ["--model", "in/badmanifest"], "badmanifest")
output_file(C, "--out", ".png")
add(C, ["--out", "/proc/x.npz"], "--out")
devices(C)

# --- ppgn serve -------------------------------------------------------------------------------
# Refused before the server binds its socket; a row wrongly accepted would serve until its time limit.
C = "serve"
BASE[C] = ["serve", "--host", "127.0.0.1", "--port", "47860"]
ints(C, "--port")
add(C, [opt("--port", 65536)], "--port")
ints(C, "--max-work")
for host in ("", "a b", "8.8.8.8"):  # empty, not a name, an address of another machine
    add(C, [opt("--host", host)], "--host")
add(C, ["--allow-code", "--host", "0.0.0.0"], "--allow-code")  # user code on a page others can reach
models(C)
add(C, ["--model", "fashion-mnist", "--model", "in/missing-dir"], "missing-dir")
devices(C)

# --- ppgn train ... ---------------------------------------------------------------------------
def training(command: str, *, data_flag: str | None = "--data", size: bool = True, workers: bool = True,
             subset: bool = True, out: bool = True, resume: bool = True):
    """Rows every training recipe shares: epochs, batch size, seed, subset, amp, workers, data, output, device."""
    ints(command, "--epochs")
    ints(command, "--batch-size")
    seeds(command)
    if subset:
        add(command, [opt("--train-subset", -1)], "--train-subset")
        add(command, [opt("--train-subset", "abc")], "--train-subset")
        add(command, [opt("--train-subset", 5)], "--train-subset")  # fewer examples than one batch (10)
    choice(command, "--amp", "bf16", bad="fp8")
    if _no_cuda():
        add(command, ["--amp", "fp16"], "fp16")  # fp16 autocast needs CUDA
    if workers:
        add(command, [opt("--workers", -1)], "--workers")
    if size:
        for value in (0, -1, 27, ABSURD_INT, "abc"):
            add(command, [opt("--size", value)], "--size")
        for value in (0, 2, -1, "abc"):
            add(command, [opt("--channels", value)], "--channels")
    if data_flag:
        add(command, [data_flag, "nosuch"], "nosuch")
        for name in ("text.npz", "empty.npz", "missing-folder", "adir", "good.png"):
            add(command, [data_flag, f"in/{name}"], name)
    if data_flag != "--source":
        data_dir(command)
    if out:
        output_dir(command)
    if resume:
        add(command, ["--out", "in/badrun"], "checkpoint.pt")  # a garbage checkpoint to resume from
    devices(command)


def classifier_option(command: str, flag: str = "--classifier"):
    """Rows for a frozen encoder's weights file: text, empty, missing, a folder, hostile, absurd sizes."""
    for name in ("text.safetensors", "empty.safetensors", "missing.safetensors", "adir", "hostile.safetensors", "huge.safetensors"):
        add(command, [flag, f"in/{name}"], name)
    add(command, [flag, str(SHIPPED / "dae-h.safetensors")], "dae-h.safetensors")  # weights, but not an encoder


for C in ("train classifier", "train evaluator"):
    training(C)
    floats(C, "--width", absurd=("1e308",))

C = "train generator"
training(C)
floats(C, "--width", absurd=("1e308",))
floats(C, "--d-width", absurd=("1e308",))
floats(C, "--noise", low=0, low_open=False, absurd=("1e308",), alias=DIVERGED)
classifier_option(C)
choice(C, "--upsample", "subpixel")

for C in ("train dae-h", "train dae-x"):
    training(C)
    floats(C, "--noise", absurd=("1e308",), alias=DIVERGED)
classifier_option("train dae-h")

C = "train cinn"
training(C, data_flag="--dataset", size=False, workers=False)
add(C, ["--dataset", "emoji"], "emoji")  # a dataset the cINN recipe does not take
for flag in ("--blocks", "--hidden", "--cond-features"):
    ints(C, flag)
ints(C, "--class-batch", absurd=False)  # more than a batch is the whole batch
floats(C, "--class-weight", low=0, low_open=False, absurd=("1e308",), alias=DIVERGED)
floats(C, "--clamp")
floats(C, "--lr", absurd=("1e308",), alias=DIVERGED)
floats(C, "--noise", absurd=("1e308",), alias=DIVERGED, base=BASE[C] + ["--dequantisation", "gaussian"])  # where σ is used
choice(C, "--layout", "multiscale")
choice(C, "--dequantisation", "uniform")
for flag in ("--conv-blocks", "--conv-hidden"):
    for value in ("0,1", "a", "-1,4", "", "4,nan"):
        add(C, [opt(flag, value), "--layout", "multiscale"], flag)
add(C, ["--conv-blocks", "4", "--conv-hidden", "32,64", "--layout", "multiscale"], "--conv-blocks")

C = "train flow-prior"
training(C, data_flag="--dataset", size=False, workers=False, subset=False)
add(C, ["--dataset", "mnist"], "mnist")  # no shipped encoder for it
for flag in ("--blocks", "--hidden"):
    ints(C, flag)
floats(C, "--noise", absurd=("1e308",), alias=DIVERGED)
classifier_option(C)

C = "train colorizer"
training(C, data_flag="--source", size=False, workers=False, subset=False)
for value in (3, 0, -2, 7, ABSURD_INT, "abc"):
    add(C, [opt("--size", value)], "--size")
add(C, ["--source", "in/tiny"], ("--source", "tiny"))  # 4 images: the card's metrics would be NaN
for flag in ("--blocks", "--hidden"):
    ints(C, flag)

C = "train condition-net"
training(C, data_flag="--dataset", size=False, workers=False)
for module, needle in (("nosuch_pkg.mod:factory", "nosuch_pkg"), ("notamodule", "notamodule"),
                       ("ppgn.examples.condition_nets:nosuch", "nosuch"), (":", "--module"), ("os:getcwd", "os:getcwd")):
    add(C, [opt("--module", module)], needle)
add(C, [], "--module", base=[a for a in BASE[C] if a not in ("--module", "ppgn.examples.condition_nets:mlp")])

C = "train captioner"
training(C, data_flag="--dataset", size=False, workers=False)
add(C, ["--dataset", "mnist"], "mnist")  # captions name Fashion-MNIST's classes
add(C, ["--model", "nosuch"], "nosuch")
add(C, ["--model", "mnist-cinn"], "mnist-cinn")
for name in ("text.safetensors", "missing.safetensors", "hostile.safetensors"):
    add(C, ["--classifier", f"in/{name}"], name)

C = "train all"
training(C, out=False, resume=False)
output_dir(C)
add(C, [], "--out", base=[a for a in BASE[C] if a not in ("--out", "model")])  # --out is required
floats(C, "--width", absurd=("1e308",))
floats(C, "--generator-width", absurd=("1e308",))
ints(C, "--code-dim")
for flag in ("--classifier-epochs", "--evaluator-epochs", "--generator-epochs", "--dae-epochs"):
    for value in (0, -1, "abc"):
        add(C, [opt(flag, value)], flag)

# --- ppgn bench ... ---------------------------------------------------------------------------
C = "bench networks"
ints(C, "--num")
seeds(C)
ints(C, "--steps")
choice(C, "--preset", "joint-ppgn-h")
NETWORKS = ["bench", "networks", "-n", "1", "--steps", "2", "--json", "b.json", "-q"]  # --network replaces the default list
for spec in ("abc", "x=", "=ppgn.examples.condition_nets:mlp"):
    add(C, [opt("--network", spec)], "--network", base=NETWORKS)
for spec, needle in (("x=nosuch_pkg.mod:factory", "nosuch_pkg"), ("x=ppgn.examples.condition_nets:mlp@in/text.safetensors", "text.safetensors"),
                     ("x=ppgn.examples.condition_nets:mlp@in/hostile.safetensors", "hostile.safetensors"),
                     ("x=ppgn.examples.condition_nets:mlp@nosuch-weights", "nosuch-weights"), ("x=os:getcwd", "os:getcwd")):
    add(C, ["--network", spec], needle, base=NETWORKS)
models(C, wrong_kind="mnist-cinn")
output_file(C, "--json", ".json")
devices(C)

C = "bench neurons"
ints(C, "--num", low=2)
seeds(C)
ints(C, "--steps")
ints(C, "--real-subset", low=0, absurd=False)
add(C, [opt("--neurons", "nosuch:1")], "nosuch")
add(C, [opt("--neurons", "fc.2:99999")], ("--neurons", "99999"))
for neurons in ("fc.2", "", "fc.2:7,,"):
    add(C, [opt("--neurons", neurons)], "--neurons")
models(C, wrong_kind="mnist-cinn")
data_dir(C)
output_file(C, "--json", ".json")
devices(C)

C = "bench inpaint"
ints(C, "--num")
seeds(C)
ints(C, "--steps")
for value in (0, -1, 21, ABSURD_INT, "abc"):
    add(C, [opt("--hole", value)], "--hole")
for value in ("nan", "inf", "-inf", "-1", "a,b", "0.1,nan", "", "1e308"):
    add(C, [opt("--eps4", value)], "--eps4")
models(C, wrong_kind="mnist-cinn")
data_dir(C)
output_file(C, "--json", ".json")
devices(C)

C = "bench captions"
ints(C, "--num")
seeds(C)
ints(C, "--steps")
for captions in ("", ";", "a bag;;"):
    add(C, [opt("--captions", captions)], "--caption")
models(C, wrong_kind="mnist-cinn")
data_dir(C)
output_file(C, "--json", ".json")
devices(C)

C = "bench train"
ints(C, "--steps")
ints(C, "--batch-size")
floats(C, "--width", absurd=("1e308",))
choice(C, "--amp", "bf16", bad="fp8")
add(C, [opt("--workers", -1)], "--workers")
for value in (0, -1, 27, ABSURD_INT):
    add(C, [opt("--size", value)], "--size")
for value in (0, 2, -1):
    add(C, [opt("--channels", value)], "--channels")
add(C, ["--data", "nosuch"], "nosuch")
for name in ("text.npz", "missing-folder", "adir"):
    add(C, ["--data", f"in/{name}"], name)
data_dir(C)
output_file(C, "--json", ".json")
devices(C)

C = "bench speed"
ints(C, "--steps")
for value in ("a", "0", "-1", "1,nan", "", "1,,2", str(ABSURD_INT)):
    add(C, [opt("--batches", value)], "--batches")
choice(C, "--preset", "joint-ppgn-h")
models(C, wrong_kind="emoji-colorizer")
output_file(C, "--json", ".json")
devices(C)
ints(C, "--repeats")
ints(C, "--chain-steps")
ints(C, "--quality", low=0)
choice(C, "--autocast", "bf16")

C = "bench quality"
for value in ("a", "-1", str(ABSURD_INT), "", "0,,1", "1.5"):
    add(C, [opt("--seeds", value)], "--seeds")
for value in (1, 0, -1, "abc", ABSURD_INT):
    add(C, [opt("--per-class", value)], "--per-class")
add(C, ["--rows", "nosuch"], "nosuch")
add(C, [opt("--rows", ",")], "--rows")
models(C, wrong_kind="mnist-cinn")
data_dir(C)
output_dir(C, "--out-dir")
output_dir(C, "--cache-dir")
devices(C)

# --- issue 15: ppgn train diffusion, and bench quality's diffusion rows ---------------------------
C = "train diffusion"
training(C)
for flag in ("--unet-channels", "--blocks", "--patch"):
    ints(C, flag)
ints(C, "--timesteps", low=2)
ints(C, "--warmup", low=0)
floats(C, "--minutes", low=0, low_open=False, absurd=("1e308",))
floats(C, "--p-uncond", low=0, low_open=False, absurd=("1.5",))
floats(C, "--dropout", low=0, low_open=False, absurd=("1",))
floats(C, "--ema", low=0, low_open=False, absurd=("1",))
floats(C, "--lr", absurd=("1e308",))
floats(C, "--clip", absurd=("1e308",))
for value in ("0,1", "x", "", "1,,2", "1,1000"):
    add(C, [opt("--multipliers", value)], "--multipliers")
choice(C, "--schedule", "cosine")
choice(C, "--clock", "cpu")
add(C, ["--patch", "5"], "patch")  # 28 does not divide into 5-pixel patches

C = "bench quality"
add(C, ["--rows", "real,diffusion-cfg"], "--diffusion", "ppgn train diffusion")  # a diffusion row without its model
add(C, ["--rows", "diffusion-guided"], "--diffusion")
for name in ("adir", "afile", "missing-dir", "text.safetensors"):
    add(C, ["--rows", "diffusion-cfg", "--diffusion", f"in/{name}"], name, "ppgn train diffusion")  # no diffusion.safetensors there
ints(C, "--diffusion-steps")
floats(C, "--guided-scale", low=0, low_open=False, absurd=("1e308",))
floats(C, "--cfg-scale", low=0, low_open=False, absurd=("1e308",))
for flag in ("--diffusion-steps", "--guided-scale", "--cfg-scale"):
    add(C, [flag, "2"], flag, "--diffusion")  # diffusion settings without a diffusion model

# --- ppgn data ... ----------------------------------------------------------------------------
C = "data mnist"
for name in ("text.whl", "text.gz", "empty.gz", "missing.whl", "adir", "good.png"):
    add(C, ["--source", f"in/{name}"], name)
add(C, [], "--source", base=["data", "mnist", "--data-dir", "mnist-out"])  # --source is required

C = "data folder"
ints(C, "--num")
choice(C, "--split", "train")
for value in (0, -1, 27, ABSURD_INT, "abc"):
    add(C, [opt("--size", value)], "--size")
add(C, ["--data", "nosuch"], "nosuch")
for name in ("text.npz", "empty.npz", "missing-folder", "adir", "wrongshape.npz", "zero.npz"):
    add(C, ["--data", f"in/{name}"], name)
data_dir(C)
output_dir(C)
add(C, ["--out", "in/full"], ("--out", "full"))  # a folder that is not empty


# ---------------------------------------------------------------------------------------------
# Running a row.
# ---------------------------------------------------------------------------------------------

def _unique_ids(rows: list[Row]) -> list[str]:
    seen: Counter = Counter()
    ids = []
    for row in rows:
        seen[row.id] += 1
        ids.append(row.id if seen[row.id] == 1 else f"{row.id} #{seen[row.id]}")
    return ids


def listing(folder: Path) -> set[str]:
    """Every file and folder under ``folder``, as paths relative to it."""
    found = set()
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(root, name), folder))
    return found


def _has(message: str, needle) -> bool:
    alternatives = needle if isinstance(needle, tuple) else (needle,)
    return any(str(n).lower() in message.lower() for n in alternatives)


def faults(code: int, out: str, err: str, new: set[str], needles) -> list[str]:
    """What is wrong with a refusal, in words (empty: the promised one-line refusal): its main
    fault (a traceback, accepted, still running, a wrong status, several lines, a line that
    lacks a needle) and any file or folder it left behind."""
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 124:  # stopped by the test: what it had written is that of an interrupted run
        return [f"still running after {ROW_TIMEOUT:g} s: accepted, started the work"]
    if "Traceback" in out + err:
        last = [line for line in err.strip().splitlines() if line.strip() and not line.startswith(("frame #", " "))]
        main = f"traceback ({last[-1][:160] if last else '?'})"
    elif code == 0:
        main = "exit 0: accepted"
    elif len(lines) != 1:
        main = f"{len(lines)} lines on stderr (exit {code})"
    elif not lines[0].startswith("error:"):
        main = "the line does not start with 'error:'"
    elif code != 2:
        main = f"exit {code} (not 2)"
    else:
        missing = [n for n in needles if not _has(lines[0], n)]
        main = f"the line lacks {missing}" if missing else ""
    found = [main] if main else []
    if new:
        found.append(f"left behind: {sorted(new)[:6]}")
    return found


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """The row inputs, made once per worker; each row gets its own copy. A valid command runs
    first, so that the first row of a worker does not spend its time limit importing torch and
    reading the shipped networks."""
    import ppgn.training  # noqa: F401

    with contextlib.chdir(tmp_path_factory.mktemp("warm-up")):
        code, _, err = invoke("sample", "-c", "bag", "-n", "1", "--steps", "1", "--out", "warm.npz", "-q")
    assert code == 0, err
    folder = tmp_path_factory.mktemp("fault-inputs") / "in"
    make_inputs(folder)
    return folder


@pytest.fixture
def row_folder(tmp_path, inputs, monkeypatch) -> Path:
    """A fresh folder holding in/ (the inputs), made the working folder."""
    work = tmp_path / "work"
    shutil.copytree(inputs, work / "in", symlinks=True)
    monkeypatch.chdir(work)
    monkeypatch.delenv("PPGN_DEBUG", raising=False)
    return work


@pytest.mark.parametrize("row", ROWS, ids=_unique_ids(ROWS))
def test_bad_input_is_refused_in_one_line_and_writes_nothing(row, row_folder):
    before = listing(row_folder)
    code, out, err = invoke(*row.args, timeout=ROW_TIMEOUT, memory=ROW_MEMORY)
    new = listing(row_folder) - before
    found = faults(code, out, err, new, row.needles)
    assert not found, f"ppgn {' '.join(row.args)}\n  {'; '.join(found)}\n  stderr: {err.strip()[-600:]!r}"


# ---------------------------------------------------------------------------------------------
# Coverage of the table: every command has rows.
# ---------------------------------------------------------------------------------------------

def registered_commands() -> list[str]:
    """Every command of the typer app, "GROUP SUB" for a group's, found by walking the app."""
    from ppgn.cli.app import app

    def name(command) -> str:
        return command.name or command.callback.__name__.replace("_", "-")

    names = [name(c) for c in app.registered_commands]
    for group in app.registered_groups:
        names += [f"{group.name} {name(c)}" for c in group.typer_instance.registered_commands]
    return names


def rows_per_command() -> Counter:
    return Counter(row.command for row in ROWS)


def summary() -> str:
    counts = rows_per_command()
    return f"{len(ROWS)} rows\n" + "\n".join(f"{counts[c]:5d}  ppgn {c}" for c in sorted(counts))


def test_every_command_has_rows():
    counts = rows_per_command()
    print("\n" + summary())
    commands = registered_commands()
    assert len(commands) >= 28, commands
    few = {c: counts[c] for c in commands if counts[c] < 5}
    assert not few, f"commands with fewer than 5 fault rows (add rows for them): {few}"
    stale = set(counts) - set(commands)
    assert not stale, f"rows for commands the app does not have: {stale}"
    assert len(ROWS) >= 200


# ---------------------------------------------------------------------------------------------
# Properties (hypothesis).
# ---------------------------------------------------------------------------------------------

BOUND = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.integers(-10**6, 10**6))
NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.integers(-(10**400), 10**400),
    st.sampled_from([0, -0.0, 1e-320, 2**53 + 1, 10**30, 1e308, -1e308]),
)


def _inside(value, low, high, low_open, high_open) -> bool:
    if isinstance(value, float) and not math.isfinite(value):
        return False
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    return above and below


@settings(max_examples=400, deadline=None)
@given(value=NUMBER, low=BOUND, high=BOUND, low_open=st.booleans(), high_open=st.booleans())
def test_check_number_accepts_exactly_the_finite_values_within_bounds(value, low, high, low_open, high_open):
    from ppgn.io import InputError, check_number

    try:
        got = check_number(value, "--x", low=low, high=high, low_open=low_open, high_open=high_open)
    except (InputError, TypeError) as err:
        assert "--x" in str(err) and "\n" not in str(err)
        fits = isinstance(value, float) and math.isfinite(value) or isinstance(value, int) and abs(value) < 1e308
        assert not (fits and _inside(value, low, high, low_open, high_open)), f"refused a valid {value!r}: {err}"
        return
    assert isinstance(got, float) and math.isfinite(got), got
    assert _inside(got, low, high, low_open, high_open), (value, got, low, high)
    assert got == value if not isinstance(value, int) or abs(value) <= 2**53 else math.isclose(got, value, rel_tol=1e-15)


@settings(max_examples=300, deadline=None)
@given(value=NUMBER, low=st.one_of(st.none(), st.integers(-100, 100)), high=st.one_of(st.none(), st.integers(-100, 10**6)))
def test_check_number_integer_accepts_only_integers_within_bounds(value, low, high):
    from ppgn.io import InputError, check_number

    try:
        got = check_number(value, "--n", low=low, high=high, integer=True)
    except (InputError, TypeError) as err:
        assert "--n" in str(err) and "\n" not in str(err)
        if isinstance(value, int):
            assert not _inside(value, low, high, False, False), f"refused a valid {value!r}: {err}"
        return
    assert isinstance(got, int) and not isinstance(got, bool) and got == value, (value, got)
    assert _inside(got, low, high, False, False)


@given(value=st.one_of(st.text(max_size=8), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)))
def test_check_number_refuses_what_is_not_a_number(value):
    from ppgn.io import InputError, check_number

    with pytest.raises((TypeError, InputError)) as err:
        check_number(value, "--x", low=0)
    assert "--x" in str(err.value)


@pytest.fixture(scope="module")
def fashion():
    import ppgn

    return ppgn.load("fashion-mnist")


NON_FINITE_F = st.sampled_from([math.nan, math.inf, -math.inf])
NEGATIVE_F = st.floats(max_value=-5e-324, allow_nan=False, allow_infinity=False)


def _refused(pipe, field: str, value, errors=(ValueError,)) -> None:
    from ppgn.pipelines.request import SampleRequest, check

    with pytest.raises(errors) as err:
        check(pipe, SampleRequest(class_="bag", **{field: value}))
    assert field in str(err.value).replace("-", "_"), f"{field}={value!r}: {err.value}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["eps1", "eps2", "eps3"]), value=st.one_of(NON_FINITE_F, NEGATIVE_F))
def test_request_refuses_non_finite_or_negative_eps(fashion, field, value):
    _refused(fashion, field, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["num", "steps"]),
       value=st.one_of(NON_FINITE_F, NEGATIVE_F, st.integers(max_value=0), st.just(10**30)))
def test_request_refuses_non_finite_negative_or_zero_counts(fashion, field, value):
    if field == "steps" and value == 10**30:
        value = -(10**30)
    _refused(fashion, field, value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["num", "steps", "seed"]),
       value=st.one_of(st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: v != int(v)),
                       st.text(max_size=4), st.sampled_from([2**70, -1, "2", b"2"])))
def test_request_refuses_counts_that_are_not_integers(fashion, field, value):
    if field != "seed" and value == 2**70:
        value = 2.5
    _refused(fashion, field, value, errors=(ValueError, TypeError))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308, -1e308])
def test_request_refuses_a_non_finite_or_absurd_caption_weight(fashion, value):
    from ppgn.pipelines.request import SampleRequest, run

    with pytest.raises(ValueError) as err:  # before the chain runs: no NaN images
        run(fashion, SampleRequest(caption="a bag", caption_weight=value, num=1, steps=1))
    assert "caption_weight" in str(err.value).replace("-", "_")


def _not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


@pytest.mark.skipif(not NUMERIC, reason="no numeric flags in the table")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(NUMERIC),
       text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=12).filter(_not_a_number))
def test_numeric_flags_refuse_random_text_in_one_line(case, text, tmp_path_factory, inputs):
    base, flag = case
    work = tmp_path_factory.mktemp("random-text")
    shutil.copytree(inputs, work / "in", symlinks=True)
    with contextlib.chdir(work):
        before = listing(work)
        code, out, err = invoke(*base, f"{flag}={text}", timeout=ROW_TIMEOUT, memory=ROW_MEMORY)
        new = listing(work) - before
    found = faults(code, out, err, new, (flag,))
    assert not found, f"ppgn {' '.join(base)} {flag}={text!r}\n  {'; '.join(found)}\n  stderr: {err.strip()[-400:]!r}"


# ---------------------------------------------------------------------------------------------
# Start-up: help and argument errors answer at once (torch is imported only where used).
# ---------------------------------------------------------------------------------------------

STARTUP_LIMIT = 1.0  # seconds of CPU (user + system) of a fresh process, the best of three


def _cpu_seconds_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@pytest.mark.parametrize("args, status", [
    (["--help"], 0),
    (["sample", "--num", "abc"], 2),
    (["sample", "-c", "bag", "--eps2", "nan", "--out", "s.npz"], 2),
    (["train", "generator", "--noise", "nan"], 2),
    (["bench", "speed", "--steps", "x"], 2),
], ids=["help", "sample --num abc", "sample --eps2 nan", "train generator --noise nan", "bench speed --steps x"])
def test_help_and_argument_errors_answer_within_a_second(args, status, tmp_path):
    """Measured in CPU seconds, not wall seconds: on a shared machine (CI, pytest-xdist's other
    worker) the wall clock measures the neighbours; the CPU a process spends is its own work."""
    best, wall, result = math.inf, math.inf, None
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(3):
        cpu, started = _cpu_seconds_of_children(), time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "ppgn", *args], check=False, cwd=tmp_path, capture_output=True, text=True,
                                timeout=120, env=env)
        wall = min(wall, time.perf_counter() - started)
        best = min(best, _cpu_seconds_of_children() - cpu)
        if best < STARTUP_LIMIT:
            break
    assert result.returncode == status, result.stderr
    if status:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert best < STARTUP_LIMIT, f"ppgn {' '.join(args)} took {best:.2f} CPU s (best of 3; wall {wall:.2f} s); allowed {STARTUP_LIMIT} s"
    assert listing(tmp_path) == set()


if __name__ == "__main__":
    print(summary())
