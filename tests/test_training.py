"""Tiny real training runs on scikit-learn's digits: losses drop, checkpoints resume exactly,
and the command line trains what the configs say."""

import dataclasses
import json

import pytest
import torch
from kill_helpers import CountedBatches, Interrupt
from typer.testing import CliRunner

import ppgn.training.loop as loop
from ppgn.models import Classifier, Generator, load_model
from ppgn.training.classifier import (
    ClassifierTrainConfig,
    random_shift,
    train_classifier,
)
from ppgn.training.generator import GeneratorTrainConfig, train_generator


@pytest.fixture(scope="module")
def digits_classifier(tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier")
    model, card = train_classifier(ClassifierTrainConfig(dataset="digits", epochs=2, batch_size=64), out, quiet=True)
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
    config = GeneratorTrainConfig(dataset="digits", classifier=str(path), epochs=2, batch_size=32, train_subset=384)
    G, card = train_generator(config, tmp_path, quiet=True)
    metrics = card["metrics"]
    assert metrics["train_loss_end"] < metrics["train_loss_start"]
    assert metrics["test_class_kept"] > 0.3  # an untrained G keeps about 0.1
    assert isinstance(load_model(tmp_path / "generator.safetensors"), Generator)


def test_code_dae_removes_part_of_the_noise(digits_classifier, tmp_path):
    from ppgn.models import CodeDAE
    from ppgn.training.dae import DAETrainConfig, train_dae

    path, _ = digits_classifier
    config = DAETrainConfig(dataset="digits", classifier=str(path), epochs=10, batch_size=64)
    _, card = train_dae(config, tmp_path, quiet=True)
    assert card["metrics"]["test_denoised_mse"] < card["metrics"]["test_noisy_mse"]
    assert isinstance(load_model(tmp_path / "dae-h.safetensors"), CodeDAE)


def test_image_dae_removes_part_of_the_noise(tmp_path):
    from ppgn.models import ImageDAE
    from ppgn.training.dae import DAETrainConfig, train_dae

    config = DAETrainConfig(dataset="digits", space="x", epochs=2, batch_size=64)
    assert config.noise == 0.25  # the image DAE's own default, as the shipped card records
    _, card = train_dae(config, tmp_path, quiet=True)
    assert card["metrics"]["test_denoised_mse"] < card["metrics"]["test_noisy_mse"]
    assert isinstance(load_model(tmp_path / "dae-x.safetensors"), ImageDAE)


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    config = ClassifierTrainConfig(dataset="digits", epochs=2, batch_size=64, train_subset=384, seed=3)  # 6 steps an epoch
    full, _ = train_classifier(config, tmp_path / "full", quiet=True, checkpoint_every=4)

    monkeypatch.setattr(loop, "resumed_batches", CountedBatches(die_after=10))
    with pytest.raises(Interrupt):  # after the checkpoint at step 8 (in the second epoch), two steps are lost
        train_classifier(config, tmp_path / "killed", quiet=True, checkpoint_every=4)
    assert not (tmp_path / "killed" / "classifier.safetensors").exists()
    assert loop.Checkpoint(tmp_path / "killed").load()["step"] == 8

    monkeypatch.setattr(loop, "resumed_batches", resumed := CountedBatches())
    again, _ = train_classifier(config, tmp_path / "killed", quiet=True, checkpoint_every=4)
    assert resumed.steps == 12 - 8  # the resumed run went on from its checkpoint, not from the start
    for (name, a), b in zip(full.state_dict().items(), again.state_dict().values()):
        assert torch.equal(a, b), name


def test_random_shift_moves_content_and_keeps_shape(gen):
    x = torch.full((4, 1, 8, 8), -1.0)
    x[:, :, 3:5, 3:5] = 1.0
    shifted = random_shift(x, 2, gen)
    assert shifted.shape == x.shape
    assert torch.equal((shifted == 1).sum((1, 2, 3)), torch.full((4,), 4))
    assert not torch.equal(shifted, x)


def _defaults():
    from ppgn.training import (
        captioner,
        cinn,
        colorize,
        condition_net,
        dae,
        flow_prior,
        generator,
    )
    from ppgn.training import classifier as cls

    return [  # command and its options, the recipe it calls, the config that recipe should get
        (["classifier"], cls, "train_classifier", cls.ClassifierTrainConfig()),
        (["evaluator"], cls, "train_classifier", cls.ClassifierTrainConfig(model="evaluator")),
        (["generator"], generator, "train_generator", generator.GeneratorTrainConfig()),
        (["dae-h"], dae, "train_dae", dae.DAETrainConfig()),
        (["dae-x"], dae, "train_dae", dae.DAETrainConfig(space="x")),
        (["cinn"], cinn, "train_cinn", cinn.CINNTrainConfig()),
        (["cinn", "--dequantisation", "gaussian"], cinn, "train_cinn", cinn.CINNTrainConfig(dequantisation="gaussian")),
        (["flow-prior"], flow_prior, "train_flow_prior", flow_prior.FlowPriorTrainConfig()),
        (["colorizer"], colorize, "train_colorizer", colorize.ColorizerTrainConfig()),
        (["condition-net", "--module", condition_net.ConditionNetTrainConfig.module], condition_net, "train_condition_net",
         condition_net.ConditionNetTrainConfig()),
        (["captioner", "--classifier", "none"], captioner, "train_captioner", captioner.CaptionerTrainConfig()),
    ]  # fmt: skip


def test_every_train_command_trains_its_config_defaults(monkeypatch, tmp_path):
    from ppgn.cli import app

    for args, module, name, expected in _defaults():
        seen = []

        def recipe(config, *args, **kwargs):
            seen.append(config)
            return None, {"metrics": {"test_accuracy": 0.0}}

        monkeypatch.setattr(module, name, recipe)
        result = CliRunner().invoke(app, ["train", *args, "--out", str(tmp_path), "-q"])
        assert result.exit_code == 0, (args, result.output)
        assert seen == [expected], args


def test_configs_resolve_their_defaults_as_the_shipped_cards_record():
    from ppgn.pipelines.registry import WEIGHTS
    from ppgn.training.cinn import CINNTrainConfig
    from ppgn.training.dae import DAETrainConfig

    for file, config in (("classifier", ClassifierTrainConfig()), ("dae-h", DAETrainConfig()), ("dae-x", DAETrainConfig(space="x"))):
        recorded = json.loads((WEIGHTS / "fashion-mnist" / f"{file}.json").read_text())["training_config"]
        assert {k: v for k, v in dataclasses.asdict(config).items() if k in recorded} == recorded, file  # made with no options
    assert ClassifierTrainConfig(model="evaluator").seed == 1 and ClassifierTrainConfig().seed == 0
    assert CINNTrainConfig().logit_alpha == 0.05 and CINNTrainConfig(dequantisation="gaussian").logit_alpha == 0.0
    with pytest.raises(ValueError, match="logit_alpha = 0"):
        CINNTrainConfig(dequantisation="gaussian", logit_alpha=0.05)
    with pytest.raises(ValueError, match="valid: h, x"):
        DAETrainConfig(space="z")
