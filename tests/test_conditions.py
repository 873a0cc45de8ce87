"""Every plug & play condition through the same contract, composition, calibration, and bad input."""

import numpy as np
import pytest
import torch
from torch import nn

from ppgn.data.captions import encode, fit_thresholds, make_caption, measure, parse_caption, tokens, vocabulary
from ppgn.models import Captioner, CaptionerConfig, Classifier, ClassifierConfig, Generator, GeneratorConfig
from ppgn.sampling import ClassCondition, GaussianCondition, SumCondition
from ppgn.sampling.caption import CaptionCondition
from ppgn.sampling.context import ContextCondition, composite
from ppgn.models.user import UserNetworkError, check_logits, load_factory
from ppgn.sampling.calibration import calibration_scale, mean_abs_gradient
from ppgn.sampling.neuron import NeuronCondition, capture, layer_units, parse_neuron


pytestmark = pytest.mark.usefixtures("float64")  # every test here in float64 (tests/conftest.py)


def tiny_classifier():
    torch.manual_seed(0)
    return Classifier(ClassifierConfig(channels=(4, 8), code_dim=16, num_classes=3)).double().eval().requires_grad_(False)


def tiny_captioner():
    torch.manual_seed(0)
    config = CaptionerConfig(vocab=vocabulary(), channels=(4, 8), features=8, embed=8, hidden=16)
    return Captioner(config).double().eval().requires_grad_(False)


def make_conditions():
    """(name, condition) for every kind of condition, on tiny seeded networks."""
    C = tiny_classifier()
    known = torch.rand(1, 1, 28, 28) * 2 - 1
    mask = torch.ones(1, 1, 28, 28)
    mask[..., 8:18, 8:18] = 0
    mlp = load_factory("ppgn.examples.condition_nets:mlp").double().eval().requires_grad_(False)
    return [
        ("class", ClassCondition(C, 1)),
        ("gaussian", GaussianCondition(known, var=4.0)),
        ("neuron-conv", NeuronCondition(C, "features.5", 2)),
        ("neuron-conv-mean", NeuronCondition(C, "features.4", 2, spatial="mean")),
        ("neuron-fc", NeuronCondition(C, "fc.1", 3)),
        ("context", ContextCondition(known, mask)),
        ("caption", CaptionCondition(tiny_captioner(), "a small dark bag")),
        ("user-network", ClassCondition(mlp, 4)),
        ("composed", ClassCondition(C, 0) + 0.5 * NeuronCondition(C, "fc.1", 3) - ClassCondition(C, 2)),
    ]


CONDITIONS = make_conditions()


@pytest.mark.parametrize("name,condition", CONDITIONS, ids=[n for n, _ in CONDITIONS])
def test_condition_contract(name, condition):
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    x.requires_grad_(True)
    log_p = condition.log_prob(x)
    assert log_p.shape == (3,) and torch.isfinite(log_p).all()
    assert torch.equal(log_p, condition.log_prob(x))  # deterministic
    (grad,) = torch.autograd.grad(log_p.sum(), x)
    # Gradient direction and size: a step of length δ along the gradient raises every image's
    # log p by δ‖∇‖ to first order (a wrong sign, a wrong scale or a zero gradient all fail).
    norm = grad.flatten(1).norm(dim=1)
    delta = 1e-5
    after = condition.log_prob(x.detach() + delta * grad / norm.view(-1, 1, 1, 1))
    assert torch.allclose(after - log_p.detach(), delta * norm, rtol=1e-3, atol=0)


EXACT = [(n, c) for n, c in CONDITIONS if n in ("neuron-conv", "neuron-conv-mean", "neuron-fc", "context", "caption")]


@pytest.mark.parametrize("name,condition", EXACT, ids=[n for n, _ in EXACT])
def test_gradient_matches_finite_differences(name, condition):
    """Exact gradients (a ReLU unit's is straight-through on purpose, so it is left out)."""
    x = (torch.rand(2, 1, 28, 28) * 2 - 1).requires_grad_(True)
    (grad,) = torch.autograd.grad(condition.log_prob(x).sum(), x)
    direction = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    eps = 1e-5
    numeric = (condition.log_prob(x.detach() + eps * direction) - condition.log_prob(x.detach() - eps * direction)) / (2 * eps)
    assert torch.allclose(numeric, (grad * direction).flatten(1).sum(1), rtol=1e-4, atol=1e-6)


