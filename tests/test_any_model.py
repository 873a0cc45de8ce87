"""Any model folder works as the shipped one does: here a tiny 32-px RGB model of three classes
whose names hold spaces and '&', built by hand (random networks, no training) in the format
``ppgn train all`` writes. Loading, sampling by name and by index, grids, GIFs, ``ppgn eval``,
``ppgn visualize``, ``ppgn inpaint`` with a colour image, and the one-line errors of bad input;
then every size (28, 64, 128 px) grey and RGB, more briefly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ppgn
from cli_helpers import one_line_error, run
from ppgn.data import open_dataset
from ppgn.io import load_npz
from ppgn.models import (
    Classifier, ClassifierConfig, Evaluator, EvaluatorConfig, Generator, GeneratorConfig, save_model,
)  # fmt: skip
from ppgn.models.evaluator import build_reference

SIZE, CHANNELS = 32, 3
CLASSES = ("Smileys & Emotion", "Animals & Nature", "Flags")
TINTS = ((230, 200, 40), (40, 160, 60), (40, 70, 220))  # one colour per class, so the data has colour
PER_CLASS = 30  # images per class in the data folder: every 10th is test, so 3 per class there


def write_data(root: Path) -> Path:
    """A class-per-subfolder image folder (the dataset the model says it was trained on)."""
    rng = np.random.default_rng(0)
    for name, tint in zip(CLASSES, TINTS):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(PER_CLASS):
            noise = rng.integers(-60, 60, (SIZE, SIZE, CHANNELS))
            pixels = np.clip(np.array(tint) + noise, 0, 255).astype(np.uint8)
            pixels[: SIZE // 4] = 255  # a white band at the top, as on a page
            Image.fromarray(pixels, "RGB").save(folder / f"{i:03d}.png")
    return root


def build_model_folder(folder: Path, data: Path, size: int = SIZE, channels: int = CHANNELS) -> Path:
    """Random-init networks of a ``size``-px model (32-px RGB unless asked), saved with cards, the
    evaluator's reference features and a manifest as ``ppgn.training.all.train_all`` writes them."""
    torch.manual_seed(0)
    train = open_dataset(data, "train", size, channels)
    x_train = torch.stack([train[i][0] for i in range(len(train))])
    command = f"ppgn train all --data {data} --size {size} --out {folder}"
    card = {"training_config": {"dataset": str(data)}, "command": command, "dataset_sha256": train.fingerprint.sha256}
    K = len(CLASSES)
    C = Classifier(ClassifierConfig(image_size=size, image_channels=channels, num_classes=K, code_dim=32, width=0.25)).eval()
    with torch.no_grad():  # code_max and the Gaussian that chains start from, as training sets them
        h = C.encode(x_train)[1].double()
        C.code_max.copy_(h.amax(0).float())
        C.code_mean.copy_(h.mean(0).float())
        C.code_scale_tril.copy_(torch.linalg.cholesky(torch.cov(h.T) + 1e-4 * torch.eye(h.shape[1], dtype=h.dtype)).float())
    G = Generator(GeneratorConfig(image_size=size, image_channels=channels, code_dim=32, width=0.25)).eval()
    with torch.no_grad():  # a colour cast per channel, so that colour that survives the pipeline shows
        G.upsample[-2].bias.copy_(torch.tensor([0.6, 0.0, -0.6][:channels]))
    E = Evaluator(EvaluatorConfig(image_size=size, image_channels=channels, num_classes=K, width=0.25)).eval()
    for name, model in (("classifier", C), ("generator", G), ("evaluator", E)):
        save_model(model, folder / f"{name}.safetensors", card)
    build_reference(E, open_dataset(data, "test", size, channels), folder / "evaluator-reference.safetensors")  # real test features
    manifest = {
        "dataset": str(data),
        "classes": list(CLASSES),
        "image_shape": [channels, size, size],
        "models": {folder.name: {"kind": "ppgn", "weights": "classifier", "description": "random networks, for tests"}},
        "data_sha256": train.fingerprint.sha256,
        "data": train.fingerprint.summary,
        "commands": {"classifier": command, "evaluator": command, "generator": command, "all": command},
        "training_config": {"data": str(data), "size": size, "noiseless": False, "daes": False},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("any-model")
    return build_model_folder(root / "mine", write_data(root / "data"))


@pytest.fixture(scope="module")
def pipe(model):
    return ppgn.load(model, device="cpu")


@pytest.fixture(scope="module")
def photo(model) -> Path:
    """An RGB PNG of the model's size: one of its data's images."""
    return next((model.parent / "data" / CLASSES[2]).glob("*.png"))


def is_colour(array: np.ndarray) -> bool:
    """uint8 (..., 3) whose channels really differ (not grey in three copies)."""
    means = array.reshape(-1, 3).astype(float).mean(0)
    return array.shape[-1] == 3 and max(abs(means[0] - means[1]), abs(means[1] - means[2])) > 20


# --- Python -------------------------------------------------------------------------------------


def test_load_reads_the_manifest(model, pipe):
    assert pipe.kind == "ppgn" and pipe.classes == CLASSES and pipe.image_shape == (SIZE, SIZE, CHANNELS)
    assert pipe.dataset == str(model.parent / "data")
    assert ppgn.load(str(model)).classes == CLASSES  # a path as text, as the command line gives it


def test_sample_by_name_or_index_gives_colour_images_of_the_model_size(pipe):
    by_name = pipe.sample("Smileys & Emotion", num=3, seed=0, steps=4, record=2)
    assert by_name.array.shape == (3, SIZE, SIZE, CHANNELS) and by_name.array.dtype == np.uint8
    assert by_name.labels.tolist() == [0, 0, 0] and by_name.prob.shape == (3,)
    assert is_colour(by_name.array)
    assert by_name.images[0].mode == "RGB" and by_name.images[0].size == (SIZE, SIZE)
    assert by_name.trajectory.shape == (5, 2, CHANNELS, SIZE, SIZE)
    for same in (0, "smileys-emotion", "smileys"):  # an index, or the name written loosely
        assert np.array_equal(pipe.sample(same, num=3, seed=0, steps=4).array, by_name.array)
    assert not np.array_equal(pipe.sample(0, num=3, seed=1, steps=4).array, by_name.array)
    assert pipe.sample([0, 1, 2], num=3, seed=0, steps=4).labels.tolist() == [0, 1, 2]


def test_class_all_samples_every_class(pipe):
    from ppgn.pipelines.request import SampleRequest, run as run_request

    out = run_request(pipe, SampleRequest(class_="all", num=2, steps=3))
    assert out.labels.tolist() == [0, 0, 1, 1, 2, 2] and out.array.shape == (6, SIZE, SIZE, CHANNELS)


def test_bad_class_names_name_this_models_classes(pipe):
    with pytest.raises(ValueError, match="0=Smileys & Emotion, 1=Animals & Nature, 2=Flags") as info:
        pipe.sample("sneaker", num=1, steps=1)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="out of range; valid: 0=Smileys"):
        pipe.sample(3, num=1, steps=1)


