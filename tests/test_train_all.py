"""`ppgn train all`: one command from a dataset to a model folder every command can use; a rerun after a kill finishes the job."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from cli_helpers import one_line_error, run

import ppgn
import ppgn.training.all as all_recipe
from ppgn.data import FolderDataset
from ppgn.io import load_npz
from ppgn.training.all import AllTrainConfig, train_all

TINY = AllTrainConfig(data="digits", epochs=1, train_subset=200)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("mine")
    result = run("train", "all", "--data", "digits", "--out", out, "--epochs", 1, "--train-subset", 200, "-q")
    assert result.exit_code == 0, result.output
    return out


def test_the_folder_is_a_model_every_command_uses(folder, tmp_path):
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["classes"] == [str(d) for d in range(10)] and manifest["image_shape"] == [1, 28, 28]
    assert set(manifest["commands"]) == {"classifier", "evaluator", "generator", "all"}
    for file in ("classifier", "evaluator", "generator"):  # each file's command is the one its card records
        assert manifest["commands"][file] == json.loads((folder / f"{file}.json").read_text())["command"]
    pipe = ppgn.load(folder)
    assert pipe.kind == "ppgn" and pipe.classes[3] == "3"
    out = tmp_path / "s.npz"
    assert run("sample", "--model", folder, "--class", "3", "--num", 2, "--steps", 3, "--out", out, "-q").exit_code == 0
    assert (load_npz(out, num_classes=10)["labels"] == 3).all()
    assert run("eval", out, "--model", folder).exit_code == 0
    one_line_error(run("sample", "--model", folder, "--class", "sneaker", "--out", out), "valid: 0=0")  # its own classes


def test_a_rerun_keeps_finished_stages_and_a_killed_stage_resumes(tmp_path, monkeypatch):
    calls = []
    generator_recipe = all_recipe.train_generator

    def killed_once(config, out, *args, **launch):
        calls.append(config.noise)
        if len(calls) == 1:
            raise KeyboardInterrupt  # killed inside the generator stage
        return generator_recipe(config, out, *args, **launch)

    monkeypatch.setattr(all_recipe, "train_generator", killed_once)
    with pytest.raises(KeyboardInterrupt):
        train_all(TINY, tmp_path, quiet=True)
    assert (tmp_path / "classifier.safetensors").is_file() and not (tmp_path / "manifest.json").exists()
    said = []
    train_all(TINY, tmp_path, quiet=True, say=said.append)
    assert said[:2] == [f"classifier: done already ({tmp_path / 'classifier'}.safetensors)",
                        f"evaluator: done already ({tmp_path / 'evaluator'}.safetensors)"]
    assert said[2].startswith("generator: training") and len(calls) == 2
    assert (tmp_path / "generator.safetensors").is_file() and (tmp_path / "manifest.json").is_file()
    said.clear()
    train_all(TINY, tmp_path, quiet=True, say=said.append)
    assert all("done already" in line for line in said) and len(calls) == 2


def test_another_config_retrains_the_stages_it_changes(tmp_path):
    train_all(TINY, tmp_path, quiet=True)
    said = []
    train_all(AllTrainConfig(data="digits", epochs=1, train_subset=200, generator_epochs=2), tmp_path, quiet=True, say=said.append)
    assert [line.split(":")[0] for line in said if "training" in line] == ["generator"]


def test_bad_input_gives_one_line(tmp_path):
    one_line_error(run("train", "all", "--data", "imagenet", "--out", tmp_path / "x", "-q"), "imagenet", "valid")
    one_line_error(run("train", "all", "--data", "digits", "--out", tmp_path / "x", "--generator-epochs", 0, "-q"), "--generator-epochs", "got 0")


def _colour_folder(root, per_class=24, side=40):
    """Three classes told apart by colour and shape: red squares, green discs, blue bars, each jittered."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    for name, colour in (("red square", (220, 30, 30)), ("green disc", (30, 200, 60)), ("blue bar", (40, 60, 230))):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = Image.new("RGB", (side, side), (255, 255, 255))
            draw = ImageDraw.Draw(image)
            x, y = rng.integers(4, 12, 2)
            shape = {"red square": draw.rectangle, "green disc": draw.ellipse}.get(name)
            box = (x, y, x + 24, y + (24 if shape else 8))
            (shape or draw.rectangle)(box, fill=colour)
            image.save(root / name / f"{i:03d}.png")
    return root


