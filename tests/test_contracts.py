"""One contract per protocol, run over every implementation (in the manner of zuko's test_flows.py).

Priors (``Prior.score(h, x=None) -> Tensor`` ≈ ∇h log p(h)), on tiny seeded float64 networks:
the shape and dtype of h, determinism, chains that do not see each other, and the score as the
gradient of a potential U checked by finite differences, then a small step along it climbs U.
U is log p where the prior has one (GaussianPrior, FlowPrior: times its documented (σs)²); for
the DAE priors, whose score is R(h) − h with R the denoiser, U(h) = −½‖h − R(h0)‖² (move towards
the denoiser's output, held at h0), pulled back through G for the DAE on images.

Pipelines (every shipped name): same seed same samples, another seed different ones, the
``.npz`` contract, and the same samples from its networks saved with ``save_model`` and loaded
again with ``ppgn.load(folder)``.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import Normal

import ppgn
from ppgn.data import to_uint8
from ppgn.io import load_npz, save_npz
from ppgn.models import (
    Classifier,
    ClassifierConfig,
    CodeDAE,
    CodeDAEConfig,
    Generator,
    GeneratorConfig,
    ImageDAE,
    ImageDAEConfig,
    load_model,
    read_card,
    save_model,
)
from ppgn.models.colour import split_image
from ppgn.models.flow_prior import CodeFlow, CodeFlowConfig
from ppgn.pipelines import model_names
from ppgn.pipelines.registry import resolve
from ppgn.sampling import DAEPrior, FlowPrior, GaussianPrior, ImageDAEPrior, JointPrior, NoPrior, Prior

D = 16  # code size of the tiny networks


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny batches run faster on one intra-op thread, and two xdist workers on two cores then
    do not oversubscribe them (2 threads each made a cINN sample up to 50× slower here)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --------------------------------------------------------------------------- priors


def tiny_nets():
    torch.manual_seed(0)
    C = Classifier(ClassifierConfig(channels=(4, 8), code_dim=D, num_classes=3)).double().eval()
    G = Generator(GeneratorConfig(code_dim=D, channels=(8, 4))).double().eval()
    return C, G


def make_prior(name: str):
    """(prior, U(h, h0) -> (B,), scale): score(h0) = scale · ∇h U(h, h0) at h = h0.

    The networks keep requires_grad on, so a prior that leaks gradients into them would show.
    """
    C, G = tiny_nets()
    if name == "none":
        return NoPrior(), lambda h, h0: torch.zeros(len(h)), 1.0
    if name == "gaussian":
        mean, var = torch.linspace(-0.5, 1.0, D), 0.7
        return GaussianPrior(mean, var), lambda h, h0: Normal(mean, math.sqrt(var)).log_prob(h).sum(1), 1.0
    if name == "dae-h":
        R = CodeDAE(CodeDAEConfig(code_dim=D, hidden=(24,))).double().eval()
        return DAEPrior(R), lambda h, h0: -0.5 * (h - R(h0).detach()).square().sum(1), 1.0
    if name == "joint":  # R(h) = E(G(h))
        return JointPrior(G, C), lambda h, h0: -0.5 * (h - C.encode(G(h0))[1].detach()).square().sum(1), 1.0
    if name == "dae-x":  # the image DAE's R_x(x) − x, pulled back through G
        Rx = ImageDAE(ImageDAEConfig(channels=(4, 4))).double().eval()
        return ImageDAEPrior(G, Rx), lambda h, h0: -0.5 * (G(h) - Rx(G(h0)).detach()).square().flatten(1).sum(1), 1.0
    if name == "flow":
        flow = CodeFlow(CodeFlowConfig(dims=D, blocks=2, hidden=8)).double()
        with torch.no_grad():
            for p in flow.parameters():  # couplings start at the identity: move them off it
                if p.requires_grad:  # (the permutations are fixed)
                    p.add_(0.3 * torch.randn_like(p))
        flow.fit_statistics(torch.rand(64, D) * torch.linspace(0.2, 2.0, D))  # unit_noise differs per unit
        return FlowPrior(flow.eval()), lambda h, h0: flow.log_prob(h), flow.unit_noise**2
    raise KeyError(name)


PRIORS = ["none", "gaussian", "dae-h", "joint", "dae-x", "flow"]
NETWORKS_OF = {"dae-h": "dae", "joint": "generator encoder", "dae-x": "generator dae", "flow": "flow"}


def codes(n=3, seed=1):
    return torch.rand(n, D, generator=torch.Generator().manual_seed(seed)) * 2


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", PRIORS)
def test_prior_score_has_the_shape_and_dtype_of_h(name):
    prior, _, _ = make_prior(name)
    assert isinstance(prior, Prior)
    for n in (1, 3):
        h = codes(n)
        s = prior.score(h)
        assert s.shape == h.shape and s.dtype == h.dtype and not s.requires_grad


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", PRIORS)
def test_prior_score_is_deterministic_and_leaves_h_and_the_networks_alone(name):
    prior, _, _ = make_prior(name)
    h = codes()
    before = h.clone()
    s = prior.score(h)
    assert torch.equal(s, prior.score(h))
    assert torch.equal(h, before)
    with torch.no_grad():  # pipelines may call it under no_grad: the score must not change
        assert torch.allclose(prior.score(h), s, rtol=0, atol=1e-12)
    if hasattr(prior, "generator"):  # x = G(h), when the caller has it, gives the same score
        with torch.no_grad():
            assert torch.allclose(prior.score(h, prior.generator(h)), s, rtol=0, atol=1e-12)
    for attr in NETWORKS_OF.get(name, "").split():
        assert all(p.grad is None for p in getattr(prior, attr).parameters()), attr


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", PRIORS)
def test_prior_score_of_a_chain_does_not_depend_on_the_other_chains(name):
    """The sampler splits chains across workers: each row's score is its own."""
    prior, _, _ = make_prior(name)
    h = codes(4)
    together = prior.score(h)
    for i in range(4):
        assert torch.allclose(prior.score(h[i : i + 1]), together[i : i + 1], rtol=0, atol=1e-12)


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", PRIORS)
def test_prior_score_matches_finite_differences_of_its_potential(name):
    """<score / scale, v> = dU/dt along random directions v (U = log p where the prior has one)."""
    prior, U, scale = make_prior(name)
    h0 = codes()
    s = prior.score(h0)
    eps = 1e-6
    for seed in range(3):
        v = torch.randn(h0.shape, generator=torch.Generator().manual_seed(10 + seed))
        with torch.no_grad():
            numeric = (U(h0 + eps * v, h0) - U(h0 - eps * v, h0)) / (2 * eps)
        assert torch.allclose((s / scale * v).sum(1), numeric, rtol=1e-5, atol=1e-7), (seed, numeric)


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", PRIORS)
def test_a_small_step_along_the_score_climbs_the_potential(name):
    prior, U, _ = make_prior(name)
    h0 = codes()
    s = prior.score(h0)
    if name == "none":
        assert torch.equal(s, torch.zeros_like(h0))  # flat: nothing to climb
        return
    with torch.no_grad():
        assert (U(h0 + 1e-3 * s, h0) > U(h0, h0)).all()
        assert (U(h0 - 1e-3 * s, h0) < U(h0, h0)).all()


