"""`ppgn train all`: one command from a dataset to a model folder every command can use; a rerun after a kill finishes the job."""

from __future__ import annotations

import json

import pytest
from cli_helpers import one_line_error, run

import ppgn
import ppgn.training.all as all_recipe
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

    def killed_once(config, out, *args):
        calls.append(config.noise)
        if len(calls) == 1:
            raise KeyboardInterrupt  # killed inside the generator stage
        return generator_recipe(config, out, *args)

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
    one_line_error(run("train", "all", "--data", "digits", "--out", tmp_path / "x", "--generator-epochs", 0, "-q"), "--generator-epochs must be > 0")