def test_a_colour_folder_becomes_a_model_at_the_size_asked(tmp_path):
    data = _colour_folder(tmp_path / "shapes")
    out = tmp_path / "mine"
    result = run("train", "all", "--data", data, "--size", 32, "--out", out, "--epochs", 1, "--width", 0.25,
                 "--code-dim", 32, "--batch-size", 16, "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["classes"] == ["blue bar", "green disc", "red square"] and manifest["image_shape"] == [3, 32, 32]
    train = FolderDataset(data, "train", 32)
    assert manifest["data_sha256"] == train.fingerprint.sha256
    for file in ("classifier", "evaluator", "generator"):  # every card names the data it was trained on
        card = json.loads((out / f"{file}.json").read_text())
        assert card["dataset_sha256"] == train.fingerprint.sha256 and str(data) in card["data"]
    pipe = ppgn.load(out)
    assert pipe.classes == ("blue bar", "green disc", "red square")
    samples = run("sample", "--model", out, "--class", "green disc", "--num", 2, "--steps", 2, "--out", tmp_path / "g.npz", "-q")
    assert samples.exit_code == 0, samples.output
    images = load_npz(tmp_path / "g.npz", num_classes=3)["images"]
    assert images.shape == (2, 32, 32, 3) and (images[..., 0] != images[..., 1]).any()  # colour, not grey in three channels


def test_bad_folders_are_refused_before_anything_is_written(tmp_path):
    data = _colour_folder(tmp_path / "shapes", per_class=4)
    out = tmp_path / "out"
    one_line_error(run("train", "all", "--data", data, "--size", 48, "--out", out, "-q"), "size 48", "28, 32, 64, 128")
    (data / "green disc" / "notes.txt").write_text("not an image")
    one_line_error(run("train", "all", "--data", data, "--out", out, "-q"), "notes.txt", "--skip-bad")
    for name in ("green disc", "blue bar"):
        shutil.rmtree(data / name)
    one_line_error(run("train", "all", "--data", data, "--out", out, "-q"), "only one class", "red square")
    assert not out.exists()  # nothing half-written


def test_bench_train_measures_images_per_second(tmp_path):
    result = run("bench", "train", "--data", "digits", "--steps", 3, "--batch-size", 32, "--width", 0.25, "--json", tmp_path / "t.json")
    assert result.exit_code == 0, result.output
    measured = json.loads((tmp_path / "t.json").read_text())
    assert measured["images_per_s"] > 0 and measured["processes"] == 1 and measured["steps"] >= 3
    one_line_error(run("bench", "train", "--data", "digits", "--batch-size", 100000), "larger than")


def test_a_mismatched_manifest_or_weights_is_one_line(folder, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    write = lambda m: (broken / "manifest.json").write_text(json.dumps(m))  # noqa: E731
    write(manifest | {"classes": manifest["classes"][:3]})
    one_line_error(run("sample", "--model", broken, "--class", "1", "--num", 1, "--steps", 1, "--out", tmp_path / "s.npz"),
                   "3 classes", "has 10")
    write(manifest)
    other = tmp_path / "other"  # a generator made for 32-px images beside a 28-px classifier
    import ppgn.models as models

    G = models.Generator(models.GeneratorConfig(code_dim=256, image_size=32, width=0.25))
    models.save_model(G, broken / "generator.safetensors", {"dataset": "digits"})
    one_line_error(run("sample", "--model", broken, "--class", "1", "--num", 1, "--steps", 1, "--out", other / "s.npz"),
                   "not one model")
    (broken / "manifest.json").write_text("{not json")
    one_line_error(run("sample", "--model", broken, "--class", "1", "--out", other / "s.npz"), "not a valid model manifest")
    assert not other.exists()
