"""The cINN: one contract over every shape of condition (invertibility, exact log-det, determinism,
save/load), the pixel ↔ flow change of variables, and the training recipe on sklearn digits."""

from __future__ import annotations

import math

import pytest
import torch

from ppgn.models import load_model, save_model
from ppgn.models.cinn import CINN, CINNConfig, bits_per_dim, flow_to_pixels, pixels_to_flow

CONFIGS = {
    "class": CINNConfig(x_shape=(1, 4, 4), condition="class", num_classes=3, cond_features=4, blocks=3, hidden=8),
    "class-multiscale": CINNConfig(x_shape=(1, 8, 8), condition="class", num_classes=3, cond_features=4, blocks=2, hidden=8,
                                   layout="multiscale", conv_blocks=(1, 2), conv_hidden=(4, 6)),
    "class-pyramid": CINNConfig(x_shape=(1, 8, 8), condition="class", num_classes=3, cond_features=4, blocks=2, hidden=8,
                                layout="pyramid", conv_blocks=(1, 2), conv_hidden=(4, 6)),
    "image": CINNConfig(x_shape=(2, 4, 4), condition="image", cond_features=4, blocks=2, hidden=8),
    "image-2-levels": CINNConfig(x_shape=(2, 4, 4), condition="image", cond_features=4, blocks=3, hidden=8, levels=2),
    "none": CINNConfig(x_shape=(6,), condition="none", blocks=3, hidden=8),
}


def make(kind: str, dtype=torch.float64) -> tuple[CINN, torch.Tensor | None]:
    """A tiny seeded cINN whose couplings are not the identity, and a batch of conditions."""
    torch.manual_seed(0)
    net = CINN(CONFIGS[kind]).to(dtype)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:  # the Haar kernel and permutations are fixed
                p.add_(0.3 * torch.randn_like(p))
    c = {"class": torch.tensor([0, 1, 2]), "class-multiscale": torch.tensor([2, 0, 1]), "class-pyramid": torch.tensor([1, 2, 0]), "none": None}.get(kind, torch.randn(3, 1, 4, 4, dtype=dtype))
    return net.eval(), c


@pytest.mark.parametrize("kind", CONFIGS)
def test_x_to_z_to_x_is_the_identity(kind):
    net, c = make(kind)
    x = torch.randn(3, *net.config.x_shape, dtype=torch.float64)
    z, log_det = net(x, c)
    x_back, log_det_back = net(z, c, rev=True)
    assert z.shape == (3, net.config.dims) and log_det.shape == (3,)
    assert (x_back - x).abs().max() < 1e-4
    assert torch.allclose(log_det, -log_det_back, atol=1e-6)
    assert not torch.allclose(z.reshape(x.shape), x)  # not trivially the identity


@pytest.mark.parametrize("kind", CONFIGS)
def test_log_det_matches_a_brute_force_jacobian(kind):
    net, c = make(kind)
    x = torch.randn(3, *net.config.x_shape, dtype=torch.float64)
    _, log_det = net(x, c)
    for i in range(3):
        ci = None if c is None else c[i : i + 1]
        jac = torch.autograd.functional.jacobian(lambda xi: net(xi[None], ci)[0][0], x[i])
        brute = torch.linalg.slogdet(jac.reshape(net.config.dims, net.config.dims))[1]
        assert torch.allclose(log_det[i], brute, atol=1e-6), (log_det[i], brute)


@pytest.mark.parametrize("kind", CONFIGS)
def test_sampling_is_deterministic_under_a_seed(kind):
    net, c = make(kind)
    draw = lambda seed: net.sample(c, 3, 0.8, torch.Generator().manual_seed(seed))  # noqa: E731
    assert torch.equal(draw(0), draw(0)) and not torch.equal(draw(0), draw(1))
    assert draw(0).shape == (3, *net.config.x_shape)


@pytest.mark.parametrize("kind", CONFIGS)
@pytest.mark.parametrize("dtype", [None, torch.float16])
def test_save_and_load_round_trip(tmp_path, kind, dtype):
    net, c = make(kind, torch.float32)
    save_model(net, tmp_path / "cinn.safetensors", {"seed": 0}, dtype=dtype)
    again = load_model(tmp_path / "cinn.safetensors")
    assert again.config == net.config
    x = torch.randn(3, *net.config.x_shape)
    z, z_again = net(x, c)[0], again(x, c)[0]
    tol = 1e-5 if dtype is None else 0.01  # float16 storage: errors relative to the largest |z|
    assert (z - z_again).abs().max() <= tol * z.abs().max()
    assert all(p.dtype == torch.float32 for p in again.parameters() if p.is_floating_point())


