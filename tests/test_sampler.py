"""The sampler's maths: closed-form Gaussian posterior, gradient checks, options, presets."""

import math

import pytest
import torch
from torch import nn

from ppgn.models import (
    Classifier,
    ClassifierConfig,
    CodeDAE,
    CodeDAEConfig,
    Generator,
    GeneratorConfig,
    ImageDAE,
    ImageDAEConfig,
)
from ppgn.models.flow_prior import CodeFlow, CodeFlowConfig
from ppgn.sampling import (
    PRESETS,
    ClassCondition,
    DAEPrior,
    FlowPrior,
    GaussianCondition,
    ImageDAEPrior,
    GaussianPrior,
    JointPrior,
    MALASampler,
    NoPrior,
    SamplerConfig,
    SumCondition,
)



pytestmark = pytest.mark.usefixtures("float64")  # the maths is checked in float64 (tests/conftest.py)


def tiny_nets(seed=0):
    torch.manual_seed(seed)
    C = Classifier(ClassifierConfig(channels=(4, 8), code_dim=16, num_classes=3)).double().eval()
    G = Generator(GeneratorConfig(code_dim=16, channels=(8, 4))).double().eval()
    return C.requires_grad_(False), G.requires_grad_(False)


def test_langevin_matches_gaussian_posterior():
    """ε1 = ε2 = ε, ε3² = 2ε, no normalisation: unadjusted Langevin on the exact posterior.

    Prior N(μ0, σ0²), condition N(y; h, s²) (G = identity): the posterior is Gaussian with
    precision 1/σ0² + 1/s² and mean (μ0/σ0² + y/s²)/precision.
    """
    mu0, var0, var_c = torch.tensor([0.0, 1.0, -1.0]), 2.0, 0.5
    y = torch.tensor([2.0, -1.0, 0.5])
    precision = 1 / var0 + 1 / var_c
    mean, var = (mu0 / var0 + y / var_c) / precision, 1 / precision
    eps = 0.01
    sampler = MALASampler(SamplerConfig(eps1=eps, eps2=eps, eps3=math.sqrt(2 * eps), steps=1500, normalize=False, clip=False))
    out = sampler.sample(
        torch.zeros(4000, 3), nn.Identity(), GaussianPrior(mu0, var0), GaussianCondition(y, var_c),
        generator=torch.Generator().manual_seed(0), h_min=None,
    )
    # ULA's stationary variance is var/(1 - ε/(2·var)) for a Gaussian: O(ε) bias, well under 5%.
    assert torch.allclose(out.h.mean(0), mean, atol=0.05)
    assert torch.allclose(out.h.var(0), torch.full((3,), var), rtol=0.06)
    # And it is the posterior, not the prior or the likelihood alone.
    assert not torch.allclose(out.h.mean(0), y, atol=0.2)


def test_without_noise_the_chain_climbs_to_the_posterior_mode():
    mu0, y = torch.zeros(2), torch.tensor([3.0, -3.0])
    sampler = MALASampler(SamplerConfig(eps1=0.1, eps2=0.1, eps3=0.0, steps=300, normalize=False, clip=False))
    out = sampler.sample(torch.randn(5, 2), nn.Identity(), GaussianPrior(mu0, 1.0), GaussianCondition(y, 1.0), h_min=None)
    assert torch.allclose(out.h, (y / 2).expand(5, 2), atol=1e-6)


def numerical_gradient(f, h, delta=1e-6):
    grad = torch.zeros_like(h)
    for i in range(h.numel()):
        e = torch.zeros_like(h).view(-1)
        e[i] = delta
        e = e.view_as(h)
        grad.view(-1)[i] = (f(h + e) - f(h - e)).sum() / (2 * delta)
    return grad


@pytest.mark.parametrize("target", [0, 2])
def test_class_condition_gradient_matches_finite_differences(target):
    C, G = tiny_nets()
    h = torch.rand(2, 16)
    cond = ClassCondition(C, target)
    _, log_p, grad = MALASampler.condition_gradient(h, G, cond)
    expected = numerical_gradient(lambda v: cond.log_prob(G(v)), h)
    assert torch.allclose(grad, expected, rtol=1e-4, atol=1e-8)
    assert torch.allclose(log_p, C(G(h)).log_softmax(1)[:, target])


