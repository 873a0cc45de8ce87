"""The command line on the shipped weights: valid outputs, and one-line errors for bad input."""

import shutil

import numpy as np
import pytest
from PIL import Image

from cli_helpers import one_line_error, run
from ppgn.io import load_npz
from ppgn.pipelines.registry import WEIGHTS



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
        (["-c", "bag", "-n", "10000001"], ["--num"]),
        (["-c", "bag", "--steps", "0"], ["--steps"]),
        (["-c", "bag", "--eps1", "-1"], ["--eps1"]),
        (["-c", "bag", "--preset", "ppgn-z"], ["unknown preset", "joint-ppgn-h"]),
        (["-c", "bag", "--model", "cifar"], ["unknown model", "fashion-mnist"]),
        (["-c", "bag", "--form", "softmax"], ["log-softmax, official"]),
        (["-c", "bag", "--init", "normal"], ["unknown init", "gaussian"]),
    ],
)
def test_bad_input_gives_one_line_errors(tmp_path, args, needles):
    out = tmp_path / "never.npz"
    result = run("sample", *args, "--out", out, "-q")
    one_line_error(result, *needles)
    assert not out.exists()


@pytest.mark.parametrize(
    "option,name,needles",
    [("--out", "s.png", ["--out", ".npz", "--grid"]), ("--grid", "g.npz", ["--grid", ".png"]), ("--gif", "c.png", ["--gif", ".gif"])],
)
def test_output_files_must_have_their_format_suffix(tmp_path, option, name, needles):
    target = tmp_path / name
    one_line_error(run("sample", "-c", "bag", "-n", 1, "--steps", 2, option, target, "-q"), *needles)
    assert not target.exists()


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


def test_eval_scores_a_samples_file_and_writes_json(tmp_path, fashion_mnist_dir):
    import json

    # Real images in the samples contract score like the evaluator's own test accuracy (0.90) and
    # diversity (1 = that of real test images); the same images filed under the wrong class score ~0.
    npz, report = tmp_path / "real.npz", tmp_path / "r.json"
    assert run("real", "--num", 4, "--data-dir", fashion_mnist_dir, "--out", npz).exit_code == 0
    result = run("eval", npz, "--json", report)
    assert result.exit_code == 0, result.output
    numbers = json.loads(report.read_text())
    assert numbers["num_samples"] == 40 and numbers["accuracy"] >= 0.75 and 0.6 <= numbers["diversity"] <= 1.5
    assert set(numbers["per_class_accuracy"]) == {str(k) for k in range(10)}
    assert numbers["accuracy"] == pytest.approx(np.mean(list(numbers["per_class_accuracy"].values())))
    assert numbers["diversity"] == pytest.approx(np.mean(list(numbers["per_class_diversity"].values())))
    assert set(numbers["per_class_fid"]) == set(numbers["per_class_accuracy"]) and min(numbers["per_class_fid"].values()) >= 0
    assert 0 < numbers["ms_ssim"] < 1 and numbers["fid"] > 0 and numbers["inception_score"] > 3  # confident, spread over classes
    data = dict(np.load(npz))
    data["labels"] = (data["labels"] + 1) % 10
    np.savez(tmp_path / "mislabelled.npz", **data)
    assert run("eval", tmp_path / "mislabelled.npz", "--json", report).exit_code == 0
    wrong = json.loads(report.read_text())
    assert wrong["accuracy"] <= 0.15 and wrong["fid"] == pytest.approx(numbers["fid"])  # FID ignores labels


