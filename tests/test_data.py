"""Tests for ppgn.data: the IDX reader/writer, locating and loading datasets, class names, tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ppgn.data.datasets as ds
from ppgn.data.datasets import FASHION_MNIST_CLASSES, DataNotFoundError, find_dataset_dir, load_digits_28
from ppgn.data.datasets import load_fashion_mnist, parse_class, to_tensor, to_uint8
from ppgn.data.idx import read_idx, write_idx

N_TRAIN, N_TEST = 20, 10


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
@pytest.mark.parametrize("shape", [(5, 28, 28), (7,)])
def test_idx_round_trip(tmp_path, name, shape):
    a = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    write_idx(tmp_path / name, a)
    b = read_idx(tmp_path / name)
    assert b.dtype == np.uint8 and b.shape == shape
    np.testing.assert_array_equal(a, b)


def test_idx_gz_is_compressed(tmp_path):
    a = np.zeros((10, 28, 28), np.uint8)
    write_idx(tmp_path / "z.gz", a)
    write_idx(tmp_path / "z", a)
    assert (tmp_path / "z.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "z.gz").stat().st_size < (tmp_path / "z").stat().st_size == 4 + 12 + a.size


def test_idx_truncated_raises(tmp_path):
    write_idx(tmp_path / "x", np.ones((4, 28, 28), np.uint8))
    raw = (tmp_path / "x").read_bytes()
    (tmp_path / "data").write_bytes(raw[: len(raw) // 2])  # header intact, data short
    (tmp_path / "head").write_bytes(raw[:9])  # header itself cut short
    with pytest.raises(ValueError, match="expected"):
        read_idx(tmp_path / "data")
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "head")


def test_idx_bad_magic_raises(tmp_path):
    write_idx(tmp_path / "x", np.ones((3,), np.uint8))
    raw = bytearray((tmp_path / "x").read_bytes())
    raw[0] = 0x1F
    (tmp_path / "bad").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad")


def test_idx_truncated_gzip_raises_valueerror(tmp_path):
    write_idx(tmp_path / "x.gz", np.arange(60, dtype=np.uint8).reshape(3, 4, 5))
    raw = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError):
        read_idx(tmp_path / "cut.gz")


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(ds, "DEBIAN_FASHION_MNIST", tmp_path / "no-such-debian-dir")
    monkeypatch.delenv("PPGN_DATA", raising=False)


def _write_fashion(d, seed=0):
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for split, prefix, n in (("train", "train", N_TRAIN), ("test", "t10k", N_TEST)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        write_idx(d / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(d / f"{prefix}-labels-idx1-ubyte.gz", labels)
        out[split] = (images, labels)
    return out


def _check_loaded(data_dir, truth):
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        got = load_fashion_mnist(split, data_dir)
        assert len(got) == n and got.images.shape == (n, 28, 28) and got.images.dtype == np.uint8
        assert got.labels.dtype == np.int64
        np.testing.assert_array_equal(got.images, truth[split][0])
        np.testing.assert_array_equal(got.labels, truth[split][1])
        assert got.classes == FASHION_MNIST_CLASSES and len(got.sha256) == 64


def test_found_via_data_dir(tmp_path, no_debian):
    truth = _write_fashion(tmp_path / "fm")
    assert find_dataset_dir(tmp_path / "fm") == tmp_path / "fm"
    _check_loaded(tmp_path / "fm", truth)
    a, b = load_fashion_mnist("train", tmp_path / "fm"), load_fashion_mnist("test", tmp_path / "fm")
    assert a.sha256 != b.sha256


def test_found_via_env(tmp_path, no_debian, monkeypatch):
    truth = _write_fashion(tmp_path / "env")
    monkeypatch.setenv("PPGN_DATA", str(tmp_path / "env"))
    assert find_dataset_dir() == tmp_path / "env"
    _check_loaded(None, truth)


def test_found_in_subfolder(tmp_path, no_debian):
    truth = _write_fashion(tmp_path / "root" / "fashion-mnist")
    assert find_dataset_dir(tmp_path / "root") == tmp_path / "root" / "fashion-mnist"
    _check_loaded(tmp_path / "root", truth)


def test_data_dir_takes_precedence_over_env(tmp_path, no_debian, monkeypatch):
    _write_fashion(tmp_path / "env", seed=1)
    truth = _write_fashion(tmp_path / "arg", seed=2)
    monkeypatch.setenv("PPGN_DATA", str(tmp_path / "env"))
    _check_loaded(tmp_path / "arg", truth)


@pytest.mark.parametrize("missing", [None, "t10k-labels-idx1-ubyte.gz"])
def test_missing_files_raise(tmp_path, no_debian, missing):
    d = tmp_path / "partial"
    if missing is None:
        d.mkdir()
    else:
        _write_fashion(d)
        (d / missing).unlink()
    for call in (lambda: find_dataset_dir(d), lambda: load_fashion_mnist("train", d)):
        with pytest.raises(DataNotFoundError) as info:
            call()
        msg = str(info.value)
        assert "apt-get install dataset-fashion-mnist" in msg and "\n" not in msg
        assert str(d) in msg
    assert issubclass(DataNotFoundError, FileNotFoundError)


def test_unknown_split(tmp_path, no_debian):
    _write_fashion(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("valid", tmp_path)


@pytest.mark.parametrize(
    "text, index",
    [("sneaker", 7), ("Sneakers", 7), ("ankle-boot", 9), ("ankle boot", 9), ("7", 7), (7, 7),
     ("tshirt", 0), ("T-shirt/top", 0), ("bag", 8), ("Trousers", 1), ("dress", 3), ("0", 0), (9, 9)],
)  # fmt: skip
def test_parse_class(text, index):
    assert parse_class(text) == index


@pytest.mark.parametrize("text", ["snekaer", "hat", "", "10", -1, 10, "-1", "s"])
def test_parse_class_errors(text):
    with pytest.raises(ValueError) as info:
        parse_class(text)
    msg = str(info.value)
    assert "Sneaker" in msg and "Ankle boot" in msg and "\n" not in msg


def test_load_digits_28():
    train, test = load_digits_28("train"), load_digits_28("test")
    assert len(train) + len(test) == 1797 and len(train) == int(0.8 * 1797)
    for d in (train, test):
        assert d.images.dtype == np.uint8 and d.images.shape == (len(d), 28, 28)
        assert d.labels.dtype == np.int64 and set(np.unique(d.labels)) <= set(range(10))
        assert d.images.max() > 200 and d.images[:, :4].max() == 0  # digits centred, border blank
    assert set(np.unique(train.labels)) == set(range(10))
    again = load_digits_28("train")
    np.testing.assert_array_equal(train.images, again.images)
    np.testing.assert_array_equal(train.labels, again.labels)
    # disjoint: no test image (with its label) also appears in train
    seen = {(img.tobytes(), lab) for img, lab in zip(train.images, train.labels)}
    assert not any((img.tobytes(), lab) in seen for img, lab in zip(test.images, test.labels))
    from sklearn.datasets import load_digits

    counts = np.bincount(np.concatenate([train.labels, test.labels]), minlength=10)
    np.testing.assert_array_equal(counts, np.bincount(load_digits().target, minlength=10))


def test_tensor_round_trip():
    u = np.random.default_rng(0).integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    u[0, 0, :2] = (0, 255)
    x = to_tensor(u)
    assert x.shape == (6, 1, 28, 28) and x.dtype == torch.float32
    assert x.min().item() == -1.0 and x.max().item() == 1.0
    back = to_uint8(x)
    assert back.shape == (6, 28, 28, 1) and back.dtype == np.uint8
    np.testing.assert_array_equal(back[..., 0], u)


def test_to_uint8_clamps_and_permutes():
    x = torch.tensor([[[[-3.0, 0.0]], [[1.0, 5.0]], [[-1.0, 0.5]]]])  # (1, 3, 1, 2)
    u = to_uint8(x)
    assert u.shape == (1, 1, 2, 3)
    np.testing.assert_array_equal(u[0, 0], [[0, 255, 0], [128, 255, 191]])


@pytest.mark.parametrize("value, honoured", [("0", False), ("off", False), ("1", True), (None, True)])
def test_system_locations_are_skipped_when_switched_off(tmp_path, monkeypatch, value, honoured):
    """PPGN_SYSTEM_DATA=0 makes a machine with Debian's package behave as a fresh one (the tests run so)."""
    _write_fashion(tmp_path / "debian")
    monkeypatch.setattr(ds, "DEBIAN_FASHION_MNIST", tmp_path / "debian")
    monkeypatch.delenv("PPGN_DATA", raising=False)
    if value is None:
        monkeypatch.delenv("PPGN_SYSTEM_DATA", raising=False)
    else:
        monkeypatch.setenv("PPGN_SYSTEM_DATA", value)
    assert ds.system_data_enabled() is honoured
    if honoured:
        assert find_dataset_dir() == tmp_path / "debian"
    else:
        with pytest.raises(DataNotFoundError) as info:
            find_dataset_dir()
        msg = str(info.value)
        assert f"PPGN_SYSTEM_DATA={value}" in msg and str(tmp_path / "debian") not in msg and "\n" not in msg
    _write_fashion(tmp_path / "mine")
    assert find_dataset_dir(tmp_path / "mine") == tmp_path / "mine"  # a folder named by the user always counts