def test_official_form_is_one_minus_p_times_logit_gradient():
    C, G = tiny_nets()
    h = torch.rand(3, 16)
    cond = ClassCondition(C, 1, form="official")
    _, log_p, grad = MALASampler.condition_gradient(h, G, cond)
    p = C(G(h)).softmax(1)[:, 1:2]
    logit_grad = numerical_gradient(lambda v: C(G(v))[:, 1], h)
    assert torch.allclose(grad, (1 - p) * logit_grad, rtol=1e-4, atol=1e-8)
    assert torch.allclose(log_p, p.squeeze(1).log())  # the value is still log p_c


def test_joint_prior_score_is_reconstruction_minus_code():
    C, G = tiny_nets()
    h = torch.rand(4, 16)
    assert torch.allclose(JointPrior(G, C).score(h), C.encode(G(h))[1] - h)
    assert torch.allclose(JointPrior(G, C).score(h, G(h)), JointPrior(G, C).score(h))


def test_step_normalisation_sets_mean_abs_step_and_clipping_bounds_h():
    sampler = MALASampler(SamplerConfig(eps1=1.0, eps2=3.0, step_size=0.5))
    h = torch.rand(4, 16)
    d_prior, d_cond = torch.randn(4, 16) * 100, torch.randn(4, 16) * 1e-3
    h_next = sampler.step(h, d_prior, d_cond, h_min=None)
    assert torch.allclose((h_next - h).abs().mean(1), torch.full((4,), 0.5))
    assert (h_next < 0).any() and (h_next > 0.8).any()  # so both bounds below have work to do
    clipped = sampler.step(h, d_prior, d_cond, h_min=0.0, h_max=torch.full((16,), 0.8))
    assert torch.equal(clipped, h_next.clamp(0.0, 0.8))


def test_dgn_am_increases_class_probability_and_records_it():
    C, G = tiny_nets()
    sampler = MALASampler(SamplerConfig(eps1=0.0, eps2=1.0, eps3=0.0, steps=30, step_size=0.05))
    out = sampler.sample(torch.rand(6, 16), G, NoPrior(), ClassCondition(C, 2), record=2)
    assert out.prob.shape == (30, 6) and out.trajectory.shape == (31, 2, 16)
    final = C(out.images).softmax(1)[:, 2]
    assert (final > out.prob[0]).all()


def test_same_generator_seed_same_chain_and_different_seed_different_chain():
    C, G = tiny_nets()
    sampler = MALASampler(SamplerConfig(eps1=1.0, eps2=1.0, eps3=0.1, steps=5, step_size=0.05))
    run = lambda s: sampler.sample(torch.rand(3, 16, generator=torch.Generator().manual_seed(9)), G, JointPrior(G, C),
                                   ClassCondition(C, 0), generator=torch.Generator().manual_seed(s)).h
    assert torch.equal(run(1), run(1))
    assert not torch.allclose(run(1), run(2))


def test_conditions_compose_with_weights():
    C, G = tiny_nets()
    x = G(torch.rand(3, 16))
    a, b = ClassCondition(C, 0), ClassCondition(C, 1)
    combined = a + 0.5 * b - 0.25 * a
    expected = 0.75 * a.log_prob(x) + 0.5 * b.log_prob(x)
    assert torch.allclose(combined.log_prob(x), expected)
    assert torch.allclose(sum([a, b]).log_prob(x), a.log_prob(x) + b.log_prob(x))


@pytest.mark.parametrize("field,value", [("eps1", -1.0), ("eps3", -0.1), ("steps", 0), ("step_size", -1.0)])
def test_sampler_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=field):
        SamplerConfig(**{field: value})


def test_unknown_gradient_form_names_the_valid_ones():
    with pytest.raises(ValueError, match="log-softmax, official"):
        ClassCondition(nn.Identity(), 0, form="softmax")


@pytest.mark.parametrize("name", sorted(n for n in PRESETS if not PRESETS[n].exact))  # exact ones: tests/test_metropolis.py
def test_every_preset_runs_its_prior_and_returns_consistent_outputs(name):
    C, G = tiny_nets()
    preset = PRESETS[name].with_overrides(steps=20)
    priors = {
        "joint": JointPrior(G, C),
        "dae-h": DAEPrior(CodeDAE(CodeDAEConfig(code_dim=16)).double()),
        "dae-x": ImageDAEPrior(G, ImageDAE(ImageDAEConfig(channels=(4, 4))).double()),
        "none": NoPrior(),
        "flow": FlowPrior(CodeFlow(CodeFlowConfig(dims=16, blocks=2, hidden=8)).double()),
    }
    prior = priors[preset.prior]
    h0 = torch.rand(4, 16, generator=torch.Generator().manual_seed(3))
    condition, h_max = ClassCondition(C, 1), torch.full((16,), 0.9)
    run = lambda p: MALASampler(preset.sampler).sample(h0, G, p, condition, generator=torch.Generator().manual_seed(0), h_max=h_max)  # noqa: E731
    out = run(prior)
    assert out.images.shape == (4, 1, 28, 28) and out.prob.shape == (20, 4)
    assert torch.equal(out.images, G(out.h))  # the images are G of the codes returned
    assert torch.allclose(out.prob[0], condition.log_prob(G(h0)).exp())  # recorded before the first step
    assert out.h.min() >= 0 and out.h.max() <= 0.9 and not torch.allclose(out.h, h0)
    # The prior the preset names takes part exactly when its ε1 > 0.
    assert torch.equal(run(NoPrior()).h, out.h) == (preset.sampler.eps1 == 0)


