"""Fault injection for `ppgn train`: every bad number, output folder, checkpoint or diverging run is
refused in one line (exit 2, ``error: ...`` naming the flag or file), with no traceback and no new file.

The table runs each command through ``ppgn.cli.app.run`` (the real entry point); the property
tests feed the configs NaN, infinities, negatives and fractions through the Python API.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ppgn.training.loop as loop
from ppgn.cli.app import run
from ppgn.io import InputError
from ppgn.models import WeightsError
from ppgn.training.all import AllTrainConfig
from ppgn.training.captioner import CaptionerTrainConfig
from ppgn.training.cinn import CINNTrainConfig
from ppgn.training.classifier import ClassifierTrainConfig
from ppgn.training.colorize import ColorizerTrainConfig
from ppgn.training.common import flag
from ppgn.training.condition_net import ConditionNetTrainConfig
from ppgn.training.dae import DAETrainConfig
from ppgn.training.flow_prior import FlowPriorTrainConfig
from ppgn.training.generator import GeneratorTrainConfig

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FM, MN = str(FIXTURES / "fashion-mnist"), str(FIXTURES / "mnist")
CLASSIFIER = str(Path(__file__).resolve().parents[1] / "ppgn" / "weights" / "fashion-mnist" / "classifier.safetensors")
NET = ["condition-net", "--module", "ppgn.examples.condition_nets:mlp", "--dataset", "mnist", "--data-dir", MN,
       "--train-subset", "64", "--batch-size", "32", "-q"]  # fmt: skip  # a few CPU seconds


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to see that a refused run changed nothing)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, args: list[str], *needles: str) -> str:
    """``ppgn ARGS`` exits 2 with exactly one line on stderr, ``error: ...``, holding every needle."""
    capsys.readouterr()
    code = run([str(a) for a in args])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# Values refused before any work: numbers while the arguments are parsed (before torch is needed),
# then what the configs check (image shapes, a factory's path, the captioner's data).
ARGUMENTS = [
    (["generator", "--noise", "nan"], "--noise"),
    (["generator", "--noise", "-0.5"], "--noise"),
    (["generator", "--width", "0"], "--width"),
    (["generator", "--d-width", "inf"], "--d-width"),
    (["dae-h", "--noise", "nan"], "--noise"),
    (["dae-x", "--noise", "0"], "--noise"),
    (["classifier", "--train-subset", "-5"], "--train-subset"),
    (["classifier", "--epochs", "0"], "--epochs"),
    (["classifier", "--batch-size", "0"], "--batch-size"),
    (["classifier", "--seed", "-1"], "--seed"),
    (["classifier", "--width", "nan"], "--width"),
    (["classifier", "--size", "0"], "--size"),
    (["classifier", "--channels", "4"], "--channels"),
    (["classifier", "--workers", "-1"], "--workers"),
    (["evaluator", "--epochs", "2.5"], "--epochs"),
    (["cinn", "--lr", "nan"], "--lr"),
    (["cinn", "--lr", "1e999"], "--lr"),
    (["cinn", "--clamp", "0"], "--clamp"),
    (["cinn", "--blocks", "0"], "--blocks"),
    (["cinn", "--class-weight", "-1"], "--class-weight"),
    (["cinn", "--noise", "inf"], "--noise"),
    (["cinn", "--train-subset", "-1"], "--train-subset"),
    (["cinn", "--conv-hidden", "32,0"], "--conv-hidden"),
    (["flow-prior", "--noise", "nan"], "--noise"),
    (["flow-prior", "--hidden", "0"], "--hidden"),
    (["colorizer", "--size", "7"], "--size"),
    (["colorizer", "--blocks", "-2"], "--blocks"),
    (["condition-net", "--module", "ppgn.examples.condition_nets:mlp", "--train-subset", "-3"], "--train-subset"),
    (["captioner", "--epochs", "-1"], "--epochs"),
    (["captioner", "--batch-size", "nan"], "--batch-size"),
    (["all", "--data", "digits", "--width", "nan"], "--width"),
    (["all", "--data", "digits", "--generator-width", "0"], "--generator-width"),
    (["all", "--data", "digits", "--code-dim", "0"], "--code-dim"),
    (["all", "--data", "digits", "--dae-epochs", "0"], "--dae-epochs"),
    (["all", "--data", "digits", "--train-subset", "-1"], "--train-subset"),
    (["all", "--data", "digits", "--seed", "-7"], "--seed"),
    (["classifier", "--width", "1e308"], "--width"),  # absurd: no network can be built that wide
    (["classifier", "--epochs", str(10**30)], "--epochs"),
    (["cinn", "--blocks", str(10**30)], "--blocks"),
    (["cinn", "--noise", "2"], "--noise"),  # σ on pixels in [0, 1]
    (["colorizer", "--size", str(10**30)], "--size"),
    (["generator", "--noise", "1e308"], "--noise"),
    (["classifier", "--seed", str(2**63)], "--seed"),
    (["classifier", "--size", "27"], "--size"),
    (["all", "--data", "digits", "--channels", "2"], "--channels"),
    (["condition-net", "--module", ":"], "--module"),
    (["captioner", "--dataset", "mnist"], "--dataset"),
    (["cinn", "--conv-blocks", "", "--layout", "multiscale"], "--conv-blocks"),
]

# A subset (or data set) smaller than one batch: refused once the data is open, before training.
TOO_SMALL = [
    ["classifier", "--data", "fashion-mnist", "--data-dir", FM, "--train-subset", "5", "--batch-size", "64"],
    ["generator", "--data", "fashion-mnist", "--data-dir", FM, "--classifier", CLASSIFIER, "--train-subset", "5"],
    ["dae-x", "--data", "mnist", "--data-dir", MN, "--train-subset", "5"],
    ["cinn", "--dataset", "mnist", "--data-dir", MN, "--train-subset", "5"],
    ["condition-net", "--module", "ppgn.examples.condition_nets:mlp", "--dataset", "mnist", "--data-dir", MN, "--train-subset", "5"],
    ["captioner", "--dataset", "fashion-mnist", "--data-dir", FM, "--classifier", "none", "--train-subset", "20", "--batch-size", "32"],
    ["all", "--data", "fashion-mnist", "--data-dir", FM, "--train-subset", "100"],
]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty folder the commands run in (default outputs land there too)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("args, name", ARGUMENTS, ids=[" ".join(a) for a, _ in ARGUMENTS])
def test_a_bad_value_is_one_line_naming_the_flag(capsys, workdir, args, name):
    refused(capsys, ["train", *args, "--out", workdir / "out", "-q"], name)
    assert files_under(workdir) == {}


@pytest.mark.parametrize("args", TOO_SMALL, ids=[a[0] for a in TOO_SMALL])
def test_a_subset_smaller_than_a_batch_is_one_line(capsys, workdir, args):
    refused(capsys, ["train", *args, "--epochs", "1", "--out", workdir / "out", "-q"], "--train-subset", "--batch-size", "fewer than one batch")
    assert files_under(workdir) == {}


@pytest.mark.parametrize("command", [["classifier"], ["generator"], ["dae-h"], ["cinn"], ["flow-prior"], ["colorizer"],
                                     NET[:3], ["captioner", "--classifier", "none"], ["all", "--data", "digits"]])  # fmt: skip
def test_an_out_that_cannot_be_a_folder_is_refused_first(capsys, workdir, command):
    (workdir / "file").write_text("x")
    before = files_under(workdir)
    refused(capsys, ["train", *command, "--out", workdir / "file", "-q"], "--out", "file")
    refused(capsys, ["train", *command, "--out", workdir / "file" / "sub", "-q"], "--out", "is a file")
    assert files_under(workdir) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_out_in_a_read_only_folder_is_refused_first(capsys, workdir):
    locked = workdir / "locked"
    locked.mkdir(mode=0o500)
    try:
        refused(capsys, ["train", *NET, "--out", locked / "net"], "--out", "cannot write")
    finally:
        locked.chmod(0o700)
    assert files_under(workdir) == {}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A condition-net folder trained for one epoch (2 steps): its checkpoint is a real one."""
    out = tmp_path_factory.mktemp("trained") / "net"
    assert run(["train", *NET, "--epochs", "1", "--out", str(out)]) == 0
    assert (out / "checkpoint.pt").is_file()
    return out


