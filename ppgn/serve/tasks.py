"""What the page asks for, as library calls: sample (a class, NOT a class, a caption, a user's
network, a hidden unit; a PPGN chain or a cINN), inpaint, colourise, style transfer.

Each task is checked when it is asked for (``prepare``: every field through the library's
own checks, so a bad field gets the one line the command line would print) and runs later on
its model's lane (``ppgn.serve.jobs``). A PPGN chain is watched through the pipeline's
``callback``: ``Streaming`` passes one to every ``pipe.sample`` that ``ppgn.pipelines.request.run``,
``inpaint`` and ``visualize`` make, so the page sees the chain move and can stop it, whatever
the task. Every result comes with the ``ppgn`` command that reproduces it, and its files are
the ones that command writes (the ``.npz`` contract, the grid).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..data import from_uint8, parse_class, to_uint8
from ..io import (
    InputError,
    check_choice,
    check_count,
    check_number,
    check_seed,
    make_grid,
    read_image,
    save_image,
    save_npz,
)
from ..pipelines.cinn import light_on_dark
from ..pipelines.conditions import CALIBRATIONS
from ..pipelines.inpaint import EPS4, filed, inpaint, read_mask
from ..pipelines.outputs import MAX_NUM
from ..pipelines.ppgn import INITS
from ..pipelines.request import SampleRequest, check, run, total
from ..pipelines.visualize import units_of, visualize
from ..sampling import DEFAULT_PRESET, PRESETS, ClassCondition, get_preset
from ..sampling.context import composite
from ..sampling.neuron import parse_neuron
from .jobs import Job

TASKS = ("sample", "inpaint", "colorize", "transfer")
KINDS = {"sample": ("ppgn", "cinn"), "inpaint": ("ppgn",), "colorize": ("colorizer",), "transfer": ("cinn",)}
FRAMES = 25  # pictures of the live chain per request (one every steps // FRAMES steps)
SHOWN = 64  # chains drawn in a live picture
MAX_IMAGE_BYTES = 8 << 20  # an uploaded picture (the reader refuses decompression bombs besides)
UPLOAD = "input.png"


# --- Fields from the page: text in, the library's checks after. --------------------------------

def text(fields: dict, name: str) -> str | None:
    """A text field; empty means not given."""
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InputError(f"{name} must be text, got {type(value).__name__}")
    value = str(value).strip()
    return value or None


def number(fields: dict, name: str, flag: str, integer: bool = False) -> float | int | None:
    """A numeric field as a number (the bounds are checked by the library), or None if empty."""
    value = fields.get(name)
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        try:
            value = int(value) if integer and value.lstrip("+-").isdigit() else float(value)
        except ValueError:
            raise InputError(f"{flag} must be {'an integer' if integer else 'a number'}, got {value!r}") from None
        if integer and isinstance(value, float) and value.is_integer() and math.isfinite(value):
            value = int(value)
    if value is None:
        return None
    return check_number(value, flag, integer=integer)


def upload(fields: dict, name: str, shown: str) -> io.BytesIO:
    """A picture the page sent as a data URL (``data:image/png;base64,...``), as a file to read."""
    value = text(fields, name)
    if value is None:
        raise InputError(f"no {shown} given: choose a picture")
    head, _, payload = value.partition(",")
    if not head.startswith("data:") or ";base64" not in head:
        raise InputError(f"{shown} must be sent as a data: URL with base64 content")
    if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise InputError(f"{shown} is larger than {MAX_IMAGE_BYTES >> 20} MB")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{shown}: not valid base64") from None
    return Named(data, shown)


class Named(io.BytesIO):
    """Bytes that errors name as the page does ("the mask", "input.png"), not as a buffer."""

    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name = name

    def __str__(self) -> str:
        return self.name


def quote(*parts) -> str:
    """A shell command line from its words."""
    return " ".join(shlex.quote(str(p)) for p in parts)


def options(**values) -> list[str]:
    """``--flag value`` for each value given (None: left out; ``class_`` → ``--class``)."""
    out = []
    for name, value in values.items():
        if value is not None:
            out += [f"--{name.rstrip('_').replace('_', '-')}", repr(value) if isinstance(value, float) else str(value)]
    return out


# --- Results and the live chain. -------------------------------------------------------------

@dataclass
class Result:
    """What a task made: the samples in the contract, the picture, the files and the commands.

    Attributes:
        array, labels, prob: the ``.npz`` contract (uint8 (N, H, W, C), int64 (N,), float32 (N,)).
        grid: the picture the command's PNG output holds.
        commands: ``ppgn`` command lines that write the same files from the same inputs.
        inputs: the pictures the commands read (uint8 (H, W, C) by file name).
        summary: one line for the page.
    """

    array: np.ndarray
    labels: np.ndarray
    prob: np.ndarray
    grid: object
    commands: list[str]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    summary: str = ""
    stopped_at: int | None = None


def data_url(image) -> str:
    """A PIL image as ``data:image/png;base64,...`` (what an <img> shows without a request)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class LiveChain:
    """The callback the sampler calls after every step: p(y | x) per step, a picture of the chains
    every few steps, and the stop button (returning True ends the chain where it is)."""

    def __init__(self, job: Job, generator: Callable[[], torch.nn.Module], steps: int, show: Callable | None = None):
        self.job, self.generator, self.steps = job, generator, steps
        self.show = show or (lambda x: x)  # what the page sees of G(h): inpainting shows the composite
        self.every = max(1, steps // FRAMES)
        self.p: list[float | None] = []
        self.sent = 0
        self.stopped_at: int | None = None

    def __call__(self, step: int, h: torch.Tensor, prob: torch.Tensor) -> bool:
        p = float(prob.float().mean())
        self.p.append(p if math.isfinite(p) else None)
        if self.job.stop.is_set():
            self.stopped_at = step
            return True
        if step % self.every == 0 or step == self.steps:
            with torch.no_grad():
                x = to_uint8(self.show(self.generator()(h[:SHOWN])))
            picture = make_grid(x, min(len(x), 16 if len(x) > 16 else 8), scale=1)
            self.job.emit("frame", step=step, steps=self.steps, image=data_url(picture), p=self.p[self.sent:])
            self.sent = len(self.p)
        return False


class Streaming:
    """A pipeline whose every ``sample`` call gets ``callback``: the library's own request,
    inpainting and visualisation code runs unchanged and the page still sees each step."""

    def __init__(self, pipe, callback: LiveChain):
        self._pipe, self._callback = pipe, callback

    def __getattr__(self, name: str):
        return getattr(self._pipe, name)

    def sample(self, *args, **kwargs):
        return self._pipe.sample(*args, callback=self._callback, **kwargs)


# --- Tasks. ----------------------------------------------------------------------------------

@dataclass
class Task:
    """A checked request: its model, its cost (chains × steps) and the function that does it."""

    model: str
    work: int
    run: Callable[[Job], Result]


def prepare(server, fields: dict) -> Task:
    """Check the page's fields and return the task they ask for.

    Args:
        server: gives ``pipeline(name)``, ``entry(name)``, ``allow_code``, ``max_work``, ``device``.

    Raises:
        ValueError (InputError, WeightsError) or TypeError: one line naming the field and what is valid.
    """
    if not isinstance(fields, dict):
        raise InputError("the request must be a JSON object of fields")
    task = check_choice(text(fields, "task") or "sample", "task", TASKS)
    model = text(fields, "model")
    if model is None:
        raise InputError("no model chosen")
    entry = server.entry(model)
    if entry.kind not in KINDS[task]:
        valid = [name for name in server.names() if server.entry(name).kind in KINDS[task]]
        raise InputError(f"{model} is a {entry.kind} model; {task} needs a {' or '.join(KINDS[task])} model: {', '.join(valid)}")
    pipe = server.pipeline(model)
    prepared = {"sample": _sample, "inpaint": _inpaint, "colorize": _colorize, "transfer": _transfer}[task](server, pipe, model, fields)
    if prepared.work > server.max_work:
        raise InputError(f"this request costs chains × steps = {prepared.work}, above this server's cap of {server.max_work} "
                         "(ppgn serve --max-work); ask for fewer chains or steps, or run the command line")
    return prepared


def _base(server, model: str) -> list[str]:
    return ["--model", model] + (["--device", server.device] if server.device else [])


def _sample(server, pipe, model: str, fields: dict) -> Task:
    unit = text(fields, "unit")
    if unit is not None:
        return _unit(server, pipe, model, fields, unit)
    module = text(fields, "module")
    if module is not None and not server.allow_code:
        raise InputError("this server runs no code of yours: restart it with 'ppgn serve --allow-code' to plug in a network by module:factory")
    request = SampleRequest(
        class_=text(fields, "class"), num=_default(number(fields, "num", "--num", True), 16),
        seed=_seed(fields), preset=text(fields, "preset") or DEFAULT_PRESET,
        steps=number(fields, "steps", "--steps", True), eps1=number(fields, "eps1", "--eps1"),
        eps2=number(fields, "eps2", "--eps2"), eps3=number(fields, "eps3", "--eps3"),
        form=check_choice(text(fields, "form") or "log-softmax", "--form", ClassCondition.FORMS),
        init=check_choice(text(fields, "init") or "gaussian", "--init", INITS),
        not_class=text(fields, "not_class"), caption=text(fields, "caption"),
        caption_weight=_default(number(fields, "caption_weight", "--caption-weight"), 1.0),
        condition_module=module, weights=text(fields, "weights"), target=number(fields, "target", "--target", True),
        calibrate=check_choice(text(fields, "calibrate") or "up", "--calibrate", CALIBRATIONS),
        temperature=number(fields, "temperature", "--temperature"),
    )  # fmt: skip
    if pipe.kind == "ppgn" and request.temperature is not None:  # the page sends the slider's value for either kind
        request = replace(request, temperature=None)
    check(pipe, request)
    # Class names now, in one line naming the valid ones, rather than as a failed job in the queue.
    asked = parse_class(request.class_, pipe.classes) if request.class_ is not None and not request.per_class else None
    avoided = parse_class(request.not_class, pipe.classes) if request.not_class is not None else None
    if asked is not None and asked == avoided:
        raise InputError(f"--class and --not-class name the same class ({pipe.classes[asked]}): nothing to sample")
    chains = total(pipe, request)
    if chains > MAX_NUM:
        raise InputError(f"--num asks for {chains} chains; the page runs at most {MAX_NUM} at once: use the command line")
    steps = 1 if pipe.kind == "cinn" else (request.steps or get_preset(request.preset).sampler.steps)
    r = request
    ppgn_only = {} if pipe.kind == "cinn" else dict(
        preset=None if r.preset == DEFAULT_PRESET else r.preset, steps=r.steps, eps1=r.eps1, eps2=r.eps2, eps3=r.eps3,
        form=None if r.form == "log-softmax" else r.form, init=None if r.init == "gaussian" else r.init,
        not_class=r.not_class, caption=r.caption, caption_weight=None if r.caption is None or r.caption_weight == 1.0 else r.caption_weight,
        condition_module=r.condition_module, weights=r.weights, target=r.target,
        calibrate=None if r.calibrate == "up" else r.calibrate)  # fmt: skip

    def command(steps_run: int | None = None) -> list[str]:
        given = dict(ppgn_only, steps=steps_run) if steps_run is not None else ppgn_only
        return [quote("ppgn", "sample", *_base(server, model), *options(class_=r.class_, num=r.num, seed=r.seed, **given,
                                                                     temperature=r.temperature),
                      "--out", "samples.npz", "--grid", "grid.png")]

    def work(job: Job) -> Result:
        live = LiveChain(job, lambda: pipe.generator(get_preset(r.preset).generator), steps)
        started = time.perf_counter()
        out = run(Streaming(pipe, live) if pipe.kind == "ppgn" else pipe, request)
        names = ", ".join(sorted({pipe.classes[k] for k in out.labels.tolist()}))
        return Result(out.array, out.labels, out.prob, make_grid(out.array, min(r.num, 16)), command(live.stopped_at),
                      summary=f"{len(out.labels)} samples of {names} in {time.perf_counter() - started:.1f} s: "
                              f"mean p(class) = {float(np.mean(out.prob)):.3f}", stopped_at=live.stopped_at)

    return Task(model, chains * steps, work)


def _unit(server, pipe, model: str, fields: dict, unit: str) -> Task:
    """A hidden unit of the shipped classifier (``ppgn visualize``): on its own, not composed."""
    if pipe.kind != "ppgn":
        raise InputError(f"{model} is a {pipe.kind} model; a hidden unit is visualised with a PPGN model")
    others = [flag for name, flag in (("class", "class"), ("not_class", "NOT class"), ("caption", "caption"), ("module", "network"),
                                      ("eps1", "ε1"), ("eps2", "ε2"), ("eps3", "ε3")) if text(fields, name) is not None]
    if others:
        raise InputError(f"a hidden unit is visualised on its own (ppgn visualize takes --preset and --steps); clear: {', '.join(others)}")
    num = check_count(_default(number(fields, "num", "--num", True), 8), "--num", high=256)
    seed, preset = _seed(fields), check_choice(text(fields, "preset") or DEFAULT_PRESET, "preset", PRESETS)
    steps = number(fields, "steps", "--steps", True)
    if steps is not None:
        steps = check_count(steps, "--steps", high=1_000_000)
    pipe.check_preset(preset)
    net = server.unit_network(model)
    parse_neuron(unit, units_of(pipe, net))  # one line naming the valid layers or units
    chain = steps or get_preset(preset).sampler.steps

    def work(job: Job) -> Result:
        live = LiveChain(job, lambda: pipe.generator(get_preset(preset).generator), chain)
        started = time.perf_counter()
        vis = visualize(Streaming(pipe, live), net, unit, num, seed, preset, "centre", steps)
        with torch.no_grad():  # the contract's labels: what E/C sees in them (no class was asked for)
            p = pipe.classifier(from_uint8(vis.images).to(pipe.device)).softmax(1).cpu()
        labels, prob = p.argmax(1).numpy(), p.max(1).values.float().numpy()
        run_steps = live.stopped_at if live.stopped_at is not None else steps
        command = quote("ppgn", "visualize", *_base(server, model), *options(neuron=unit, num=num, seed=seed,
                        preset=None if preset == DEFAULT_PRESET else preset, steps=run_steps), "--out", "visualize.png")
        return Result(vis.images, labels, prob, make_grid(vis.images, min(num, 16)), [command],
                      summary=f"{num} images driving {vis.layer}:{vis.unit} in {time.perf_counter() - started:.1f} s: "
                              f"mean activation {float(vis.activations.mean()):.3f}", stopped_at=live.stopped_at)

    return Task(model, num * chain, work)


def _inpaint(server, pipe, model: str, fields: dict) -> Task:
    size, _, channels = pipe.image_shape
    pixels = read_image(upload(fields, "image", UPLOAD), channels, size, resize=True)  # uint8 (S, S, C)
    known = read_mask(upload(fields, "mask", "mask.png"), size)  # (1, 1, S, S), 1 where known
    class_ = text(fields, "class")
    num = check_count(_default(number(fields, "num", "--num", True), 8), "--num", high=256)
    seed, preset = _seed(fields), check_choice(text(fields, "preset") or DEFAULT_PRESET, "preset", PRESETS)
    eps4 = _default(number(fields, "eps4", "--eps4"), EPS4)
    eps4 = check_number(eps4, "--eps4", low=0, high=1e6)
    steps = number(fields, "steps", "--steps", True)
    if steps is not None:
        steps = check_count(steps, "--steps", high=1_000_000)
    pipe.check_preset(preset)
    if class_ is not None:
        parse_class(class_, pipe.classes)
    chain = steps or get_preset(preset).sampler.steps
    hole = ((1 - known[0, 0].numpy()) * 255).astype(np.uint8)[..., None]

    def work(job: Job) -> Result:
        known_pixels, known_device = from_uint8(pixels[None]).to(pipe.device), known.to(pipe.device)
        live = LiveChain(job, lambda: pipe.generator(get_preset(preset).generator), chain,
                         show=lambda x: composite(x, known_pixels, known_device))
        started = time.perf_counter()
        result = inpaint(Streaming(pipe, live), from_uint8(pixels[None]), known, class_, num, seed, preset, eps4, steps)
        labels, prob = filed(pipe, result)
        mask = result.mask[0, 0].numpy()[..., None]
        shown = (pixels * mask + 128 * (1 - mask)).astype(np.uint8)  # the hole in grey, as `ppgn inpaint` draws it
        grid = make_grid(np.concatenate([pixels[None], shown[None], result.array]), num + 2)
        run_steps = live.stopped_at if live.stopped_at is not None else steps
        line = ["ppgn", "inpaint", *_base(server, model), "--image", UPLOAD, "--mask", "mask.png",
                *options(class_=class_, num=num, seed=seed, preset=None if preset == DEFAULT_PRESET else preset,
                         eps4=None if eps4 == EPS4 else eps4, steps=run_steps)]
        return Result(result.array, labels, prob, grid, [quote(*line, "--out", "samples.npz"), quote(*line, "--out", "grid.png")],
                      inputs={UPLOAD: pixels, "mask.png": hole}, stopped_at=live.stopped_at,
                      summary=f"{num} fills in {time.perf_counter() - started:.1f} s (input, hole, then the fills)")

    return Task(model, num * chain, work)


def _colorize(server, pipe, model: str, fields: dict) -> Task:
    grey = read_image(upload(fields, "image", UPLOAD), 1, pipe.size, resize=True)[..., 0]  # uint8 (S, S)
    num = check_count(_default(number(fields, "num", "--num", True), 8), "--num", high=1024)
    seed = _seed(fields)
    temperature = check_number(_default(number(fields, "temperature", "--temperature"), 0.8), "--temperature", low=0, low_open=True, high=10)

    def work(job: Job) -> Result:
        images = pipe.colorize(grey, num, seed, temperature)
        row = np.concatenate([np.repeat(grey[None, ..., None], 3, -1), images])
        line = ["ppgn", "colorize", *_base(server, model), "--image", UPLOAD, *options(num=num, seed=seed, temperature=temperature)]
        return Result(images, np.zeros(num, np.int64), np.ones(num, np.float32), make_grid(row, len(row), scale=4),
                      [quote(*line, "--out", "samples.npz"), quote(*line, "--out", "grid.png")], inputs={UPLOAD: grey[..., None]},
                      summary=f"{num} colourings (the grey input first)")

    return Task(model, num, work)


def _transfer(server, pipe, model: str, fields: dict) -> Task:
    read = read_image(upload(fields, "image", UPLOAD), 1, pipe.image_shape[0], resize=True)[..., 0]
    source = text(fields, "from")
    if source is None:
        raise InputError("--from is empty; give the class the image shows (a name or an index)")
    parse_class(source, pipe.classes)

    def work(job: Job) -> Result:
        pixels = light_on_dark(read)
        result = pipe.transfer(pixels, source)
        row = np.concatenate([pixels[None, ..., None], result.array])
        line = ["ppgn", "cinn", "transfer", *_base(server, model), "--image", UPLOAD, "--from", source]
        return Result(result.array, result.labels, result.prob, make_grid(row, len(row), scale=3),
                      [quote(*line, "--out", "samples.npz"), quote(*line, "--out", "grid.png")], inputs={UPLOAD: read[..., None]},
                      summary=f"encoded as class {source}, decoded as every class (the input first)")

    return Task(model, len(pipe.classes), work)


def _seed(fields: dict) -> int:
    return check_seed(_default(number(fields, "seed", "--seed", True), 0), "--seed")


def _default(value, default):
    return default if value is None else value


# --- Writing a result. -----------------------------------------------------------------------

def write(result: Result, folder: Path) -> dict[str, str]:
    """The result's files in ``folder``: samples.npz (the contract), grid.png, the inputs the
    commands read. Returns {file name: what it is}."""
    folder.mkdir(parents=True, exist_ok=True)
    save_npz(folder / "samples.npz", result.array, result.labels, result.prob)
    save_image(result.grid, folder / "grid.png")
    files = {"samples.npz": "the samples (.npz contract)", "grid.png": "the picture"}
    for name, pixels in result.inputs.items():
        from PIL import Image

        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(folder / name)
        files[name] = "an input the command reads"
    return files
