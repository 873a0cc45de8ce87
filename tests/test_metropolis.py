"""The exact MALA step (--mh): it samples π(h) ∝ p(h)·p(y | G(h))^λ, where PPGN's update does not."""

import pytest
import torch

from ppgn.sampling import GaussianCondition
from ppgn.sampling.metropolis import MetropolisMALA, MHConfig


def standard_normal(h):
    return -h.square().sum(1) / 2


def run(config, chains=4000, weight_dims=2, seed=0):
    # π(h) ∝ N(h; 0, I)·N(1; h, I)^λ = N(λ/(1+λ), 1/(1+λ)) per unit
    sampler = MetropolisMALA(config)
    return sampler.sample(torch.zeros(chains, weight_dims), torch.nn.Identity(), standard_normal,
                          GaussianCondition(torch.ones(weight_dims)), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("weight", [1.0, 3.0])
def test_mh_samples_the_product_of_prior_and_condition_exactly(float64, weight):
    out = run(MHConfig(steps=150, step=0.3, weight=weight))
    mean, var = weight / (1 + weight), 1 / (1 + weight)
    assert out.h.mean().item() == pytest.approx(mean, abs=0.02)
    assert out.h.var().item() == pytest.approx(var, rel=0.05)
    assert 0.2 < out.acceptance.mean().item() < 0.95


def test_without_the_test_the_same_step_is_biased(float64):
    # PPGN's update at this step size: unadjusted Langevin, whose variance is 1/(a(1 − a·τ/2)) = 5, not 0.5
    torch.manual_seed(0)
    h, tau = torch.zeros(4000, 2), 0.9
    for _ in range(150):
        h = h + tau * (-h + (1 - h)) + (2 * tau) ** 0.5 * torch.randn_like(h)
    assert h.var().item() > 2.0


def test_adaptation_reaches_the_target_acceptance_and_then_holds_the_step(float64):
    out = run(MHConfig(steps=300, step=5.0, adapt=150), chains=500)
    assert out.acceptance.mean().item() == pytest.approx(0.574, abs=0.08)
    assert out.step.max().item() < 5.0  # a too-large start step was shrunk
    assert out.h.var().item() == pytest.approx(0.5, rel=0.12)


def test_same_seed_same_chains_and_the_callback_can_stop_them():
    a, b = run(MHConfig(steps=20), chains=8), run(MHConfig(steps=20), chains=8)
    assert torch.equal(a.h, b.h) and torch.equal(a.acceptance, b.acceptance)
    c = run(MHConfig(steps=20), chains=8, seed=1)
    assert not torch.equal(a.h, c.h)
    seen = []
    out = MetropolisMALA(MHConfig(steps=20)).sample(torch.zeros(8, 2), torch.nn.Identity(), standard_normal, GaussianCondition(torch.ones(2)),
                                                    generator=torch.Generator().manual_seed(0), callback=lambda t, h, p: seen.append(t) or t == 5)
    assert seen == [1, 2, 3, 4, 5] and out.prob.shape == (5, 8)


@pytest.mark.parametrize("kwargs, match", [
    ({"step": 0.0}, "step"), ({"step": float("nan")}, "step"), ({"weight": -1.0}, "weight"),
    ({"steps": 0}, "steps"), ({"steps": 10, "adapt": 10}, "adapt"), ({"target": 1.0}, "target"),
])
def test_bad_settings_are_refused_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MHConfig(**kwargs)


def test_a_density_that_is_nan_at_the_start_is_refused():
    from ppgn.sampling import ChainDiverged

    with pytest.raises(ChainDiverged, match="log π"):
        MetropolisMALA(MHConfig(steps=3)).sample(torch.zeros(2, 2), torch.nn.Identity(), lambda h: h.sum(1) * float("nan"),
                                                 GaussianCondition(torch.ones(2)))


def test_the_pipeline_runs_exact_mala_with_the_flow_prior_and_reports_acceptance():
    import ppgn

    pipe = ppgn.load("fashion-mnist")
    a = pipe.sample("bag", num=3, seed=0, steps=8, preset="ppgn-flow", mh=True)
    b = pipe.sample("bag", num=3, seed=0, steps=8, preset="ppgn-flow", mh=True)
    plain = pipe.sample("bag", num=3, seed=0, steps=8, preset="ppgn-flow")
    assert (a.array == b.array).all() and (a.acceptance == b.acceptance).all()
    assert a.acceptance.shape == (3,) and ((a.acceptance >= 0) & (a.acceptance <= 1)).all()
    assert plain.acceptance is None and not (a.array == plain.array).all()
    assert a.prob_per_step.shape == (8, 3)


@pytest.mark.parametrize("kwargs, match", [
    ({"preset": "joint-ppgn-h"}, "log density"),
    ({"preset": "ppgn-flow", "eps1": 0.3}, "eps1"),
    ({"preset": "ppgn-flow", "eps3": 0.1}, "eps3"),
])
def test_the_pipeline_refuses_mh_without_a_density_or_with_its_own_settings(kwargs, match):
    import ppgn

    with pytest.raises(ValueError, match=match):
        ppgn.load("fashion-mnist").sample("bag", num=2, steps=2, mh=True, **kwargs)


def test_the_exact_preset_runs_the_warm_chain_then_exact_steps_and_reports_them():
    import ppgn

    pipe = ppgn.load("fashion-mnist")
    seen = []
    out = pipe.sample("bag", num=2, seed=0, steps=6, preset="ppgn-flow-mh", record=1, callback=lambda t, h, p: seen.append(t))
    warm = pipe.sample("bag", num=2, seed=0, steps=100, preset="joint-ppgn-h")
    assert seen == list(range(1, 107))  # 100 warm steps, then 6 exact ones, counted on
    assert out.prob_per_step.shape == (106, 2) and out.trajectory.shape[0] == 107
    assert torch.equal(out.prob_per_step[:100], warm.prob_per_step)  # the warm part is the joint chain itself
    assert out.acceptance.shape == (2,)
    again = pipe.sample("bag", num=2, seed=0, steps=6, preset="ppgn-flow-mh")
    assert (again.array == out.array).all()


def test_the_exact_preset_refuses_its_own_noise_and_prior_weight():
    import ppgn
    from ppgn.pipelines.request import SampleRequest, check

    with pytest.raises(ValueError, match="--eps1"):
        check(ppgn.load("fashion-mnist"), SampleRequest(class_="bag", preset="ppgn-flow-mh", eps1=0.3))