@pytest.mark.usefixtures("float64")
def test_gaussian_and_flow_scores_are_exact_where_the_density_is_known():
    """Known values: N(μ, var) gives −(h − μ)/var; a flow at its identity initialisation is a
    standardised Gaussian, so its score is −(h − mean)/std² · (σs)²."""
    h = codes()
    assert torch.allclose(GaussianPrior(torch.ones(D), 2.0).score(h), (1 - h) / 2)
    flow = CodeFlow(CodeFlowConfig(dims=D, blocks=2, hidden=8)).double()
    flow.fit_statistics(torch.rand(64, D) * torch.linspace(0.2, 2.0, D))
    expected = -(h - flow.mean) / flow.std**2 * flow.unit_noise**2
    assert torch.allclose(FlowPrior(flow).score(h), expected)


# --------------------------------------------------------------------------- pipelines

PIPELINES = model_names()
NUM = 2
CLASSES = [7, 3]  # one per sample (every shipped model has at least 8 classes), so a label that lands on the wrong sample would show
NETWORK_FILES = {"ppgn": lambda pipe: ["classifier", "generator"],  # all the default preset uses
                 "cinn": lambda pipe: [pipe.weights], "colorizer": lambda pipe: [pipe.weights]}


def test_every_kind_of_pipeline_is_covered():
    assert {"fashion-mnist", "fashion-mnist-cinn", "mnist-cinn", "emoji-colorizer"} <= set(PIPELINES)
    assert {resolve(name).kind for name in PIPELINES} == set(NETWORK_FILES)


@functools.cache
def pipeline(name: str):
    return ppgn.load(name, device="cpu")


def grey_image(size: int) -> np.ndarray:
    """A horizontal ramp: every level of grey, so clipping and lightness both show."""
    return np.tile(np.linspace(20, 235, size).round().astype(np.uint8), (size, 1))


