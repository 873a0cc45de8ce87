"""Every image network at every size it is built for: shapes, save/load, BatchNorm folding, errors.

One definition per network, sized by its config (28, 32, 64, 128 px; 1 or 3 channels), and
the shipped Fashion-MNIST files are one instance of them: their configs rebuild the old trees.
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from test_models import randomise_batchnorm
from torch import nn

from ppgn.models import (
    Classifier,
    ClassifierConfig,
    Discriminator,
    DiscriminatorConfig,
    Evaluator,
    EvaluatorConfig,
    Generator,
    GeneratorConfig,
    ImageDAE,
    ImageDAEConfig,
    load_model,
    save_model,
)
from ppgn.models.classifier import SIZES
from ppgn.models.fuse import fold_batchnorm
from ppgn.models.io import MODEL_CLASSES, config_from_dict

SHIPPED = Path(__file__).resolve().parent.parent / "ppgn" / "weights" / "fashion-mnist"
CONFIGS = (ClassifierConfig, GeneratorConfig, DiscriminatorConfig, ImageDAEConfig, EvaluatorConfig)
SHAPES = [(size, channels) for size in (28, 32, 64, 128) for channels in (1, 3)]


def build(size: int, channels: int, upsample: str = "transpose") -> dict[str, nn.Module]:
    """Each network at its default width, seeded, BatchNorm statistics made non-trivial, eval mode."""
    gen = torch.Generator().manual_seed(size + channels)
    image = dict(image_size=size, image_channels=channels)
    with torch.random.fork_rng():
        torch.manual_seed(size + channels)  # the initial weights
        nets = {
            "C": Classifier(ClassifierConfig(**image, code_dim=32)),
            "G": Generator(GeneratorConfig(**image, code_dim=32, upsample=upsample)),
            "D": Discriminator(DiscriminatorConfig(**image)),
            "R_x": ImageDAE(ImageDAEConfig(**image, upsample=upsample)),
            "evaluator": Evaluator(EvaluatorConfig(**image)),
        }
    return {k: randomise_batchnorm(m, gen) for k, m in nets.items()}


def outputs(nets: dict[str, nn.Module], x: torch.Tensor, h: torch.Tensor) -> dict[str, torch.Tensor]:
    h1, code = nets["C"].encode(x)
    return {
        "h1": h1, "h": code, "logits": nets["C"](x), "G": nets["G"](h), "D": nets["D"](x),
        "R_x": nets["R_x"](x), "evaluator": nets["evaluator"](x),
    }


@pytest.mark.parametrize("upsample", ["transpose", "resize"])
@pytest.mark.parametrize("size,channels", SHAPES)
@torch.no_grad()
def test_every_size_maps_shapes_round_trips_and_folds(size, channels, upsample, tmp_path):
    nets = build(size, channels, upsample)
    gen = torch.Generator().manual_seed(1)
    x, h = torch.rand(2, channels, size, size, generator=gen) * 2 - 1, torch.rand(2, 32, generator=gen)
    y = outputs(nets, x, h)
    side = 7 if size == 28 else 4
    assert len(nets["C"].config.channels) == SIZES[size] and len(nets["G"].config.channels) == SIZES[size]
    assert y["h1"].shape == (2, nets["C"].config.channels[-1], side, side) and y["h"].shape == (2, 32)
    assert (y["h"] >= 0).all() and y["logits"].shape == (2, 10) and y["evaluator"].shape == (2, 10)
    assert y["G"].shape == y["R_x"].shape == x.shape and y["G"].abs().max() <= 1 and y["R_x"].abs().max() <= 1
    assert y["D"].shape == (2,)

    for name, net in nets.items():  # the file says how to rebuild itself
        save_model(net, tmp_path / f"{name}.safetensors")
    loaded = {name: load_model(tmp_path / f"{name}.safetensors") for name in nets}
    assert all(loaded[k].config == nets[k].config for k in nets)
    assert all(torch.equal(a, b) for a, b in zip(outputs(loaded, x, h).values(), y.values()))

    folded = {name: fold_batchnorm(net) for name, net in nets.items()}
    assert not any(isinstance(m, nn.BatchNorm2d) for net in folded.values() for m in net.modules())
    for key, value in outputs(folded, x, h).items():
        assert torch.allclose(value, y[key], atol=1e-5), key


@pytest.mark.parametrize("config", CONFIGS)
def test_sizes_channels_and_widths_not_built_give_one_line_errors(config):
    with pytest.raises(ValueError, match=r"image_size 30 .*valid sizes: 28, 32, 64, 128$") as err:
        config(image_size=30)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=r"image_channels 2 .*valid: 1 \(grey\) or 3 \(RGB\)$"):
        config(image_channels=2)
    with pytest.raises(ValueError, match=r"has 1 widths; a 64-px \w+ has \d: give \d, or none") as err:
        config(image_size=64, channels=(8,))
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="width must be positive"):
        config(width=0)


@pytest.mark.parametrize("config", [GeneratorConfig, ImageDAEConfig])
def test_upsampling_is_a_choice_named_in_the_error(config):
    with pytest.raises(ValueError, match=r"upsample 'pixel' is not supported; valid: transpose, subpixel, resize$"):
        config(upsample="pixel")


def test_depth_follows_the_size_and_width_scales_the_default_widths():
    assert [len(ClassifierConfig(image_size=s).channels) for s in SIZES] == [2, 3, 4, 5]
    assert [len(EvaluatorConfig(image_size=s).channels) for s in SIZES] == [3, 4, 5, 6]
    assert ClassifierConfig(image_size=64).channels == (32, 64, 64, 64)
    assert ClassifierConfig(image_size=64, width=0.5).channels == (16, 32, 32, 32)
    assert GeneratorConfig(image_size=64).channels == (64, 64, 32, 16)  # E/C's order mirrored: smallest map first
    # The shipped 28-px networks are instances: E/C, R_x and the evaluator at width 1, G at width 4.
    assert ClassifierConfig().channels == (32, 64) and ImageDAEConfig().channels == (32, 64)
    assert EvaluatorConfig().channels == (16, 32, 64) and GeneratorConfig(width=4).channels == (128, 64)
    assert DiscriminatorConfig(width=2).channels == (64, 128)


def test_a_64px_colour_ppgn_stays_small():
    """E/C + G at 64 px RGB and default width, stored float16 (buffers too): about 1.5 MB."""
    C = Classifier(ClassifierConfig(image_size=64, image_channels=3))
    G = Generator(GeneratorConfig(image_size=64, image_channels=3))
    numel = sum(t.numel() for net in (C, G) for t in net.state_dict().values() if t.is_floating_point())
    assert 2 * numel < 1.65e6


def shipped_files():
    files = []
    for path in sorted(SHIPPED.glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            if (f.metadata() or {}).get("class") in ("Classifier", "Generator", "ImageDAE", "Evaluator"):
                files.append(path)
    return files


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem)
def test_shipped_configs_rebuild_the_exact_old_trees(path):
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    model_cls, config_cls = MODEL_CLASSES[meta["class"]]
    model = model_cls(config_from_dict(config_cls, json.loads(meta["config"])))
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == stored


def test_the_neuron_names_of_the_shipped_classifier_keep_their_layers():
    C = load_model(SHIPPED / "classifier.safetensors")
    layers = dict(C.named_modules())
    assert isinstance(layers["features.6"], nn.ReLU) and isinstance(layers["features.4"], nn.Conv2d)
    assert isinstance(layers["fc.2"], nn.ReLU) and isinstance(layers["head.1"], nn.Linear)
    assert layers["features.4"].out_channels == 64 and layers["head.1"].in_features == 256
