"""Tests for ppgn.models.io: safetensors save/load with the config inside, cards, clear errors."""

from __future__ import annotations

import json
import os

import pytest
import torch

import ppgn.models.io as mio
from ppgn.models import (
    Classifier,
    ClassifierConfig,
    Generator,
    GeneratorConfig,
    WeightsError,
    load_model,
    read_card,
    save_model,
)
from ppgn.models.io import read_metadata

CLF_CONFIG = ClassifierConfig(channels=(4, 8), code_dim=16)
GEN_CONFIG = GeneratorConfig(code_dim=16, channels=(8, 4))


def _randomise_buffers(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Give BatchNorm statistics (and code_max) non-default values, so buffers are checked too."""
    g = torch.Generator().manual_seed(seed)
    for name, buf in model.named_buffers():
        if buf.is_floating_point():
            buf.copy_(torch.rand(buf.shape, generator=g) + 0.5)
    return model.eval()


@pytest.fixture
def clf():
    torch.manual_seed(0)
    return _randomise_buffers(Classifier(CLF_CONFIG), 1)


@pytest.fixture
def gen():
    torch.manual_seed(2)
    return _randomise_buffers(Generator(GEN_CONFIG), 3)


def _inputs(model):
    g = torch.Generator().manual_seed(4)
    if isinstance(model, Classifier):
        return torch.rand(3, 1, 28, 28, generator=g) * 2 - 1
    return torch.rand(3, 16, generator=g)


@pytest.mark.parametrize("which", ["clf", "gen"])
def test_round_trip_float32(tmp_path, request, which):
    model = request.getfixturevalue(which)
    path = tmp_path / f"{which}.safetensors"
    save_model(model, path)
    torch.manual_seed(99)  # the rebuilt model starts from different random weights
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert not loaded.training
    assert list(model.state_dict()) == list(loaded.state_dict())
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and a.dtype == b.dtype and torch.equal(a, b), k
    x = _inputs(model)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize("which", ["clf", "gen"])
def test_round_trip_float16(tmp_path, request, which):
    model = request.getfixturevalue(which)
    save_model(model, tmp_path / "full.safetensors")
    save_model(model, tmp_path / "half.safetensors", dtype=torch.float16)
    full, half = (tmp_path / "full.safetensors").stat().st_size, (tmp_path / "half.safetensors").stat().st_size
    assert half < 0.6 * full
    loaded = load_model(tmp_path / "half.safetensors")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert loaded.config == model.config
    x = _inputs(model)
    with torch.no_grad():
        expected, got = model(x), loaded(x)
    assert not torch.equal(expected, got)  # it really was rounded
    torch.testing.assert_close(got, expected, atol=1e-2, rtol=0)


def test_card(tmp_path, clf):
    path = tmp_path / "clf.safetensors"
    save_model(clf, path, card={"accuracy": 0.5, "dataset": "digits"})
    assert (tmp_path / "clf.json").is_file()
    card = read_card(path)
    assert card == json.loads((tmp_path / "clf.json").read_text())
    assert card["class"] == "Classifier" and card["accuracy"] == 0.5 and card["dataset"] == "digits"
    assert card["config"]["channels"] == [4, 8] and card["config"]["code_dim"] == 16
    meta = read_metadata(path)
    assert meta["class"] == "Classifier" and json.loads(meta["config"])["code_dim"] == 16


def test_no_card_without_card(tmp_path, gen):
    save_model(gen, tmp_path / "g.safetensors")
    assert read_card(tmp_path / "g.safetensors") == {}
    assert sorted(os.listdir(tmp_path)) == ["g.safetensors"]


def test_no_temporary_files_left(tmp_path, clf, gen):
    save_model(clf, tmp_path / "c.safetensors", card={"note": "x"})
    save_model(gen, tmp_path / "g.safetensors", dtype=torch.float16, card={})
    save_model(gen, tmp_path / "g.safetensors")  # overwrite
    assert sorted(os.listdir(tmp_path)) == ["c.json", "c.safetensors", "g.json", "g.safetensors"]


def test_save_creates_parent_folder(tmp_path, gen):
    save_model(gen, tmp_path / "a" / "b" / "g.safetensors")
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "a" / "b" / "g.safetensors")(_inputs(gen)), gen(_inputs(gen)))


def test_expect(tmp_path, clf):
    path = tmp_path / "clf.safetensors"
    save_model(clf, path)
    assert isinstance(load_model(path, expect=Classifier), Classifier)
    with pytest.raises(WeightsError, match="Generator") as info:
        load_model(path, expect=Generator)
    assert "\n" not in str(info.value)


def _one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def test_missing_file(tmp_path):
    for call in (load_model, read_metadata):
        with pytest.raises(WeightsError) as info:
            call(tmp_path / "nope.safetensors")
        assert "weights" in _one_line(info)
    assert issubclass(WeightsError, ValueError)


def test_truncated_and_random_files(tmp_path, clf):
    save_model(clf, tmp_path / "good.safetensors")
    raw = (tmp_path / "good.safetensors").read_bytes()
    (tmp_path / "half.safetensors").write_bytes(raw[: len(raw) // 2])
    noise = torch.randint(0, 256, (4096,), dtype=torch.uint8, generator=torch.Generator().manual_seed(5))
    (tmp_path / "random.safetensors").write_bytes(noise.numpy().tobytes())
    (tmp_path / "empty.safetensors").write_bytes(b"")
    for name in ("half", "random", "empty"):
        with pytest.raises(WeightsError) as info:
            load_model(tmp_path / f"{name}.safetensors")
        assert "corrupt" in _one_line(info), name


def test_wrong_shapes_raise(tmp_path, clf):
    save_model(clf, tmp_path / "c.safetensors")
    meta = read_metadata(tmp_path / "c.safetensors")
    config = json.loads(meta["config"])
    config["code_dim"] = 32  # the config now disagrees with the tensors
    state = {k: v.contiguous() for k, v in clf.state_dict().items()}
    meta = {"class": "Classifier", "config": json.dumps(config)}
    mio.save_file(state, str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="do not fit") as info:
        load_model(tmp_path / "bad.safetensors")
    _one_line(info)


def test_failed_save_leaves_nothing(tmp_path, clf, gen, monkeypatch):
    good = tmp_path / "m.safetensors"
    save_model(gen, good)
    before = good.read_bytes()

    def boom(state, filename, metadata=None):
        with open(filename, "wb") as f:  # write part of a file first, then fail
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(mio, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        save_model(clf, good)
    with pytest.raises(OSError, match="disk full"):
        save_model(clf, tmp_path / "new.safetensors")
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors"]
    assert good.read_bytes() == before
    with torch.no_grad():  # and it still holds the generator saved first
        assert torch.equal(load_model(good, expect=Generator)(_inputs(gen)), gen(_inputs(gen)))


def test_saved_file_mode_honours_umask(tmp_path, gen):
    old = os.umask(0o022)
    try:
        save_model(gen, tmp_path / "g.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "g.safetensors").stat().st_mode & 0o777 == 0o644