def test_presets_whose_weights_are_missing_say_which_file_and_which_command(pipe, model):
    for preset, needles in (("dgn-am", ["generator-noiseless.safetensors", "--noiseless"]),
                            ("ppgn-h", ["generator-noiseless.safetensors and dae-h.safetensors", "--noiseless --daes"]),
                            ("ppgn-x", ["dae-x.safetensors", "--daes"])):
        with pytest.raises(ppgn.models.WeightsError) as info:
            pipe.sample(0, num=1, steps=1, preset=preset)
        message = str(info.value)
        assert "\n" not in message and f"ppgn train all --data {model.parent / 'data'} --size {SIZE} --out {model}" in message
        for needle in needles:
            assert needle in message, message


def test_inpaint_keeps_the_known_colour_pixels(pipe, photo):
    from ppgn.pipelines.inpaint import box_mask, inpaint
    from ppgn.data import from_uint8

    pixels = np.asarray(Image.open(photo))
    out = inpaint(pipe, from_uint8(pixels[None]), box_mask(SIZE, (8, 8, 10, 10)), "Flags", num=2, steps=2)
    assert out.array.shape == (2, SIZE, SIZE, CHANNELS) and out.labels.tolist() == [2, 2]
    known = np.ones((SIZE, SIZE), bool)
    known[8:18, 8:18] = False
    assert (out.array[:, known] == pixels[known]).all() and is_colour(out.array)
    with pytest.raises(ValueError, match=f"must be \\(N, 3, {SIZE}, {SIZE}\\)"):
        inpaint(pipe, torch.zeros(1, 1, SIZE, SIZE), box_mask(SIZE, (8, 8, 10, 10)), num=1, steps=1)


