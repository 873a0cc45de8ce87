"""Faults while sampling: a chain that goes NaN stops and names the term; a user's network that
raises, or cuts its output from the graph, is named; the Python API refuses bad arguments in
one line naming them; several outputs are written all or none."""

import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ppgn
from ppgn.io import InputError, all_or_none, write_text
from ppgn.models.device import pick_device
from ppgn.sampling import ChainDiverged, GaussianCondition, GaussianPrior, MALASampler, NoPrior, SamplerConfig


class Identity(torch.nn.Module):
    def forward(self, h):
        return h


class Broken:
    """A prior or a condition that returns NaN (or a huge value) from step ``after`` on."""

    def __init__(self, after=0, value=float("nan")):
        self.calls, self.after, self.value = 0, after, value

    def score(self, h, x=None):
        self.calls += 1
        return torch.full_like(h, self.value) if self.calls > self.after else -h

    def log_prob(self, x):
        self.calls += 1
        bad = self.calls > self.after
        return (x * (self.value if bad else 1.0)).sum(1) - x.square().sum(1)


def chain(prior, condition, steps=30, eps1=1.0):
    sampler = MALASampler(SamplerConfig(steps=steps, eps1=eps1, eps2=1.0, eps3=0.1, clip=False))
    return sampler.sample(torch.zeros(4, 3), Identity(), prior, condition, torch.Generator().manual_seed(0))


def test_a_healthy_chain_runs_to_the_end():
    out = chain(GaussianPrior(), GaussianCondition(torch.ones(3)))
    assert out.h.isfinite().all() and out.prob.shape == (30, 4)


@pytest.mark.parametrize(
    "prior,condition,eps1,term,step",
    [
        (Broken(after=12), GaussianCondition(torch.ones(3)), 1.0, "the prior term", 13),
        (GaussianPrior(), Broken(after=3), 1.0, "the condition term", 4),
        # finite but huge: ε1·score overflows float32 in the update itself
        (Broken(after=0, value=3e38), GaussianCondition(torch.ones(3)), 10.0, "the update", 1),
    ],
)
def test_a_chain_that_goes_non_finite_stops_naming_the_term_and_step(prior, condition, eps1, term, step):
    with pytest.raises(ChainDiverged, match=f"at step {step} of 30: {term}"):
        chain(prior, condition, eps1=eps1)


def test_start_codes_with_nan_are_refused():
    sampler = MALASampler(SamplerConfig(steps=3))
    with pytest.raises(ChainDiverged, match="start codes"):
        sampler.sample(torch.full((2, 3), float("nan")), Identity(), NoPrior(), GaussianCondition(torch.ones(3)))


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(["eps1", "eps2", "eps3", "step_size"]),
    value=st.one_of(st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300]), st.floats(max_value=-1e-9)),
)
def test_sampler_config_refuses_non_finite_negative_or_absurd_weights(name, value):
    with pytest.raises(InputError, match=name):
        SamplerConfig(**{name: value})


# ---- the Python API ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipe():
    return ppgn.load("fashion-mnist")