def draw(pipe, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, labels, prob) as the ``.npz`` contract has them, a few cheap samples."""
    if pipe.kind == "ppgn":
        out = pipe.sample(CLASSES, num=NUM, steps=3, seed=seed)
    elif pipe.kind == "cinn":
        out = pipe.sample(CLASSES, num=NUM, seed=seed)
    else:  # as ``ppgn colorize --out`` files colourings: no class, probability 1
        images = pipe.colorize(grey_image(pipe.size), num=NUM, seed=seed)
        return images, np.zeros(NUM, np.int64), np.ones(NUM, np.float32)
    return out.array, out.labels, out.prob


@functools.cache
def reference(name: str):
    return draw(pipeline(name), seed=0)


def assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("name", PIPELINES)
def test_pipeline_same_seed_same_samples_other_seed_different(name):
    pipe = pipeline(name)
    assert_same(draw(pipe, seed=0), reference(name))
    assert not np.array_equal(draw(pipe, seed=1)[0], reference(name)[0])


@pytest.mark.parametrize("name", PIPELINES)
def test_pipeline_output_follows_the_npz_contract(name, tmp_path):
    pipe, entry = pipeline(name), resolve(name)
    images, labels, prob = reference(name)
    c, h, w = entry.image_shape
    assert images.dtype == np.uint8 and images.shape == (NUM, h, w, c)
    assert labels.dtype == np.int64 and prob.dtype == np.float32 and prob.shape == (NUM,)
    assert ((prob >= 0) & (prob <= 1)).all()
    if pipe.kind != "colorizer":
        assert labels.tolist() == CLASSES and images.shape[1:] == pipe.image_shape
    save_npz(tmp_path / "s.npz", images, labels, prob)
    data = load_npz(tmp_path / "s.npz", num_classes=max(len(entry.classes), 1))
    assert_same((data["images"], data["labels"], data["prob"]), (images, labels, prob))
    assert sorted(data) == ["images", "labels", "prob"]


def save_networks(pipe, name: str, folder, manifest: bool) -> None:
    """The pipeline's networks, re-saved with ``save_model`` (with their cards), and optionally a
    manifest naming only this model."""
    for stem in NETWORK_FILES[pipe.kind](pipe):
        source = pipe.folder / f"{stem}.safetensors"
        card = {k: v for k, v in read_card(source).items() if k not in ("class", "config")}
        save_model(load_model(source), folder / f"{stem}.safetensors", card=card)
    if manifest:
        entry = resolve(name)
        (folder / "manifest.json").write_text(json.dumps({
            "dataset": entry.dataset, "classes": list(entry.classes), "image_shape": list(entry.image_shape),
            "models": {name: {"kind": entry.kind, "weights": entry.weights}},
        }))


@pytest.mark.parametrize("name", PIPELINES)
def test_pipeline_saved_and_loaded_gives_the_same_samples(name, tmp_path):
    pipe = pipeline(name)
    save_networks(pipe, name, tmp_path, manifest=True)
    again = ppgn.load(tmp_path, device="cpu")
    assert type(again) is type(pipe) and again.folder == tmp_path
    assert_same(draw(again, seed=0), reference(name))


@pytest.mark.parametrize("name", PIPELINES)
def test_a_trained_folder_without_manifest_loads_from_its_cards(name, tmp_path):
    """What ``ppgn train ... --out FOLDER`` leaves: weights and cards, no manifest."""
    pipe = pipeline(name)
    save_networks(pipe, name, tmp_path, manifest=False)
    again = ppgn.load(tmp_path, device="cpu")
    assert type(again) is type(pipe)
    assert_same(draw(again, seed=0), reference(name))


# ----------------------------------------------------------- what each kind's samples must be


def test_ppgn_samples_are_the_generator_images_of_their_codes_and_prob_is_the_classifiers():
    pipe = pipeline("fashion-mnist")
    out = pipe.sample(CLASSES, num=NUM, steps=3, seed=0)
    with torch.no_grad():
        x = pipe.generator("generator")(out.h)  # the default preset's G
        p = pipe.classifier(x).softmax(1)[torch.arange(NUM), torch.tensor(CLASSES)]
    np.testing.assert_array_equal(to_uint8(x), out.array)
    np.testing.assert_allclose(out.prob, p.numpy(), rtol=1e-6, atol=1e-7)
    assert out.prob_per_step.shape == (3, NUM)


def test_colorizer_keeps_the_lightness_of_the_grey_image():
    """A colouring only adds chroma: its luma is the grey input, up to rounding and the RGB cube."""
    pipe = pipeline("emoji-colorizer")
    grey = grey_image(pipe.size)
    images, _, _ = reference("emoji-colorizer")
    luma, chroma = split_image(images)
    error = (luma[:, 0].double() * 255 - torch.from_numpy(grey).double()).abs()
    assert error.mean() < 1.0 and error.median() < 0.6
    assert chroma.abs().mean() > 0.01  # and it is coloured: not the grey image returned as RGB