@pytest.mark.parametrize("size,channels", [(28, 1), (64, 3), (128, 1)])
def test_every_size_and_channel_count_samples_inpaints_and_scores(model, tmp_path, size, channels):
    from ppgn.pipelines.inpaint import box_mask, inpaint

    folder = build_model_folder(tmp_path / f"m{size}", model.parent / "data", size, channels)  # the 32-px RGB data, resized
    pipe = ppgn.load(folder, device="cpu")
    assert pipe.image_shape == (size, size, channels)
    out = pipe.sample("Flags", num=2, seed=0, steps=2)
    assert out.array.shape == (2, size, size, channels) and out.images[0].mode == ("L" if channels == 1 else "RGB")
    filled = inpaint(pipe, torch.zeros(1, channels, size, size), box_mask(size, (4, 4, 8, 8)), num=2, steps=1)
    assert filled.array.shape == (2, size, size, channels) and (filled.array[:, 0, 0] == 128).all()
    npz = tmp_path / "s.npz"
    assert run("sample", "--model", folder, "--class", "Smileys & Emotion", "-n", 2, "--steps", 2, "--out", npz, "-q").exit_code == 0
    result = run("eval", npz, "--model", folder)
    assert result.exit_code == 0 and "Smileys & Emotion" in result.output, result.output


# --- The command line ---------------------------------------------------------------------------


def test_sample_writes_colour_npz_grid_and_gif_and_eval_scores_it(model, tmp_path):
    npz, png, gif = tmp_path / "x.npz", tmp_path / "x.png", tmp_path / "x.gif"
    result = run("sample", "--model", model, "--class", "Animals & Nature", "-n", 4, "--steps", 5, "--seed", 3,
                 "--out", npz, "--grid", png, "--gif", gif, "-q")
    assert result.exit_code == 0, result.output
    data = load_npz(npz, num_classes=len(CLASSES))
    assert data["images"].shape == (4, SIZE, SIZE, CHANNELS) and (data["labels"] == 1).all()
    assert is_colour(data["images"])
    grid = Image.open(png)
    assert grid.mode == "RGB" and grid.size[0] > 4 * SIZE and is_colour(np.asarray(grid))
    frames = Image.open(gif)
    assert frames.n_frames > 1 and is_colour(np.asarray(frames.convert("RGB")))
    again = tmp_path / "again.npz"
    assert run("sample", "--model", model, "--class", "1", "-n", 4, "--steps", 5, "--seed", 3, "--out", again, "-q").exit_code == 0
    assert np.array_equal(load_npz(again)["images"], data["images"])  # same seed, same images
    report = tmp_path / "r.json"
    result = run("eval", npz, "--model", model, "--json", report)
    assert result.exit_code == 0, result.output
    assert "Animals & Nature" in result.output and json.loads(report.read_text())["num_samples"] == 4


def test_sample_all_classes_and_the_real_data_floor(model, tmp_path):
    npz, real = tmp_path / "all.npz", tmp_path / "real.npz"
    assert run("sample", "--model", model, "--class", "all", "-n", 2, "--steps", 3, "--out", npz, "-q").exit_code == 0
    assert np.bincount(load_npz(npz)["labels"]).tolist() == [2, 2, 2]
    result = run("real", "--model", model, "-n", 2, "--out", real)
    assert result.exit_code == 0, result.output
    data = load_npz(real, num_classes=len(CLASSES))
    assert data["images"].shape == (6, SIZE, SIZE, CHANNELS) and is_colour(data["images"])
    assert run("eval", real, "--model", model).exit_code == 0


@pytest.mark.parametrize(
    "args,needles",
    [
        (["--class", "sneaker", "--out", "s.npz"], ["unknown class", "0=Smileys & Emotion", "2=Flags"]),
        (["--class", "Flags", "--out", "s.png"], ["--out", ".npz", "--grid"]),
        (["--class", "Flags", "--preset", "dgn-am", "--out", "s.npz"], ["generator-noiseless.safetensors", "--noiseless"]),
        (["--class", "Flags", "--preset", "ppgn-x", "--out", "s.npz"], ["dae-x.safetensors", "--daes"]),
        (["--class", "Flags", "--init-image", "GREY28", "--out", "s.npz"], [f"{SIZE}×{SIZE}", "28×28"]),
    ],
)
def test_sample_bad_input_gives_one_line(model, tmp_path, args, needles):
    grey = tmp_path / "grey28.png"
    Image.new("L", (28, 28)).save(grey)
    args = [grey if a == "GREY28" else tmp_path / a if a.startswith("s.") else a for a in args]
    one_line_error(run("sample", "--model", model, "-n", 2, "--steps", 1, *args, "-q"), *needles)
    assert not (tmp_path / "s.npz").exists()