def test_the_emoji_font_and_default_cache_are_system_locations(tmp_path, monkeypatch):
    import ppgn.data.emoji as emoji
    import ppgn.data.mnist as mn

    monkeypatch.setattr(mn, "DEFAULT_DATA_DIR", tmp_path / "cache")
    (tmp_path / "cache" / "emoji").mkdir(parents=True)
    np.savez(tmp_path / "cache" / "emoji" / "emoji-16.npz", images=np.zeros((20, 16, 16, 3), np.uint8))
    monkeypatch.delenv("PPGN_DATA", raising=False)
    monkeypatch.setenv("PPGN_SYSTEM_DATA", "0")
    with pytest.raises(DataNotFoundError, match="PPGN_SYSTEM_DATA=0"):
        emoji.load_colour_images("emoji", "train")  # neither the default cache nor the font is looked at
    assert emoji.load_colour_images("emoji", "test", data_dir=tmp_path / "cache").shape == (2, 16, 16, 3)  # a named one is
    monkeypatch.setenv("PPGN_SYSTEM_DATA", "1")
    assert emoji.load_colour_images("emoji", "train").shape == (18, 16, 16, 3)


def test_the_fashion_mnist_fixture_is_real_fashion_mnist(fashion_mnist_dir):
    """tests/fixtures/fashion-mnist: 50 train and 20 test images per class, read in the orientation and with
    the labels the shipped classifier was trained on, so it classifies them about as well as the full test set."""
    import json

    from ppgn.models import load_model
    from ppgn.pipelines.registry import WEIGHTS

    train, test = load_fashion_mnist("train", fashion_mnist_dir), load_fashion_mnist("test", fashion_mnist_dir)
    assert np.bincount(train.labels).tolist() == [50] * 10 and np.bincount(test.labels).tolist() == [20] * 10
    assert not {img.tobytes() for img in train.images} & {img.tobytes() for img in test.images}
    net = load_model(WEIGHTS / "fashion-mnist" / "classifier.safetensors")
    with torch.no_grad():
        accuracy = (net(to_tensor(test.images)).argmax(1).numpy() == test.labels).mean()
    card = json.loads((WEIGHTS / "fashion-mnist" / "classifier.json").read_text())["metrics"]["test_accuracy"]
    assert abs(accuracy - card) <= 0.08, (accuracy, card)