def test_zero_initialised_couplings_start_as_permutations():
    net = CINN(CONFIGS["none"]).double()
    x = torch.randn(5, 6, dtype=torch.float64)
    z, log_det = net(x)
    assert torch.allclose(log_det, torch.zeros(5, dtype=torch.float64))
    assert torch.allclose(z.sort(1).values, x.sort(1).values)


def test_unknown_condition_is_refused():
    with pytest.raises(ValueError, match="valid: class, image, none"):
        CINN(CINNConfig(condition="text"))
    with pytest.raises(ValueError, match="valid: fc, multiscale, pyramid"):
        CINN(CINNConfig(layout="unet"))
    with pytest.raises(ValueError, match="sizes must divide by 4"):
        CINN(CINNConfig(x_shape=(1, 6, 6), layout="pyramid", conv_blocks=(1, 1), conv_hidden=(4, 4)))


@pytest.mark.parametrize("kind", ["class", "class-multiscale", "class-pyramid"])
def test_log_prob_of_every_class_matches_one_class_at_a_time(kind):
    net, _ = make(kind)
    x = torch.randn(4, *net.config.x_shape, dtype=torch.float64)
    batched = net.log_prob_all_classes(x)
    one_by_one = torch.stack([net.log_prob(x, torch.full((4,), k)) for k in range(net.config.num_classes)], 1)
    assert batched.shape == (4, net.config.num_classes)
    assert torch.allclose(batched, one_by_one, atol=1e-8)
    assert not torch.allclose(batched[:, 0], batched[:, 1])  # the condition reaches the likelihood


def test_the_multiscale_layout_conditions_every_scale():
    """Each scale's couplings read their own condition: changing the class changes z in all of them."""
    net, _ = make("class-multiscale")
    x = torch.randn(2, *net.config.x_shape, dtype=torch.float64)
    conditions = net.condition(torch.tensor([0, 1]))
    assert [tuple(c.shape) for c in conditions] == [(2, 4, 4, 4), (2, 4, 2, 2), (2, 4)]
    for scale in range(len(conditions)):
        moved = [c.clone() for c in conditions]
        moved[scale] = moved[scale] + 1.0
        z, _ = net.flow(x, c=conditions)
        z_moved, _ = net.flow(x, c=moved)
        assert not torch.allclose(z, z_moved), scale


def test_the_pyramid_codes_the_thumbnail_first_and_details_follow_it():
    """z[:, :s] depends on the thumbnail alone: finest details leave it as it is; and the thumbnail
    posterior is the thumbnail flow's own log p(s | c) for each class."""
    net, _ = make("class-pyramid")
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64)
    c = torch.tensor([0, 2])
    thumb = 2 * 2  # 8×8 halved twice
    (bands,), _ = net.haar[0]([x], jac=False)
    bands_moved = bands.clone()
    bands_moved[:, 1:] += 0.5  # the finest detail bands only
    (x_moved,), _ = net.haar[0]([bands_moved], rev=True, jac=False)
    z, _ = net(x, c)
    z_moved, _ = net(x_moved, c)
    assert torch.allclose(z[:, :thumb], z_moved[:, :thumb])
    assert not torch.allclose(z[:, thumb:], z_moved[:, thumb:])
    posterior = net.thumbnail_log_prob_all_classes(x)
    (low,), _ = net.haar[1]([bands[:, :1]], jac=False)
    s = low[:, :1].flatten(1)
    for k in range(3):
        zk, log_det = net.flow(s, c=net.condition(torch.full((2,), k)))
        expected = -0.5 * (zk**2).sum(1) - 0.5 * thumb * math.log(2 * math.pi) + log_det
        assert torch.allclose(posterior[:, k], expected)
    with pytest.raises(ValueError, match="needs layout='pyramid'"):
        make("class")[0].thumbnail_log_prob_all_classes(torch.zeros(1, 1, 4, 4, dtype=torch.float64))


