"""Models by name or folder: every shipped name comes from a manifest, and a folder describes itself."""

from __future__ import annotations

import json
import shutil

import pytest

import ppgn
from ppgn.models import Classifier, ClassifierConfig, WeightsError, save_model
from ppgn.pipelines import CINNPipeline, ColorizerPipeline, PPGNPipeline, load, model_names
from ppgn.pipelines.registry import WEIGHTS, describe_folder, read_manifest, resolve

PIPELINE_OF_KIND = {"ppgn": PPGNPipeline, "cinn": CINNPipeline, "colorizer": ColorizerPipeline}


def test_the_shipped_names_are_the_manifests_models():
    listed = {e.name: e for m in sorted(WEIGHTS.glob("*/manifest.json")) for e in read_manifest(m.parent)}
    assert model_names() == sorted(listed) and {"fashion-mnist", "fashion-mnist-cinn", "mnist-cinn"} <= set(listed)
    for name, entry in listed.items():
        pipe = load(name)
        assert isinstance(pipe, PIPELINE_OF_KIND[entry.kind]) and pipe.kind == entry.kind
        assert entry.path.is_file() and entry.command and entry.command.startswith("ppgn train")
    assert load("mnist-cinn").classes == tuple("0123456789")
    assert load("fashion-mnist").classes[9] == "Ankle boot"


def test_the_manifest_matches_the_weights_it_describes():
    for name in model_names(kind="ppgn") + model_names(kind="cinn"):
        entry, pipe = resolve(name), load(name)
        assert pipe.image_shape == tuple(entry.image_shape[1:]) + (entry.image_shape[0],)
        card = json.loads(entry.path.with_suffix(".json").read_text())
        assert card["training_config"]["dataset"] == entry.dataset


def test_the_shipped_weights_fit_the_budget():
    total = sum(p.stat().st_size for p in WEIGHTS.glob("*/*.safetensors"))
    assert total < 25_000_000, f"{total / 1e6:.2f} MB of weights; the budget is 25 MB"


def tiny_classifier_folder(tmp_path, dataset: str | None):
    folder = tmp_path / "model"
    card = {"training_config": {"dataset": dataset}} if dataset else {}
    save_model(Classifier(ClassifierConfig(num_classes=10)), folder / "classifier.safetensors", card)
    return folder


def test_a_folder_without_a_manifest_takes_its_classes_from_its_card(tmp_path):
    entry = describe_folder(tiny_classifier_folder(tmp_path, "digits"))
    assert entry.kind == "ppgn" and entry.classes == tuple("0123456789") and entry.image_shape == (1, 28, 28)
    assert ppgn.load(entry.folder).classes == tuple("0123456789")  # never Fashion-MNIST's names


def test_a_folder_that_does_not_say_its_classes_is_refused(tmp_path):
    with pytest.raises(WeightsError, match="manifest.json") as info:
        load(tiny_classifier_folder(tmp_path, None))
    assert "\n" not in str(info.value)


def test_a_manifest_overrides_the_cards(tmp_path):
    folder = tiny_classifier_folder(tmp_path, "digits")
    manifest = {"dataset": "mine", "classes": [f"c{k}" for k in range(10)], "image_shape": [1, 28, 28],
                "models": {"mine": {"kind": "ppgn", "weights": "classifier"}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert load(folder).classes[3] == "c3" and resolve(folder).dataset == "mine"


@pytest.mark.parametrize(
    "text,needle",
    [("{not json", "not a valid model manifest"), ('{"models": {}}', "not a valid model manifest"),
     ('{"dataset": "d", "classes": [], "image_shape": [1, 2, 2], "models": {"m": {"kind": "gan"}}}', "valid: ppgn, cinn, colorizer")],
)
def test_a_broken_manifest_gives_one_line(tmp_path, text, needle):
    folder = tiny_classifier_folder(tmp_path, "digits")
    (folder / "manifest.json").write_text(text)
    with pytest.raises(WeightsError, match=needle) as info:
        load(folder)
    assert "\n" not in str(info.value)


def test_unknown_names_and_missing_weights_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(WeightsError, match="valid: .*fashion-mnist.*mnist-cinn"):
        load("imagenet")
    shipped = tmp_path / "weights" / "mnist"
    shipped.mkdir(parents=True)
    shutil.copy(WEIGHTS / "mnist" / "manifest.json", shipped)
    monkeypatch.setattr("ppgn.pipelines.registry.WEIGHTS", tmp_path / "weights")
    with pytest.raises(WeightsError, match="made by 'ppgn train cinn --dataset mnist"):
        load("mnist-cinn")