def test_composition_adds_weighted_log_probs():
    C = tiny_classifier()
    a, b = ClassCondition(C, 0), NeuronCondition(C, "fc.1", 3)
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    combined = a + 0.5 * b
    assert torch.allclose(combined.log_prob(x), a.log_prob(x) + 0.5 * b.log_prob(x))
    assert torch.allclose((a - b).log_prob(x), a.log_prob(x) - b.log_prob(x))  # NOT
    assert torch.allclose(sum([a, b]).log_prob(x), a.log_prob(x) + b.log_prob(x))
    assert isinstance(combined, SumCondition) and [w for w, _ in (combined * 2).terms] == [2.0, 1.0]


def test_context_condition_is_zero_on_the_known_pixels_and_composite_keeps_them():
    known = torch.rand(1, 1, 28, 28) * 2 - 1
    mask = torch.ones(1, 1, 28, 28)
    mask[..., :10, :10] = 0
    other = known.clone()
    other[..., :10, :10] = 0.3  # differs only in the hole
    assert ContextCondition(known, mask).log_prob(other).item() == 0.0
    generated = torch.zeros(1, 1, 28, 28)
    out = composite(generated, known, mask)
    assert torch.equal(out[mask.bool()], known[mask.bool()]) and (out[..., :10, :10] == 0).all()


def test_neuron_hooks_are_removed_and_dead_relus_still_get_a_gradient():
    C = tiny_classifier()
    with capture(C, "fc.2") as box:
        C(torch.zeros(1, 1, 28, 28))
    assert box["out"].shape == (1, 16)
    assert all(not m._forward_hooks for m in C.modules())
    x = torch.full((1, 1, 28, 28), -1.0, requires_grad=True)
    dead = [u for u in range(16) if C.encode(x)[1][0, u] == 0]
    assert dead
    # A unit that is off still shows the chain which way turns it on: the ReLU's (fc.2) gradient
    # is that of its input, the linear unit (fc.1) before it, while its value stays the ReLU's.
    for u in (dead[0], next(u for u in range(16) if u not in dead)):
        relu, linear = NeuronCondition(C, "fc.2", u), NeuronCondition(C, "fc.1", u)
        (grad,) = torch.autograd.grad(relu.log_prob(x).sum(), x)
        (expected,) = torch.autograd.grad(linear.log_prob(x).sum(), x)
        assert torch.equal(grad, expected) and grad.abs().max() > 1e-6
        assert relu.log_prob(x).item() == max(0.0, linear.log_prob(x).item())


def test_layer_units_and_neuron_names():
    C = tiny_classifier()
    units = layer_units(C, (1, 28, 28))
    assert units["features.0"] == 4 and units["fc.2"] == 16 and units["head.1"] == 3
    assert parse_neuron("fc.2:15", units) == ("fc.2", 15)
    with pytest.raises(ValueError, match="unknown layer 'fc.9'; valid: features.0"):
        parse_neuron("fc.9:1", units)
    with pytest.raises(ValueError, match=r"valid: 0\.\.15"):
        parse_neuron("fc.2:16", units)
    with pytest.raises(ValueError, match="LAYER:UNIT"):
        parse_neuron("fc.2", units)
    with pytest.raises(ValueError, match="centre, mean"):
        NeuronCondition(C, "fc.2", 0, spatial="max")


def test_calibration_undoes_a_change_of_scale():
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(code_dim=16, channels=(8, 4))).double().eval().requires_grad_(False)
    C = tiny_classifier()
    h = torch.rand(5, 16)
    reference = ClassCondition(C, 1)
    for factor in (0.01, 10.0):
        scale = calibration_scale(factor * NeuronCondition(C, "fc.1", 3), reference, G, h)
        assert abs(scale * factor * mean_abs_gradient(NeuronCondition(C, "fc.1", 3), G, h) - mean_abs_gradient(reference, G, h)) < 1e-9
    assert calibration_scale(10.0 * reference, reference, G, h) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "spec,needle",
    [
        ("no_colon", "package.module:factory"),
        ("ppgn_does_not_exist.nets:mlp", "cannot import 'ppgn_does_not_exist.nets'"),
        ("ppgn.examples.condition_nets:nope", "callables there: Scale, cnn"),
        ("ppgn.examples.condition_nets:torch", "no callable"),
    ],
)
def test_user_module_errors_are_one_line(spec, needle):
    with pytest.raises(UserNetworkError) as info:
        load_factory(spec)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_user_network_logits_are_checked():
    net = load_factory("ppgn.examples.condition_nets:cnn").double()
    assert check_logits(net, 9, (1, 28, 28), "cpu") == 10
    with pytest.raises(UserNetworkError, match=r"valid: 0\.\.9"):
        check_logits(net, 10, (1, 28, 28), "cpu")
    with pytest.raises(UserNetworkError, match="fails on a"):
        check_logits(net, 0, (1, 32, 20), "cpu")
    with pytest.raises(UserNetworkError, match="logits"):
        check_logits(nn.Flatten(0), 0, (1, 28, 28), "cpu")