def test_dae_prior_score_is_reconstruction_minus_code():
    dae = CodeDAE(CodeDAEConfig(code_dim=16)).double()
    h = torch.rand(4, 16)
    assert torch.allclose(DAEPrior(dae).score(h), dae(h) - h)


def test_image_dae_prior_is_the_image_score_pulled_back_through_G():
    """J_G(h)ᵀ (R(x) − x) equals the finite-difference gradient of <R(x) − x, G(h)> with R(x) − x held fixed."""
    _, G = tiny_nets()
    dae = ImageDAE(ImageDAEConfig(channels=(4, 4))).double().eval()
    h = torch.rand(2, 16)
    direction = (dae(G(h)) - G(h)).detach()
    expected = numerical_gradient(lambda v: (G(v) * direction).flatten(1).sum(1), h)
    assert torch.allclose(ImageDAEPrior(G, dae).score(h), expected, rtol=1e-4, atol=1e-8)


def test_chains_split_across_workers_give_the_chains_of_one_worker():
    C, G = tiny_nets()
    sampler = MALASampler(SamplerConfig(eps1=0.5, eps2=1.0, eps3=0.1, steps=6, step_size=0.05))
    h0 = torch.rand(7, 16, generator=torch.Generator().manual_seed(3))
    target = torch.tensor([0, 1, 2, 0, 1, 2, 1])  # per-chain classes must follow their chains
    condition = ClassCondition(C, target) - 0.5 * ClassCondition(C, 2)
    run = lambda w: sampler.sample(h0, G, JointPrior(G, C), condition, generator=torch.Generator().manual_seed(1),
                                   workers=w)
    one, three = run(1), run(3)
    assert torch.allclose(one.h, three.h, atol=1e-10) and torch.allclose(one.prob, three.prob, atol=1e-10)
    assert not torch.allclose(one.h, sampler.sample(h0, G, JointPrior(G, C), ClassCondition(C, target.flip(0)),
                                                    generator=torch.Generator().manual_seed(1), workers=3).h)


def test_conditions_that_cannot_be_split_run_as_one_group():
    C, G = tiny_nets()
    splittable = ClassCondition(C, torch.tensor([0, 1, 2, 0]))
    groups = MALASampler._groups(torch.zeros(4, 16), splittable, workers=2)
    assert [g for g, _ in groups] == [slice(0, 2), slice(2, 4)] and groups[1][1].target.tolist() == [2, 0]
    opaque = splittable + GaussianCondition(torch.zeros(1, 1, 28, 28))  # GaussianCondition has no select
    assert MALASampler._groups(torch.zeros(4, 16), opaque, workers=2) == [(slice(None), opaque)]


def test_a_callback_sees_every_step_and_can_stop_the_chain():
    import ppgn

    pipe = ppgn.load("fashion-mnist")
    seen = []
    full = pipe.sample(7, num=2, seed=0, steps=6)
    part = pipe.sample(7, num=2, seed=0, steps=6, callback=lambda t, h, p: seen.append((t, h.clone(), p.clone())) or t == 3)
    assert [t for t, _, _ in seen] == [1, 2, 3]
    assert part.prob_per_step.shape == (3, 2)
    assert torch.equal(part.prob_per_step, full.prob_per_step[:3])  # stopping early changes nothing before it
    assert seen[-1][1].shape == (2, pipe.classifier.code_max.numel())


class OpaqueCondition:
    """A condition with only the protocol's log_prob: the sampler cannot take E's code from it."""

    def __init__(self, condition):
        self.condition = condition

    def log_prob(self, x):
        return self.condition.log_prob(x)


