"""Untrusted files and a hostile environment (issue 14): each is refused in one line, before work.

* weights: random bytes, random or lying safetensors headers, configs of the wrong type, zero,
  negative, NaN or absurd sizes: always ``WeightsError`` naming the file, and nothing built but
  on the ``meta`` device; a malformed JSON card or manifest: one line naming it;
* caches: a damaged emoji cache is rendered again (or refused, saying what to delete); IDX files
  are written atomically (MNIST: all four or none), and a damaged one says how to rewrite it;
* images: a decompression bomb (a tiny PNG claiming 200000² pixels) is refused from its header;
* environment: scoring 0 or 1 samples, a ``--data-dir`` that does not exist, and every numeric
  option and output path of ``ppgn bench`` and ``ppgn data``.

Command-line cases run the real entry point, ``ppgn.cli.app.run``, in an empty folder: exit
status 2, exactly one line on stderr starting ``error:`` that names the file or flag, no
traceback, and no new file in the folder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import shutil
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import save_file

import ppgn.data.emoji as emoji
import ppgn.data.mnist as mn
import ppgn.models.io as mio
from ppgn.cli.app import run
from ppgn.data import (
    DataNotFoundError,
    FolderDataset,
    load_dataset,
    open_dataset,
    read_idx,
    write_idx,
)
from ppgn.data.datasets import find_dataset_dir
from ppgn.evaluation.evaluate import check_sample_count
from ppgn.evaluation.quality import FULL, _Cache
from ppgn.evaluation.reference import load_reference
from ppgn.io import read_image
from ppgn.models import (
    Classifier,
    ClassifierConfig,
    WeightsError,
    load_model,
    read_card,
    save_model,
)
from ppgn.pipelines.registry import read_manifest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# --- helpers ----------------------------------------------------------------------------------

def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def refused(capsys, folder: Path, args: list, *needles: str) -> str:
    """``ppgn ARGS`` in ``folder``: status 2, one line ``error: ...`` holding the needles, nothing written."""
    before = listing(folder)
    code = run([str(a) for a in args])
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in out + err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert listing(folder) == before, listing(folder) - before
    return lines[0]


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    """An empty working folder (the command's current directory)."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A small classifier's weights, with its card."""
    path = tmp_path_factory.mktemp("weights") / "classifier.safetensors"
    torch.manual_seed(0)
    save_model(Classifier(ClassifierConfig(width=0.25, code_dim=16)), path, card={"note": "tiny"})
    return path


def _with_config(tiny: Path, target: Path, **changes) -> Path:
    """``tiny``'s tensors with its stored config changed."""
    meta = mio.read_metadata(tiny)
    config = {**json.loads(meta["config"]), **changes}
    save_file(mio.load_state(tiny), str(target), metadata={"class": meta["class"], "config": json.dumps(config)})
    return target


def _header_file(path: Path, header, data: bytes = b"", length: int | None = None) -> Path:
    raw = json.dumps(header).encode() if not isinstance(header, bytes) else header
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


def _png_header(path: Path, side: int) -> Path:
    """A PNG whose header claims side × side grey pixels: a few dozen bytes on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def _one_line(err: pytest.ExceptionInfo, *needles: str) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


# --- 1. weights: one loader for untrusted files ------------------------------------------------

@FUZZ
@given(raw=st.binary(max_size=300))
def test_random_bytes_are_always_a_weights_error(tmp_path, raw):
    path = tmp_path / "random.safetensors"
    path.write_bytes(raw)
    with pytest.raises(WeightsError) as err:
        load_model(path)
    _one_line(err, str(path))


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
ENTRY = st.fixed_dictionaries({
    "dtype": st.sampled_from(["F32", "F16", "I64", "U8", "X9", 3]),
    "shape": st.lists(st.integers(-2, 10**12), max_size=3) | JSON,
    "data_offsets": st.lists(st.integers(-5, 10**13), min_size=0, max_size=3) | JSON,
})
HEADER = st.dictionaries(st.text(max_size=12), ENTRY | JSON, max_size=4).map(
    lambda d: d if "__metadata__" in d else {**d, "__metadata__": {"class": "Classifier", "config": "{}"}})


@FUZZ
@given(header=HEADER | JSON, data=st.binary(max_size=64), lie=st.none() | st.integers(0, 2**64 - 1))
def test_random_headers_are_always_a_weights_error(tmp_path, header, data, lie):
    path = _header_file(tmp_path / "header.safetensors", header, data, lie)
    with pytest.raises(WeightsError) as err:
        load_model(path)
    _one_line(err, str(path))


VALUES = (st.text(max_size=5) | st.integers(-3, 3) | st.integers(10**9, 10**30) | st.floats(allow_nan=True)
          | st.none() | st.booleans() | st.lists(st.integers(-2, 10**7), max_size=6) | JSON)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from(["image_channels", "image_size", "channels", "code_dim",
                                                 "num_classes", "dropout", "width", "extra"]), VALUES, min_size=1, max_size=3))
def test_a_fuzzed_config_loads_or_is_a_weights_error(tmp_path, tiny, changes):
    path = _with_config(tiny, tmp_path / "fuzzed.safetensors", **changes)
    try:
        model = load_model(path)
    except WeightsError as err:
        assert "\n" not in str(err) and str(path) in str(err)
    else:  # only what leaves every shape alone (dropout, an unknown key) may load
        assert isinstance(model, Classifier)


@pytest.mark.parametrize("changes,needle", [
    ({"code_dim": "256"}, "must be an integer"),
    ({"code_dim": -4}, "positive size"),
    ({"num_classes": 0}, "positive size"),
    ({"dropout": float("nan")}, "finite"),
    ({"width": 1e300}, "absurd"),
    ({"code_dim": 10**12}, "absurd"),
    ({"channels": [10**12, 10**12]}, "absurd"),
    ({"channels": "ab"}, "must be a list"),
    ({"image_size": 50}, "image_size 50"),
    ({"code_dim": 32}, "do not fit"),
])
def test_a_bad_config_is_named_in_one_line(tmp_path, tiny, changes, needle):
    path = _with_config(tiny, tmp_path / "bad.safetensors", **changes)
    with pytest.raises(WeightsError) as err:
        load_model(path)
    _one_line(err, str(path), needle, *(f"'{k}'" for k in changes if needle not in ("do not fit", "image_size 50")))


def test_nothing_is_built_off_the_meta_device_before_the_shapes_agree(tmp_path, tiny, monkeypatch):
    devices = []

    class Recording(Classifier):
        def __init__(self, config):
            devices.append(torch.empty(0).device.type)  # the device a tensor made now would live on
            super().__init__(config)

    monkeypatch.setitem(mio.MODEL_CLASSES, "Classifier", (Recording, ClassifierConfig))
    with pytest.raises(WeightsError, match="do not fit"):
        load_model(_with_config(tiny, tmp_path / "wide.safetensors", code_dim=64))
    assert devices == ["meta"]
    assert isinstance(load_model(tiny), Recording) and devices == ["meta", "meta", "cpu"]


@pytest.mark.parametrize("case", ["length beyond the file", "data past the end", "wrong byte count", "bad dtype", "not json"])
def test_a_lying_header_is_refused_before_reading(tmp_path, case):
    entry = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
    path = tmp_path / "lying.safetensors"
    if case == "length beyond the file":
        _header_file(path, {"w": entry}, bytes(16), length=2**40)
    elif case == "data past the end":
        _header_file(path, {"w": {**entry, "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}, bytes(16))
    elif case == "wrong byte count":
        _header_file(path, {"w": {**entry, "data_offsets": [0, 12]}}, bytes(16))
    elif case == "bad dtype":
        _header_file(path, {"w": {**entry, "dtype": "F128"}}, bytes(16))
    else:
        _header_file(path, b"{nope", bytes(16))
    for call in (load_model, mio.load_state, mio.read_metadata):
        with pytest.raises(WeightsError) as err:
            call(path)
        _one_line(err, str(path), "corrupt")


def test_a_malformed_card_or_manifest_is_one_line(tmp_path, tiny, work, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(tiny, folder / "classifier.safetensors")
    (folder / "classifier.json").write_text("{ not json")
    with pytest.raises(WeightsError) as err:
        read_card(folder / "classifier.safetensors")
    _one_line(err, "classifier.json", "not valid JSON")
    refused(capsys, work, ["bench", "speed", "--model", folder, "--steps", "1", "--batches", "1"], "classifier.json")
    refused(capsys, work, ["export", folder / "classifier.safetensors", "out.safetensors"], "classifier.json")
    (folder / "manifest.json").write_text('["a list"]')
    with pytest.raises(WeightsError) as err:
        read_manifest(folder)
    _one_line(err, "manifest.json")
    refused(capsys, work, ["bench", "speed", "--model", folder], "manifest.json")
    (folder / "manifest.json").write_text(json.dumps({"dataset": "d", "classes": "abc", "image_shape": [1, 28, 28],
                                                      "models": {"m": {"kind": "ppgn", "weights": "classifier"}}}))
    with pytest.raises(WeightsError, match="classes must be a list"):
        read_manifest(folder)


def test_hostile_weights_through_the_command_line(tmp_path, work, capsys):
    hostile = _header_file(tmp_path / "hostile.safetensors", {
        "__metadata__": {"class": "CodeDAE", "config": json.dumps({"code_dim": "abc", "hidden": [-5]})},
        "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8))
    huge = _header_file(tmp_path / "huge.safetensors", {
        "__metadata__": {"class": "CodeDAE", "config": json.dumps({"code_dim": 10**12, "hidden": [10**12]})},
        "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(8))
    refused(capsys, work, ["export", hostile, "x.safetensors"], "hostile.safetensors", "code_dim")
    refused(capsys, work, ["export", huge, "x.safetensors"], "huge.safetensors", "absurd")


def test_an_evaluator_reference_without_features_is_refused(tmp_path):
    path = tmp_path / "evaluator-reference.safetensors"
    save_file({"labels": torch.zeros(4, dtype=torch.int64)}, str(path))
    with pytest.raises(WeightsError) as err:
        load_reference(path)
    _one_line(err, str(path), "features")


# --- 2. caches written atomically, damaged ones rebuilt or refused ----------------------------

@pytest.mark.parametrize("damage", [b"", b"garbage, not a zip", "truncated"])
def test_a_damaged_colour_emoji_cache_is_rendered_again(tmp_path, monkeypatch, damage):
    cache = tmp_path / "emoji" / "emoji-16.npz"
    cache.parent.mkdir()
    np.savez(cache, images=np.zeros((20, 16, 16, 3), np.uint8))
    cache.write_bytes(cache.read_bytes()[:40] if damage == "truncated" else damage)
    monkeypatch.setattr(emoji, "render_emoji", lambda size: np.full((30, size, size, 3), 7, np.uint8))
    images = emoji.load_colour_images("emoji", "train", size=16, data_dir=tmp_path)
    assert images.shape == (27, 16, 16, 3) and (images == 7).all()
    assert sorted(p.name for p in cache.parent.iterdir()) == ["emoji-16.npz"]  # rewritten, no temporary left
    with np.load(cache) as f:
        assert f["images"].shape == (30, 16, 16, 3)


def test_a_damaged_emoji_cache_that_cannot_be_rebuilt_says_what_to_delete(tmp_path, monkeypatch):
    monkeypatch.setenv("PPGN_SYSTEM_DATA", "0")  # no font: nothing to render from
    for name in ("emoji-16.npz", f"emoji-groups-v{emoji.GROUPS_VERSION}-64.npz"):
        (tmp_path / "emoji").mkdir(exist_ok=True)
        (tmp_path / "emoji" / name).write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(DataNotFoundError) as err:
        emoji.load_colour_images("emoji", "train", size=16, data_dir=tmp_path)
    _one_line(err, "emoji-16.npz", "damaged", "delete it")
    with pytest.raises(DataNotFoundError) as err:
        open_dataset("emoji", data_dir=tmp_path)
    _one_line(err, "emoji-groups-v1-64.npz", "damaged", "delete it")


def test_a_damaged_labelled_emoji_cache_is_rebuilt(tmp_path, monkeypatch):
    cache = tmp_path / "emoji" / f"emoji-groups-v{emoji.GROUPS_VERSION}-32.npz"
    cache.parent.mkdir()
    cache.write_bytes(b"not an npz")
    data = {"images": np.zeros((20, 32, 32, 3), np.uint8), "labels": np.arange(20) % 8, "prob": np.ones(20, np.float32),
            "classes": np.array(emoji.EMOJI_CLASSES), "source": np.array("test")}
    monkeypatch.setattr(emoji, "build_emoji_groups", lambda size, data_dir=None: data)
    assert len(emoji.load_emoji_groups(32, tmp_path)["labels"]) == 20
    assert emoji.load_emoji_groups(32, tmp_path)["images"].shape == (20, 32, 32, 3)  # now from the rewritten cache


@FUZZ
@given(raw=st.binary(max_size=64), mode=st.sampled_from(["plain", "gzipped", "not gzip"]))
def test_random_idx_bytes_are_a_value_error(tmp_path, raw, mode):
    path = tmp_path / ("x" if mode == "plain" else "x.gz")
    path.write_bytes(gzip.compress(raw) if mode == "gzipped" else raw)
    try:
        array = read_idx(path)
    except ValueError as err:
        assert "\n" not in str(err) and str(path) in str(err)
    else:
        assert isinstance(array, np.ndarray)


def test_an_idx_header_with_absurd_dimensions_is_refused_unread(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**31, 2**31, 28) + bytes(10))
    with pytest.raises(ValueError) as err:
        read_idx(path)
    _one_line(err, str(path), "not a dataset file")


def test_idx_files_are_written_atomically(tmp_path, monkeypatch):
    write_idx(tmp_path / "a.gz", np.ones((2, 3), np.uint8))
    before = (tmp_path / "a.gz").read_bytes()

    def boom(self, data):
        with open(self, "wb") as f:  # part of the file, then the disk is full
            f.write(data[:5])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", boom)
    with pytest.raises(OSError, match="disk full"):
        write_idx(tmp_path / "a.gz", np.zeros((4, 4), np.uint8))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gz"] and (tmp_path / "a.gz").read_bytes() == before


def _fake_source(tmp_path, monkeypatch) -> Path:
    rng = np.random.default_rng(0)
    part = lambda: (rng.integers(0, 256, (4, 784)).astype(np.float32) / 256, rng.integers(0, 10, 4).astype(np.int64))  # noqa: E731
    raw = gzip.compress(pickle.dumps((part(), part(), part()), protocol=4))
    monkeypatch.setattr(mn, "MNIST_SHA256", hashlib.sha256(raw).hexdigest())
    source = tmp_path / "mnist.pkl.gz"
    source.write_bytes(raw)
    return source


def test_mnist_is_converted_all_four_files_or_none(tmp_path, monkeypatch):
    source = _fake_source(tmp_path, monkeypatch)
    calls = []
    real = mn.write_idx

    def third_fails(path, array):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        real(path, array)

    monkeypatch.setattr(mn, "write_idx", third_fails)
    with pytest.raises(OSError, match="disk full"):
        mn.convert_mnist(source, tmp_path / "data")
    assert not (tmp_path / "data" / "mnist").exists() or not any((tmp_path / "data" / "mnist").iterdir())


def test_a_damaged_mnist_file_says_how_to_rewrite_it(tmp_path, work, capsys):
    shutil.copytree(FIXTURES / "mnist", tmp_path / "data" / "mnist")
    victim = tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz"
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(ValueError) as err:
        load_dataset("mnist", "train", tmp_path / "data")
    _one_line(err, str(victim), "ppgn data mnist")
    refused(capsys, work, ["data", "folder", "--data", "mnist", "--data-dir", tmp_path / "data", "--out", "out"],
            "train-images-idx3-ubyte.gz", "ppgn data mnist")


def test_data_mnist_writes_nowhere_unnamed_when_system_data_is_off(tmp_path, work, capsys, monkeypatch):
    """With PPGN_SYSTEM_DATA=0 the finders never look in ~/.cache/ppgn: writing there would make
    files nothing finds, so ``ppgn data mnist`` asks for --data-dir instead."""
    source = _fake_source(tmp_path, monkeypatch)
    monkeypatch.setattr(mn, "DEFAULT_DATA_DIR", tmp_path / "cache")
    monkeypatch.setenv("PPGN_SYSTEM_DATA", "0")
    monkeypatch.delenv("PPGN_DATA", raising=False)
    refused(capsys, work, ["data", "mnist", "--source", source], "--data-dir", "PPGN_SYSTEM_DATA=0")
    assert not (tmp_path / "cache").exists()
    assert run(["data", "mnist", "--source", str(source), "--data-dir", "mine"]) == 0
    assert load_dataset("mnist", "test", work / "mine").images.shape == (4, 28, 28)
    (work / "afile").write_text("x")
    refused(capsys, work, ["data", "mnist", "--source", source, "--data-dir", "afile/sub"], "--data-dir", "afile")


def test_a_damaged_quality_cache_entry_is_recomputed(tmp_path):
    cache = _Cache(tmp_path, FULL, tmp_path)
    cache.put("real-seed0", {"fid": 1.0}, images=np.zeros((2, 4, 4, 1), np.uint8))
    assert cache.get("real-seed0")["metrics"] == {"fid": 1.0}
    path = next(tmp_path.rglob("real-seed0.npz"))
    path.write_bytes(path.read_bytes()[:30])
    assert cache.get("real-seed0") is None


# --- 3. images: decompression bombs -----------------------------------------------------------

@pytest.mark.parametrize("side", [200_000, 10_000])  # beyond Pillow's error limit; between its warning and error limits
def test_a_decompression_bomb_in_a_folder_is_one_line(tmp_path, work, capsys, side):
    tree = tmp_path / "tree"
    for name in ("cat", "dog"):
        (tree / name).mkdir(parents=True)
        for k in range(3):
            Image.fromarray(np.full((28, 28), 40 * k, np.uint8)).save(tree / name / f"{k}.png")
    bomb = _png_header(tree / "cat" / "bomb.png", side)
    assert bomb.stat().st_size < 200
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even Pillow's warning
        with pytest.raises(ValueError) as err:
            FolderDataset(tree)
        _one_line(err, str(bomb), "too large")
        assert bomb not in FolderDataset(tree, skip_bad=True).files
    refused(capsys, work, ["data", "folder", "--data", tree, "--out", "out"], "bomb.png", "too large")
    refused(capsys, work, ["bench", "train", "--data", tree, "--steps", "2", "--batch-size", "2"], "bomb.png")
    with pytest.raises(ValueError) as err:
        emoji.load_image_folder(tree)
    _one_line(err, "bomb.png", "too large")


def test_read_image_refuses_a_bomb_in_one_line(tmp_path):
    bomb = _png_header(tmp_path / "bomb.png", 200_000)
    with pytest.raises(ValueError) as err:
        read_image(bomb)
    _one_line(err, "bomb.png")


# --- 4. environment: too few samples, missing data folders, every bench / data number ---------

def _samples(path: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    np.savez(path, images=rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),
             labels=(np.arange(n) % 10).astype(np.int64), prob=np.full(n, 0.5, np.float32))
    return path


def test_scoring_needs_two_samples():
    for n in (0, 1):
        with pytest.raises(ValueError) as err:
            check_sample_count(n)
        _one_line(err, f"holds {n} sample", "at least 2", "FID")
    assert check_sample_count(2) == 2


def test_eval_of_zero_one_and_two_samples(tmp_path, work, capsys):
    for n in (0, 1):
        refused(capsys, work, ["eval", _samples(tmp_path / f"s{n}.npz", n), "--json", "r.json"], f"holds {n} sample", "at least 2")
    assert run(["eval", str(_samples(tmp_path / "s2.npz", 2)), "--json", "r.json"]) == 0
    capsys.readouterr()

    def bare(constant):
        raise AssertionError(f"bare {constant} in the JSON")

    result = json.loads((work / "r.json").read_text(), parse_constant=bare)
    assert result["num_samples"] == 2 and result["diversity"] is None and result["ms_ssim"] is None  # one sample a class


def test_a_data_dir_that_does_not_exist_is_refused(tmp_path, work, capsys):
    for call in (lambda: find_dataset_dir(tmp_path / "nope"), lambda: open_dataset("digits", data_dir=tmp_path / "nope"),
                 lambda: load_dataset("mnist", data_dir=tmp_path / "nope")):
        with pytest.raises(DataNotFoundError) as err:
            call()
        _one_line(err, "--data-dir", str(tmp_path / "nope"), "does not exist")
    refused(capsys, work, ["real", "--data-dir", "/nonexistent", "--out", "r.npz"], "--data-dir", "/nonexistent")
    refused(capsys, work, ["data", "folder", "--data", "digits", "--data-dir", "/nonexistent", "--out", "o"], "/nonexistent")


BENCH_NUMBERS = [
    (["bench", "neurons"], "--real-subset", ["-3", "1.5", "abc"]),
    (["bench", "neurons"], "--num", ["1", "0", "nan", str(10**30)]),
    (["bench", "neurons"], "--steps", ["0", "inf"]),
    (["bench", "neurons"], "--seed", ["-1", str(2**63), "1.5"]),
    (["bench", "networks"], "--num", ["0", "-1"]),
    (["bench", "networks"], "--steps", ["0", str(10**30)]),
    (["bench", "inpaint"], "--hole", ["0", "21", "nan"]),
    (["bench", "inpaint"], "--eps4", ["nan", "-1", "0.1,inf", "1e308", "a,b", ""]),
    (["bench", "inpaint"], "--num", ["0"]),
    (["bench", "captions"], "--num", ["0", "-2"]),
    (["bench", "captions"], "--captions", ["", ";", "a bag;;"]),
    (["bench", "train"], "--steps", ["1", "0", "-1"]),
    (["bench", "train"], "--batch-size", ["0", str(10**30)]),
    (["bench", "train"], "--width", ["0", "-1", "nan", "inf", "1e308"]),
    (["bench", "train"], "--workers", ["-1"]),
    (["bench", "train"], "--size", ["27", "0", "-1"]),
    (["bench", "train"], "--channels", ["0", "2"]),
    (["bench", "train"], "--amp", ["fp8"]),
    (["bench", "speed"], "--steps", ["0", "nan"]),
    (["bench", "speed"], "--batches", ["0", "1,nan", "", "1,,2", str(10**30)]),
    (["bench", "quality"], "--per-class", ["1", "0", str(10**30)]),
    (["bench", "quality"], "--seeds", ["-1", "1.5", "", str(2**63)]),
    (["data", "folder", "--data", "digits", "--out", "o"], "--num", ["0", "-1", "nan", str(10**30)]),
    (["data", "folder", "--data", "digits", "--out", "o"], "--size", ["27", "0"]),
]


@pytest.mark.parametrize("base,flag,value", [(b, f, v) for b, f, values in BENCH_NUMBERS for v in values],
                         ids=[f"{' '.join(b[:2])} {f}={v}" for b, f, values in BENCH_NUMBERS for v in values])
def test_every_number_of_bench_and_data_is_checked_before_work(work, capsys, base, flag, value):
    refused(capsys, work, [*base, f"{flag}={value}"], flag)


@pytest.mark.parametrize("args,flag", [
    (["bench", "speed", "--json", "x.txt"], "--json"),
    (["bench", "speed", "--json", "/proc/x.json"], "--json"),
    (["bench", "speed", "--json", "adir.json"], "--json"),
    (["bench", "neurons", "--json", "afile/x.json"], "--json"),
    (["bench", "inpaint", "--json", "x.npz"], "--json"),
    (["bench", "captions", "--json", "/proc/x.json"], "--json"),
    (["bench", "networks", "--json", "adir.json"], "--json"),
    (["bench", "train", "--json", "afile/x.json"], "--json"),
    (["bench", "quality", "--out-dir", "afile"], "--out-dir"),
    (["bench", "quality", "--cache-dir", "afile/sub"], "--cache-dir"),
    (["data", "folder", "--data", "digits", "--out", "afile"], "--out"),
    (["data", "folder", "--data", "digits", "--out", "full"], "--out"),
])
def test_outputs_are_checked_before_work(work, capsys, args, flag):
    (work / "afile").write_text("a file where a folder belongs\n")
    (work / "adir.json").mkdir()
    (work / "full").mkdir()
    (work / "full" / "keep.txt").write_text("not empty\n")
    refused(capsys, work, args, flag)