def test_captions_vocabulary_and_parsing():
    vocab = vocabulary()
    assert vocab[:3] == ("<pad>", "<bos>", "<eos>") and {"dark", "light", "small", "large", "bag", "ankle", "boot"} <= set(vocab)
    assert tokens("A small, DARK bag!") == ["a", "small", "dark", "bag"]
    assert encode("a small dark bag", vocab) == [1, *(vocab.index(w) for w in ("a", "small", "dark", "bag")), 2]
    assert parse_caption("a small dark bag") == (8, "dark", "small")
    assert parse_caption("a t-shirt that is light") == (0, "light", None)
    assert parse_caption("a large ankle boot") == (9, None, "large")
    assert parse_caption("a shirt") == (6, None, None)


@pytest.mark.parametrize(
    "sentence,needle",
    [
        ("a small drak bag", "unknown word 'drak' in caption; nearest known words: dark"),
        ("a hat", "unknown word 'hat'"),
        ("", "empty caption"),
        ("   ", "empty caption"),
    ],
)
def test_caption_word_errors_name_the_nearest_words(sentence, needle):
    with pytest.raises(ValueError) as info:
        CaptionCondition(tiny_captioner(), sentence)
    assert needle in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "sentence,needle",
    [("a small dark", "names no class"), ("a bag and a dress", "names 2 classes"), ("a dark light bag", "contradictory")],
)
def test_caption_must_name_one_class_and_consistent_attributes(sentence, needle):
    with pytest.raises(ValueError, match=needle):
        parse_caption(sentence)


def test_attributes_are_measured_from_pixels():
    images = np.zeros((4, 28, 28), np.uint8)
    images[0, 10:14, 10:14] = 80  # small, dark
    images[1, 2:26, 2:26] = 250  # large, light
    images[2, 8:20, 8:20] = 160
    images[3, 6:22, 6:22] = 200
    brightness, size = measure(images)
    # brightness: the mean of the ink pixels (> 25 of 255); size: the ink's share of the image
    np.testing.assert_allclose(brightness, np.array([80, 250, 160, 200]) / 255)
    np.testing.assert_allclose(size, np.array([4, 24, 12, 16]) ** 2 / 784)
    # tertiles of four values sorted a < b < c < d are b and c exactly
    thresholds = fit_thresholds(images, np.zeros(4, np.int64), 1)
    assert thresholds == ((round(160 / 255, 5), round(200 / 255, 5), round(144 / 784, 5), round(256 / 784, 5)),)
    assert make_caption(8, "dark", "small", 3) == "a small dark bag"
    assert make_caption(8, None, None, 5) == "a bag"  # only the template without attributes fits


def test_calibration_modes_on_the_shipped_pipeline():
    """'up' raises a weak gradient to the shipped class gradient and leaves a strong one alone."""
    import ppgn
    from ppgn.pipelines.conditions import Start, calibrate

    torch.set_default_dtype(torch.float32)
    pipe = ppgn.load("fashion-mnist", device="cpu")
    start = Start(4)
    weak, strong = 0.01 * ClassCondition(pipe.classifier, 3), 100.0 * ClassCondition(pipe.classifier, 3)
    # Gradients are linear in a condition's weight, so the factors are known from the unweighted one's.
    match = calibrate(pipe, ClassCondition(pipe.classifier, 3), start, "match")[1]
    up = calibrate(pipe, weak, start, "up")[1]
    assert up == pytest.approx(100 * match, rel=1e-6) and up == pytest.approx(calibrate(pipe, weak, start, "match")[1])
    assert calibrate(pipe, strong, start, "up")[1] == 1.0
    assert calibrate(pipe, strong, start, "match")[1] == pytest.approx(match / 100, rel=1e-6)
    assert calibrate(pipe, weak, start, "off")[1] == 1.0
    with pytest.raises(ValueError, match="up, match, off"):
        calibrate(pipe, weak, start, "sideways")