@pytest.mark.parametrize("alpha", [0.0, 0.05])
def test_pixel_change_of_variables(alpha):
    u = torch.tensor([[0.0, 17.0, 128.0, 255.0]], dtype=torch.float64)
    noise = torch.full_like(u, 0.5)
    x, log_det = pixels_to_flow(u, noise, alpha)
    y = (u + noise) / 256
    assert torch.allclose(flow_to_pixels(x, alpha), y)
    jac = torch.autograd.functional.jacobian(lambda yy: pixels_to_flow(yy * 256 - noise, noise, alpha)[0], y)
    assert torch.allclose(log_det, torch.linalg.slogdet(jac.reshape(4, 4))[1])


def test_bits_per_dim_of_the_uniform_model_is_eight():
    # p(y) = 1 on [0, 1]^D puts probability 256^-D on every 8-bit image: exactly 8 bits/dim.
    d = 10
    assert bits_per_dim(torch.zeros(1), torch.zeros(1), d).item() == pytest.approx(8.0)
    assert bits_per_dim(torch.tensor([d * math.log(2.0)]), torch.zeros(1), d).item() == pytest.approx(7.0)


def test_flow_prior_score_is_the_autograd_gradient_of_log_p():
    from ppgn.models.flow_prior import CodeFlow, CodeFlowConfig
    from ppgn.sampling import FlowPrior

    torch.manual_seed(0)
    flow = CodeFlow(CodeFlowConfig(dims=5, blocks=2, hidden=8)).double()
    flow.fit_statistics(torch.rand(50, 5, dtype=torch.float64))
    h = torch.rand(3, 5, dtype=torch.float64)
    # Zero-initialised couplings: the flow is a permuted standard Gaussian of the standardised code.
    expected = -(h - flow.mean) / flow.std**2 * flow.unit_noise**2
    assert torch.allclose(FlowPrior(flow).score(h), expected)
    with torch.no_grad():
        for p in flow.parameters():
            if p.requires_grad:
                p.add_(0.3 * torch.randn_like(p))
    eps = 1e-6
    numeric = torch.stack([(flow.log_prob(h + eps * e) - flow.log_prob(h - eps * e)) / (2 * eps) for e in torch.eye(5, dtype=h.dtype)], 1)
    assert torch.allclose(FlowPrior(flow).score(h), numeric * flow.unit_noise**2, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("kind", ["class", "class-pyramid"])
def test_the_class_term_is_the_models_own_posterior_cross_entropy_and_teaches_the_class(kind):
    from ppgn.training.cinn import class_term

    net, _ = make(kind)
    net = net.float().train()
    torch.manual_seed(1)
    pixels = torch.randint(0, 256, (6, *net.config.x_shape)).float()
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    noise = torch.full_like(pixels, 0.5)
    x, _ = pixels_to_flow(pixels, noise, net.config.logit_alpha)
    log_p = net.thumbnail_log_prob_all_classes(x) if kind == "class-pyramid" else net.log_prob_all_classes(x)  # the global shape's
    expected = torch.nn.functional.cross_entropy(log_p, labels) / (net.config.dims * math.log(2.0))
    assert torch.allclose(class_term(net, pixels, labels, noise), expected)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], 1e-2)
    before = class_term(net, pixels, labels, noise).item()
    for _ in range(30):
        opt.zero_grad()
        class_term(net, pixels, labels, noise).backward()
        opt.step()
    assert class_term(net, pixels, labels, noise).item() < 0.5 * before


def test_denoise_is_tweedies_posterior_mean():
    """At initialisation the flow is a permuted N(0, I) on y, so E[y₀ | y] = y + σ²·(−y) exactly."""
    config = CINNConfig(x_shape=(1, 4, 4), condition="class", num_classes=3, cond_features=4, blocks=2, hidden=8,
                        logit_alpha=0.0, dequantisation_noise=0.3)
    net = CINN(config).double()
    y, c = torch.randn(5, 1, 4, 4, dtype=torch.float64), torch.tensor([0, 1, 2, 0, 1])
    assert torch.allclose(net.denoise(y, c), (1 - 0.3**2) * y)
    no_noise = CINN(CINNConfig(x_shape=(1, 4, 4), num_classes=3, blocks=2, hidden=8, logit_alpha=0.0)).double()
    assert torch.equal(no_noise.denoise(y, c), y)  # σ = 0: nothing to remove
    with pytest.raises(ValueError, match="logit_alpha = 0"):
        CINN(CINNConfig(x_shape=(1, 4, 4), num_classes=3, blocks=2, hidden=8, dequantisation_noise=0.1)).denoise(y.float(), c)