@pytest.mark.parametrize(
    "arrays,needle",
    [
        ({"images": np.zeros((2, 28, 28, 1), np.uint8), "labels": np.zeros(2, np.int64)}, "missing key 'prob'"),
        ({"images": np.zeros((2, 28, 28, 1), np.float32), "labels": np.zeros(2, np.int64), "prob": np.zeros(2, np.float32)}, "dtype"),
        ({"images": np.zeros((2, 28, 28), np.uint8), "labels": np.zeros(2, np.int64), "prob": np.zeros(2, np.float32)}, "shape"),
        ({"images": np.zeros((2, 28, 28, 1), np.uint8), "labels": np.array([0, 10], np.int64), "prob": np.zeros(2, np.float32)}, "0..9"),
        ({"images": np.zeros((2, 32, 32, 1), np.uint8), "labels": np.zeros(2, np.int64), "prob": np.zeros(2, np.float32)}, "28, 28"),
    ],
)
def test_eval_rejects_files_that_break_the_contract(tmp_path, arrays, needle):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    one_line_error(run("eval", path), needle)


def test_bench_speed_writes_the_documented_json(tmp_path):
    report = tmp_path / "speed.json"
    result = run("bench", "speed", "--batches", "1,3", "--steps", 1, "--json", report, "--profile")
    assert result.exit_code == 0, result.output
    import json

    rows = json.loads(report.read_text())
    keys = {"batch", "ms_per_sample", "flops_per_step", "gflops_achieved", "matmul_fp32_gflops", "matmul_bf16_gflops", "peak_mem_mb"}
    assert [r["batch"] for r in rows] == [1, 3] and all(keys <= set(r) for r in rows)
    assert rows[1]["flops_per_step"] == 3 * rows[0]["flops_per_step"]  # chains are independent
    assert all(r["ms_per_sample"] > 0 and r["matmul_fp32_gflops"] > 0 for r in rows)
    for r in rows:  # the columns are one measurement: steps/s (chains × steps), a 200-step sample, FLOP/s
        assert r["ms_per_sample"] == pytest.approx(200 * 1000 / r["steps_per_s"], rel=0.05)
        assert r["gflops_achieved"] == pytest.approx(r["flops_per_step"] / r["batch"] * r["steps_per_s"] / 1e9, rel=0.05, abs=0.02)
    profile = rows[1]["profile"]  # where the time goes, at the largest batch
    assert "profile" not in rows[0] and 0 < sum(op["share"] for op in profile) <= 1.0001
    assert any("conv" in op["operator"] for op in profile) and "where a step's time goes" in result.output


def test_init_image_of_the_wrong_size_is_refused(tmp_path):
    image = tmp_path / "big.png"
    Image.new("L", (32, 32)).save(image)
    one_line_error(run("sample", "-c", "bag", "--init-image", image, "--out", tmp_path / "s.npz", "-q"), "28×28", "32×32")
    not_an_image = tmp_path / "x.png"
    not_an_image.write_text("hello")
    one_line_error(run("sample", "-c", "bag", "--init-image", not_an_image, "--out", tmp_path / "s.npz", "-q"), "cannot read")


def test_chains_can_start_from_a_real_image(tmp_path):
    image = tmp_path / "in.png"
    Image.new("L", (28, 28), color=200).save(image)
    npz = tmp_path / "s.npz"
    args = ["sample", "-c", "bag", "-n", 2, "--steps", 1, "--eps3", 0, "--out", npz, "-q"]
    assert run(*args, "--init-image", image).exit_code == 0
    from_image = np.load(npz)["images"]
    assert np.array_equal(from_image[0], from_image[1])  # same start, no noise: same chain
    assert run(*args).exit_code == 0
    assert not np.array_equal(np.load(npz)["images"][0], np.load(npz)["images"][1])  # random starts differ


def test_real_writes_the_contract_from_a_data_folder_and_explains_missing_data(tmp_path, monkeypatch):
    from ppgn.data import write_idx

    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 10)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    out = tmp_path / "real.npz"
    result = run("real", "--num", 2, "--data-dir", tmp_path, "--out", out)
    assert result.exit_code == 0, result.output
    assert np.bincount(load_npz(out, num_classes=10)["labels"]).tolist() == [2] * 10
    one_line_error(run("real", "--num", 4, "--data-dir", tmp_path, "--out", out), "--num must be in 1..3")
    monkeypatch.setattr("ppgn.data.datasets.DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    one_line_error(run("real", "--data-dir", tmp_path / "empty", "--out", out), "apt-get install dataset-fashion-mnist")