@pytest.mark.parametrize(
    "kwargs,error,needle",
    [
        (dict(num=2.5), InputError, "num must be an integer"),
        (dict(num="2"), TypeError, "num must be an integer"),
        (dict(num=0), InputError, "num"),
        (dict(seed="abc"), TypeError, "seed"),
        (dict(seed=None), TypeError, "seed"),
        (dict(seed=2**70), InputError, "seed"),
        (dict(seed=-1), InputError, "seed"),
        (dict(eps2=float("nan")), InputError, "eps2"),
        (dict(steps=0), InputError, "steps"),
        (dict(form="softmax"), InputError, "log-softmax"),
        (dict(init="normal"), ValueError, "gaussian"),
        (dict(preset="ppgn-z"), ValueError, "joint-ppgn-h"),
    ],
)
def test_the_api_names_the_bad_argument(pipe, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        pipe.sample("bag", **{"steps": 2, "num": 2, **kwargs})


@pytest.mark.parametrize("device,needle", [("bogus", "unknown device"), ("cuda:7", "not on this machine"), ("meta", "unsupported"), (3, "must be a string")])
def test_devices_are_checked_with_the_valid_choices(device, needle):
    if device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    with pytest.raises((InputError, TypeError), match=needle):
        pick_device(device)
    if isinstance(device, str):
        with pytest.raises(InputError, match="valid: cpu"):
            ppgn.load("fashion-mnist", device=device)


def test_a_cinn_checks_its_arguments_too():
    cinn = ppgn.load("mnist-cinn")
    for kwargs, needle in [(dict(num=1.5), "num"), (dict(seed="x"), "seed"), (dict(temperature=float("nan")), "temperature")]:
        with pytest.raises((InputError, TypeError), match=needle):
            cinn.sample(3, **kwargs)


# ---- a user's network --------------------------------------------------------------------------

USER_NETS = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Raises(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.calls > 1:  # the check at load time passes; the chain's first step fails
                raise RuntimeError("boom inside the user's forward")
            return self.fc(x.flatten(1))

    class Detached(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            return self.fc(x.flatten(1)).detach()

    class NaNs(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            return self.fc(x.flatten(1)) * float("nan")

    def raises(): return Raises()
    def detached(): return Detached()
    def nans(): return NaNs()
    def factory_fails(): raise KeyError("no such config")
    """
)


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "bad_user_nets.py").write_text(USER_NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "bad_user_nets"
    sys.modules.pop("bad_user_nets", None)


def run_cli(capsys, *args):
    from ppgn.cli.app import run

    code = run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "factory,needles",
    [
        ("raises", ["bad_user_nets:raises failed on input", "boom inside"]),
        ("detached", ["bad_user_nets:detached returns an output cut from its input"]),
        ("factory_fails", ["bad_user_nets:factory_fails() raised KeyError"]),
        ("nans", ["non-finite", "the condition term"]),
    ],
)
def test_a_misbehaving_user_network_is_named_in_one_line(capsys, tmp_path, user_module, factory, needles):
    out = tmp_path / "s.npz"
    code, _, err = run_cli(capsys, "sample", "--condition-module", f"{user_module}:{factory}", "--target", 1,
                           "--calibrate", "off", "-n", 2, "--steps", 3, "--out", out, "-q")
    assert code == 2 and err.count("\n") == 1 and err.startswith("error:") and "Traceback" not in err, err
    for needle in needles:
        assert needle in err
    assert not out.exists()


# ---- outputs: checked first, written all or none -------------------------------------------------


def test_a_failing_second_output_leaves_no_first(capsys, tmp_path, monkeypatch):
    import ppgn.io.files as files

    def broken_gif(frames, path, ms_per_frame=60):
        raise OSError("disk full")

    monkeypatch.setattr(files, "save_gif", broken_gif)
    npz, gif = tmp_path / "s.npz", tmp_path / "c.gif"
    code, _, err = run_cli(capsys, "sample", "-c", "bag", "-n", 2, "--steps", 2, "--out", npz, "--gif", gif, "-q")
    assert code == 2 and "disk full" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_all_or_none_renames_every_output_only_at_the_end(tmp_path):
    with all_or_none():
        write_text(tmp_path / "a.txt", "a")
        assert not (tmp_path / "a.txt").exists()  # staged, not yet in place
        write_text(tmp_path / "b.txt", "b")
    assert (tmp_path / "a.txt").read_text() == "a" and (tmp_path / "b.txt").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary left


def test_strict_json_holds_no_bare_nan(tmp_path):
    import json

    from ppgn.io import write_json

    write_json(tmp_path / "m.json", {"fid": float("nan"), "per_class": [np.float32("inf"), 1.5]})
    text = (tmp_path / "m.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"fid": None, "per_class": [None, 1.5]}