def count_encodes(C):
    calls = []
    C.features.register_forward_hook(lambda *_: calls.append(1))
    return calls


@pytest.mark.parametrize("make", [
    lambda C: ClassCondition(C, torch.tensor([0, 1, 2, 1])),
    lambda C: ClassCondition(C, 2, form="official"),
    lambda C: ClassCondition(C, 1) - 0.5 * ClassCondition(C, 2),
])
def test_joint_prior_takes_E_of_the_condition_pass_and_gives_the_same_chain(make):
    """Joint PPGN-h with a class condition of the same E/C: E runs once per step, not twice, and
    the chain is the one of two separate passes, to the bit."""
    C, G = tiny_nets()
    sampler = MALASampler(SamplerConfig(eps1=0.5, eps2=1.0, eps3=0.1, steps=5, step_size=0.05))
    h0 = torch.rand(4, 16, generator=torch.Generator().manual_seed(3))
    calls = count_encodes(C)
    run = lambda c: sampler.sample(h0, G, JointPrior(G, C), c, generator=torch.Generator().manual_seed(1), workers=1)  # noqa: E731
    shared = run(make(C))
    once = len(calls)
    separate = run(OpaqueCondition(make(C)))
    terms = 1 + isinstance(make(C), SumCondition)  # a sum runs E for each of its class terms
    assert once == 5 * terms and len(calls) - once == 5 * (terms + 1)
    assert torch.equal(shared.h, separate.h) and torch.equal(shared.prob, separate.prob)


def test_the_code_is_shared_only_with_the_prior_of_the_same_encoder():
    C, G = tiny_nets()
    other, _ = tiny_nets(seed=1)
    x = G(torch.rand(3, 16))
    assert ClassCondition(C, 1).log_prob_and_code(x, other)[1] is None
    log_p, code = ClassCondition(C, 1).log_prob_and_code(x, C)
    assert torch.equal(code, C.encode(x)[1]) and torch.equal(log_p, ClassCondition(C, 1).log_prob(x))
    assert GaussianCondition(torch.zeros_like(x)).log_prob_and_code(x, C)[1] is None


def test_bf16_autocast_runs_the_networks_in_bf16_and_keeps_the_chain_in_float32():
    torch.set_default_dtype(torch.float32)
    C, G = (m.float() for m in tiny_nets())
    seen = []
    G.upsample.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    h0 = torch.rand(4, 16, generator=torch.Generator().manual_seed(3))
    config = SamplerConfig(eps1=0.5, eps2=1.0, eps3=0.1, steps=4, step_size=0.05)
    run = lambda a: MALASampler(config, autocast=a).sample(h0, G, JointPrior(G, C), ClassCondition(C, 1), generator=torch.Generator().manual_seed(1))  # noqa: E731
    exact, fast = run(None), run(torch.bfloat16)
    assert seen[:4] == [torch.float32] * 4 and torch.bfloat16 in seen[4:]
    assert fast.h.dtype == fast.prob.dtype == fast.images.dtype == torch.float32
    assert not torch.equal(exact.h, fast.h) and torch.allclose(exact.h, fast.h, atol=0.05)  # bf16 rounding, not another chain
    with pytest.raises(ValueError, match="autocast"):
        MALASampler(config, autocast=torch.int8)


def test_a_healthy_chain_waits_for_the_device_only_every_few_steps(monkeypatch):
    """No host synchronisation per step: the tensor → Python conversions (what waits for a GPU)
    happen once per CHECK_EVERY steps and at the start, whatever the chain length."""
    from ppgn.sampling import sampler as module

    C, G = tiny_nets()
    h0 = torch.rand(4, 16, generator=torch.Generator().manual_seed(3))
    counts = {}
    for name in ("__bool__", "item", "__int__", "tolist", "__float__"):
        original = getattr(torch.Tensor, name)
        def counted(self, *a, _name=name, _original=original, **k):
            counts[_name] = counts.get(_name, 0) + 1
            return _original(self, *a, **k)
        monkeypatch.setattr(torch.Tensor, name, counted)
    looks = []
    for steps in (10, 40):
        counts.clear()
        MALASampler(SamplerConfig(eps1=0.5, eps3=0.1, steps=steps, step_size=0.05)).sample(
            h0, G, JointPrior(G, C), ClassCondition(C, 1), generator=torch.Generator().manual_seed(1), h_max=torch.ones(16), workers=1)
        looks.append(sum(counts.values()))
    assert looks[1] - looks[0] <= 3 * 30 // module.CHECK_EVERY  # a few conversions per look, none per step