def test_sample_starts_from_a_colour_image(model, photo, tmp_path):
    out = tmp_path / "s.npz"
    result = run("sample", "--model", model, "--class", "Flags", "-n", 2, "--steps", 2, "--init-image", photo, "--out", out, "-q")
    assert result.exit_code == 0, result.output


def test_eval_refuses_samples_of_another_shape(model, tmp_path):
    from ppgn.io import save_npz

    grey = tmp_path / "grey.npz"
    save_npz(grey, np.zeros((2, 28, 28, 1), np.uint8), np.zeros(2), np.ones(2))
    one_line_error(run("eval", grey, "--model", model), f"(N, {SIZE}, {SIZE}, {CHANNELS})")


def test_visualize_lists_layers_and_draws_a_colour_figure(model, tmp_path):
    result = run("visualize", "--model", model, "--list")
    assert result.exit_code == 0, result.output
    layers = dict(line.split(" ") for line in result.output.strip().splitlines())
    assert layers["head.1"] == str(len(CLASSES)) and layers["fc.2"] == "32"
    png, report = tmp_path / "v.png", tmp_path / "v.json"
    result = run("visualize", "--model", model, "--neuron", "fc.2:3", "-n", 2, "--steps", 3, "--out", png, "--json", report, "-q")
    assert result.exit_code == 0, result.output
    data = json.loads(report.read_text())
    assert len(data["activations"]) == 2 and len(data["top9_real"]) == 9
    figure = Image.open(png)
    assert figure.mode == "RGB" and figure.size[0] >= 9 * SIZE and is_colour(np.asarray(figure))
    one_line_error(run("visualize", "--model", model, "--neuron", "head.1:3", "--out", png, "-q"), "0..2")
    one_line_error(run("visualize", "--model", model, "--neuron", "fc.2:3", "--preset", "dgn-am", "--out", png, "-q"),
                   "generator-noiseless.safetensors", "--noiseless")


def test_visualize_without_the_training_data_says_so(model, tmp_path):
    moved = tmp_path / "moved"
    moved.mkdir()
    for file in model.iterdir():
        (moved / file.name).write_bytes(file.read_bytes())
    manifest = json.loads((moved / "manifest.json").read_text())
    (moved / "manifest.json").write_text(json.dumps(manifest | {"dataset": str(tmp_path / "gone")}))
    one_line_error(run("visualize", "--model", moved, "--neuron", "fc.2:3", "--out", tmp_path / "v.png", "-q"),
                   str(tmp_path / "gone"), "top real images")


def test_inpaint_a_colour_image(model, photo, tmp_path):
    npz, png = tmp_path / "f.npz", tmp_path / "f.png"
    result = run("inpaint", "--model", model, "--image", photo, "--box", "8,8,10,10", "--class", "Flags", "-n", 2,
                 "--steps", 2, "--out", npz, "-q")
    assert result.exit_code == 0, result.output
    data = load_npz(npz, num_classes=len(CLASSES))
    known = np.ones((SIZE, SIZE), bool)
    known[8:18, 8:18] = False
    assert data["images"].shape == (2, SIZE, SIZE, CHANNELS) and (data["labels"] == 2).all()
    assert (data["images"][:, known] == np.asarray(Image.open(photo))[known]).all()
    result = run("inpaint", "--model", model, "--image", photo, "--box", "4,4,8,8", "-n", 2, "--steps", 2, "--out", png, "-q")
    assert result.exit_code == 0, result.output
    assert Image.open(png).mode == "RGB" and is_colour(np.asarray(Image.open(png)))


def test_inpaint_bad_input_gives_one_line(model, tmp_path):
    small = tmp_path / "small.png"
    Image.new("RGB", (28, 28), (200, 30, 30)).save(small)
    out = tmp_path / "never.npz"
    one_line_error(run("inpaint", "--model", model, "--image", small, "--box", "1,1,4,4", "--out", out, "-q"), f"{SIZE}×{SIZE}", "28×28")
    right = tmp_path / "right.png"
    Image.new("RGB", (SIZE, SIZE), (200, 30, 30)).save(right)
    one_line_error(run("inpaint", "--model", model, "--image", right, "--box", "30,30,4,4", "--out", out, "-q"),
                   f"outside the {SIZE}×{SIZE}")
    one_line_error(run("inpaint", "--model", model, "--image", right, "--mask", small, "--out", out, "-q"), "mask", f"{SIZE}×{SIZE}")
    one_line_error(run("inpaint", "--model", model, "--image", right, "--box", "1,1,4,4", "--class", "cat", "--out", out, "-q"),
                   "0=Smileys & Emotion")
    assert not out.exists()
