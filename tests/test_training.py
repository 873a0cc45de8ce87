"""Tiny real training runs on scikit-learn's digits: losses drop, checkpoints resume exactly."""

import pytest
import torch

import ppgn.training.classifier as classifier_recipe
from ppgn.models import Classifier, Generator, load_model
from ppgn.training.classifier import ClassifierTrainConfig, random_shift, train_classifier
from ppgn.training.generator import GeneratorTrainConfig, train_generator


@pytest.fixture(scope="module")
def digits_classifier(tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier")
    model, card = train_classifier(ClassifierTrainConfig(dataset="digits", epochs=3, batch_size=64), out, quiet=True)
    return out / "classifier.safetensors", card


def test_classifier_learns_digits(digits_classifier):
    path, card = digits_classifier
    metrics = card["metrics"]
    assert metrics["train_loss_end"] < 0.5 * metrics["train_loss_start"]
    assert metrics["test_accuracy"] > 0.8  # chance is 0.1
    model = load_model(path, expect=Classifier)
    assert torch.isfinite(model.code_max).all() and (model.code_max >= 0).all() and model.code_max.max() > 0
    assert card["seed"] == 0 and card["dataset_sha256"] and card["training_config"]["dataset"] == "digits"


def test_generator_loss_drops_and_reconstructions_keep_the_class(digits_classifier, tmp_path):
    path, _ = digits_classifier
    config = GeneratorTrainConfig(dataset="digits", classifier=str(path), epochs=6, batch_size=64, train_subset=640)
    G, card = train_generator(config, tmp_path, quiet=True)
    metrics = card["metrics"]
    assert metrics["train_loss_end"] < metrics["train_loss_start"]
    assert metrics["test_class_kept"] > 0.3  # an untrained G keeps about 0.1
    assert isinstance(load_model(tmp_path / "generator.safetensors"), Generator)


def test_code_dae_removes_part_of_the_noise(digits_classifier, tmp_path):
    from ppgn.models import CodeDAE
    from ppgn.training.dae import DAETrainConfig, train_dae

    path, _ = digits_classifier
    config = DAETrainConfig(dataset="digits", classifier=str(path), epochs=15, batch_size=64)
    _, card = train_dae(config, tmp_path, quiet=True)
    assert card["metrics"]["test_denoised_mse"] < card["metrics"]["test_noisy_mse"]
    assert isinstance(load_model(tmp_path / "dae-h.safetensors"), CodeDAE)


def test_image_dae_removes_part_of_the_noise(tmp_path):
    from ppgn.models import ImageDAE
    from ppgn.training.dae import DAETrainConfig, train_dae

    config = DAETrainConfig(dataset="digits", space="x", noise=0.25, epochs=4, batch_size=64)
    _, card = train_dae(config, tmp_path, quiet=True)
    assert card["metrics"]["test_denoised_mse"] < card["metrics"]["test_noisy_mse"]
    assert isinstance(load_model(tmp_path / "dae-x.safetensors"), ImageDAE)


class Interrupt(Exception):
    pass


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    config = ClassifierTrainConfig(dataset="digits", epochs=2, batch_size=128, seed=3)
    full, _ = train_classifier(config, tmp_path / "full", quiet=True, checkpoint_every=4)

    real_tqdm = classifier_recipe.tqdm

    class DyingBar(real_tqdm):
        steps = 0

        def update(self, n=1):
            super().update(n)
            DyingBar.steps += n
            if DyingBar.steps == 14:  # after a checkpoint at step 12, two steps are lost
                raise Interrupt

    monkeypatch.setattr(classifier_recipe, "tqdm", DyingBar)
    with pytest.raises(Interrupt):
        train_classifier(config, tmp_path / "killed", quiet=True, checkpoint_every=4)
    assert not (tmp_path / "killed" / "classifier.safetensors").exists()
    monkeypatch.setattr(classifier_recipe, "tqdm", real_tqdm)
    resumed, _ = train_classifier(config, tmp_path / "killed", quiet=True, checkpoint_every=4)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


def test_random_shift_moves_content_and_keeps_shape(gen):
    x = torch.full((4, 1, 8, 8), -1.0)
    x[:, :, 3:5, 3:5] = 1.0
    shifted = random_shift(x, 2, gen)
    assert shifted.shape == x.shape
    assert torch.equal((shifted == 1).sum((1, 2, 3)), torch.full((4,), 4))
    assert not torch.equal(shifted, x)