class Hostile:
    """A pickle that would leave a file behind if it were ever unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _corrupt(kind: str, real: bytes, marker: Path):
    """Writes a bad checkpoint of ``kind`` into a path."""
    return {
        "empty": lambda p: p.write_bytes(b""),
        "random": lambda p: p.write_bytes(os.urandom(4096)),
        "truncated": lambda p: p.write_bytes(real[: len(real) // 2]),
        "hostile-pickle": lambda p: p.write_bytes(pickle.dumps({"step": Hostile(marker)})),
        "hostile-zip": lambda p: torch.save({"step": 1, "x": Hostile(marker)}, p),
        "not-a-state": lambda p: torch.save(torch.zeros(3), p),
        "missing-keys": lambda p: torch.save({"step": 3}, p),
    }[kind]


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "hostile-pickle", "hostile-zip", "not-a-state", "missing-keys"])
def test_a_bad_checkpoint_is_one_line_naming_the_file_and_runs_nothing(capsys, trained, tmp_path, kind):
    out, marker = tmp_path / "net", tmp_path / "pwned"
    out.mkdir()
    _corrupt(kind, (trained / "checkpoint.pt").read_bytes(), marker)(out / "checkpoint.pt")
    before = files_under(tmp_path)
    refused(capsys, ["train", *NET, "--epochs", "1", "--out", out], str(out / "checkpoint.pt"), "delete it", "--out")
    assert not marker.exists()  # the hostile pickle was refused unread
    assert files_under(tmp_path) == before
    with pytest.raises(WeightsError, match="checkpoint.pt"):
        loop.Checkpoint(out).load()


def test_another_config_over_a_checkpoint_is_refused_naming_what_changed(capsys, trained, tmp_path):
    out = tmp_path / "net"
    shutil.copytree(trained, out)
    before = files_under(tmp_path)
    line = refused(capsys, ["train", *NET, "--epochs", "2", "--out", out], "--epochs 1 → 2", str(out / "checkpoint.pt"), "another --out")
    assert "--batch-size" not in line  # only what differs
    assert files_under(tmp_path) == before
    assert run(["train", *NET, "--epochs", "1", "--out", str(out)]) == 0  # the same options resume it


def test_a_diverging_run_stops_in_one_line_and_writes_nothing(capsys, workdir):
    args = ["train", "cinn", "--dataset", "mnist", "--data-dir", MN, "--train-subset", "64", "--batch-size", "32",
            "--epochs", "1", "--blocks", "1", "--hidden", "8", "--lr", "1000", "--out", workdir / "flow", "-q"]  # fmt: skip
    refused(capsys, args, "train cinn diverged at step", "lower the learning rate", "nothing was written")
    assert files_under(workdir) == {}


@dataclasses.dataclass(frozen=True)
class Tiny:
    epochs: int = 1
    batch_size: int = 4
    seed: int = 0


def _fit(out: Path, terms, checkpoint_every: int = 2):
    """``Run.fit`` of a one-weight model over 4 steps; ``terms(step, w)`` gives the logged scalars."""
    run_ = loop.Run.start(Tiny(), out, "cpu", quiet=True, checkpoint_every=checkpoint_every)
    model = torch.nn.Linear(1, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    made = []

    def step(idx):
        made.append(len(made) + 1)
        loss = model(torch.ones(1, 1)).square().mean()
        run_.descend(loss, opt)
        return terms(len(made), model, loss)

    run_.fit(16, step, dict(model=model, opt=opt), "train tiny")
    return model


def test_a_non_finite_term_stops_the_loop_naming_it_and_keeps_the_last_good_checkpoint(tmp_path):
    def terms(step, model, loss):
        bad = torch.tensor(float("nan") if step == 3 else 1.0)
        return {"loss": loss + bad, "img": loss.detach(), "h1": bad}

    with pytest.raises(loop.TrainingDiverged, match=r"train tiny diverged at step 3: the loss term h1 = nan.*checkpoint of step 2") as err:
        _fit(tmp_path, terms)
    assert "\n" not in str(err.value) and "img" not in str(err.value)
    state = loop.Checkpoint(tmp_path).load()
    assert state["step"] == 2 and all(torch.isfinite(v).all() for v in state["model"].values())


def test_weights_that_overflow_under_a_finite_loss_are_never_checkpointed(tmp_path):
    def terms(step, model, loss):
        if step == 4:
            with torch.no_grad():
                model.weight.fill_(float("inf"))  # the update overflowed; this step's loss was still finite
        return loss

    with pytest.raises(loop.TrainingDiverged, match="step 4: the weights of model are not finite"):
        _fit(tmp_path, terms)
    assert loop.Checkpoint(tmp_path).load()["step"] == 2


# Every numeric field of every training config, by the rule it follows.
BASE = {AllTrainConfig: dict(data="digits")}
FIELDS = {
    ClassifierTrainConfig: dict(count=["epochs", "batch_size", "code_dim", "size", "channels"], positive=["width", "lr"],
                                non_negative=["weight_decay", "label_smoothing", "max_shift", "train_subset", "seed"]),
    GeneratorTrainConfig: dict(count=["epochs", "batch_size", "size", "channels"], positive=["width", "d_width", "lr"],
                               non_negative=["noise", "lambda_img", "lambda_h1", "lambda_h", "lambda_gan", "train_subset", "seed"]),
    DAETrainConfig: dict(count=["epochs", "batch_size", "size", "channels"], positive=["noise", "lr"], non_negative=["train_subset", "seed"]),
    CINNTrainConfig: dict(count=["epochs", "batch_size", "blocks", "hidden", "cond_features", "class_batch"],
                          positive=["lr", "grad_clip", "clamp", "noise"],
                          non_negative=["weight_decay", "class_weight", "train_subset", "seed", "logit_alpha"]),
    FlowPriorTrainConfig: dict(count=["blocks", "hidden", "epochs", "batch_size"], positive=["noise", "clamp", "lr", "grad_clip"],
                               non_negative=["weight_decay", "seed"]),
    ColorizerTrainConfig: dict(count=["epochs", "batch_size", "blocks", "hidden", "cond_features", "levels", "size"],
                               positive=["lr", "grad_clip", "clamp"], non_negative=["weight_decay", "noise", "seed"]),
    ConditionNetTrainConfig: dict(count=["epochs", "batch_size"], positive=["lr"], non_negative=["weight_decay", "max_shift", "train_subset", "seed"]),
    CaptionerTrainConfig: dict(count=["epochs", "batch_size"], positive=["lr"], non_negative=["train_subset", "seed"]),
    AllTrainConfig: dict(count=["code_dim", "size", "channels", "epochs", "classifier_epochs", "evaluator_epochs", "generator_epochs",
                                "dae_epochs", "batch_size"], positive=["width", "generator_width"], non_negative=["train_subset", "seed"]),
}  # fmt: skip
INTEGERS = {"epochs", "batch_size", "code_dim", "size", "channels", "blocks", "hidden", "cond_features", "class_batch", "levels",
            "max_shift", "train_subset", "seed", "classifier_epochs", "evaluator_epochs", "generator_epochs", "dae_epochs"}  # fmt: skip
FIELD_CASES = [(cls, field, rule) for cls, rules in FIELDS.items() for rule, fields in rules.items() for field in fields]
NON_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _refused_config(cls, field: str, value) -> str:
    with pytest.raises(InputError) as err:
        cls(**BASE.get(cls, {}), **{field: value})
    message = str(err.value)
    assert flag(field) in message and "\n" not in message, message
    return message


@pytest.mark.parametrize("cls, field, rule", FIELD_CASES, ids=[f"{c.__name__}.{f}" for c, f, _ in FIELD_CASES])
@SETTINGS
@given(value=NON_FINITE)
def test_a_config_refuses_nan_and_infinities_naming_the_field(cls, field, rule, value):
    _refused_config(cls, field, value)


@pytest.mark.parametrize("cls, field, rule", FIELD_CASES, ids=[f"{c.__name__}.{f}" for c, f, _ in FIELD_CASES])
@SETTINGS
@given(data=st.data())
def test_a_config_refuses_numbers_below_its_bounds_naming_the_field(cls, field, rule, data):
    if field in INTEGERS:
        below = st.integers(max_value=0 if rule == "count" else -1, min_value=-(2**70))
    else:
        below = st.floats(max_value=0.0 if rule == "positive" else -1e-12, allow_nan=False, allow_infinity=False)
    _refused_config(cls, field, data.draw(below))


BOUNDED = [(c, f) for c, f, _ in FIELD_CASES if f != "train_subset"]  # more than the set has = all of it


@pytest.mark.parametrize("cls, field", BOUNDED, ids=[f"{c.__name__}.{f}" for c, f in BOUNDED])
@SETTINGS
@given(data=st.data())
def test_a_config_refuses_absurd_numbers_naming_the_field(cls, field, data):
    absurd = st.integers(min_value=2**63, max_value=10**30) if field in INTEGERS else st.floats(min_value=1e6, max_value=1e308)
    _refused_config(cls, field, data.draw(absurd))


@pytest.mark.parametrize("cls, field", [(c, f) for c, f, _ in FIELD_CASES if f in INTEGERS],
                         ids=[f"{c.__name__}.{f}" for c, f, _ in FIELD_CASES if f in INTEGERS])  # fmt: skip
@SETTINGS
@given(value=st.floats(min_value=0.01, max_value=1e6).filter(lambda v: not float(v).is_integer()))
def test_a_config_refuses_fractions_where_it_counts(cls, field, value):
    _refused_config(cls, field, value)


@pytest.mark.parametrize("cls", list(FIELDS), ids=[c.__name__ for c in FIELDS])
@SETTINGS
@given(text=st.text(max_size=5))
def test_a_config_refuses_text_for_a_number_naming_the_field(cls, text):
    with pytest.raises(TypeError, match="seed"):
        cls(**BASE.get(cls, {}), seed=text)


def test_the_defaults_pass_their_own_checks():
    for cls in FIELDS:
        cls(**BASE.get(cls, {}))
    assert DAETrainConfig(space="x").noise == 0.25 and CINNTrainConfig(dequantisation="gaussian").logit_alpha == 0.0
