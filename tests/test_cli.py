"""The command line on the shipped weights: valid outputs, and one-line errors for bad input."""

import shutil

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from ppgn.cli import app
from ppgn.images import load_npz
from ppgn.pipeline import WEIGHTS

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith("error:") and "\n" not in message and "Traceback" not in message, message
    for needle in needles:
        assert needle in message, message


def test_sample_writes_the_npz_contract_and_a_png(tmp_path):
    npz, png, gif = tmp_path / "s.npz", tmp_path / "s.png", tmp_path / "c.gif"
    result = run("sample", "--class", "sneaker", "--num", 6, "--steps", 8, "--seed", 0,
                 "--out", npz, "--grid", png, "--gif", gif, "--quiet")
    assert result.exit_code == 0, result.output
    data = load_npz(npz, num_classes=10)
    assert data["images"].shape == (6, 28, 28, 1) and data["images"].dtype == np.uint8
    assert (data["labels"] == 7).all()
    assert ((data["prob"] >= 0) & (data["prob"] <= 1)).all()
    assert Image.open(png).size[0] > 28 * 6
    assert Image.open(gif).n_frames > 1


def test_same_seed_same_images_other_seed_other_images(tmp_path):
    paths = [tmp_path / f"{i}.npz" for i in range(3)]
    for path, seed in zip(paths, (1, 1, 2)):
        assert run("sample", "-c", "bag", "-n", 3, "--steps", 5, "--seed", seed, "--out", path, "-q").exit_code == 0
    a, b, c = (np.load(p)["images"] for p in paths)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_class_all_gives_num_per_class(tmp_path):
    npz = tmp_path / "all.npz"
    assert run("sample", "-c", "all", "-n", 2, "--steps", 3, "--out", npz, "-q").exit_code == 0
    assert np.bincount(np.load(npz)["labels"]).tolist() == [2] * 10


@pytest.mark.parametrize(
    "args,needles",
    [
        (["-c", "hat"], ["unknown class", "Sneaker", "Ankle boot"]),
        (["-c", "12"], ["out of range"]),
        (["-c", "bag", "-n", "0"], ["--num"]),
        (["-c", "bag", "-n", "100000"], ["--num"]),
        (["-c", "bag", "--steps", "0"], ["--steps"]),
        (["-c", "bag", "--eps1", "-1"], ["--eps1"]),
        (["-c", "bag", "--preset", "ppgn-z"], ["unknown preset", "joint-ppgn-h"]),
        (["-c", "bag", "--model", "cifar"], ["unknown model", "fashion-mnist"]),
    ],
)
def test_bad_input_gives_one_line_errors(tmp_path, args, needles):
    out = tmp_path / "never.npz"
    result = run("sample", *args, "--out", out, "-q")
    one_line_error(result, *needles)
    assert not out.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_corrupt_or_missing_weights_give_a_clear_error(tmp_path, damage):
    folder = tmp_path / "model"
    shutil.copytree(WEIGHTS / "fashion-mnist", folder)
    target = folder / "generator.safetensors"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif damage == "garbage":
        target.write_bytes(b"\x00" * 64)
    else:
        target.unlink()
    out = tmp_path / "s.npz"
    result = run("sample", "--model", folder, "-c", "bag", "-n", 2, "--steps", 2, "--out", out, "-q")
    one_line_error(result, "generator.safetensors")
    assert not out.exists()
