"""The noise-conditional prior and the annealed chain: exact on Gaussians, and the recipe learns."""

import math

import pytest
import torch

from ppgn.io import InputError
from ppgn.models import load_model, save_model
from ppgn.models.score_prior import CodeScore, CodeScoreConfig
from ppgn.sampling import GaussianCondition, MALASampler, NoiseConditionalPrior, SamplerConfig


class Identity(torch.nn.Module):
    def forward(self, h):
        return h


class GaussianLevels:
    """The exact noise-conditional prior of N(mean, s²): p_σ = N(mean, s²(1 + σ²))."""

    def __init__(self, mean, std, sigma=0.0):
        self.mean, self.std, self.sigma = mean, std, sigma

    def at(self, sigma):
        return GaussianLevels(self.mean, self.std, sigma)

    def unit_scale(self, sigma):
        return sigma * self.std

    def score(self, h, x=None):
        return -(h - self.mean) / (self.std**2 * (1 + self.sigma**2))


def test_the_annealed_chain_samples_the_finest_level():
    """Preconditioned Langevin, annealed from σ = 3 to 0.5, ends in N(mean, s²(1 + 0.5²)) (no condition)."""
    mean, std = torch.tensor([2.0, -1.0]), torch.tensor([1.0, 0.3])
    config = SamplerConfig(eps1=0.1, eps2=0.0, eps3=1.0, steps=300, normalize=False, clip=False, anneal=(3.0, 0.5))
    h0 = torch.zeros(4000, 2)
    out = MALASampler(config).sample(h0, Identity(), GaussianLevels(mean, std), GaussianCondition(torch.zeros(2), var=1e9),
                                     torch.Generator().manual_seed(0))  # fmt: skip
    target_std = std * math.sqrt(1 + 0.5**2)
    assert torch.allclose(out.h.mean(0), mean, atol=0.06)
    assert torch.allclose(out.h.std(0), target_std, rtol=0.08)


def test_a_plain_prior_cannot_be_annealed():
    from ppgn.sampling import GaussianPrior

    config = SamplerConfig(steps=2, anneal=(1.0, 0.1), normalize=False)
    with pytest.raises(ValueError, match="noise-conditional prior"):
        MALASampler(config).sample(torch.zeros(2, 2), Identity(), GaussianPrior(), GaussianCondition(torch.zeros(2)))


@pytest.mark.parametrize("anneal", [(0.1, 1.0), (float("nan"), 0.1), (1.0, 0.0)])
def test_anneal_runs_from_broad_to_fine_and_finite(anneal):
    with pytest.raises(ValueError):
        SamplerConfig(anneal=anneal)


def test_the_schedule_is_geometric_from_broad_to_fine():
    config = SamplerConfig(steps=5, anneal=(4.0, 0.25))
    assert [round(config.sigma(t), 6) for t in range(5)] == [4.0, 2.0, 1.0, 0.5, 0.25]


def test_denoising_score_matching_learns_a_gaussian_score():
    """On codes from N(mean, s²), the trained net's score approaches −(h − mean)/(s²(1 + σ²))."""
    torch.manual_seed(0)
    mean, std = torch.tensor([3.0, 1.0, 0.5]), torch.tensor([1.0, 0.5, 0.2])
    h = mean + std * torch.randn(4096, 3)
    net = CodeScore(CodeScoreConfig(code_dim=3, hidden=32, depth=2, sigma_min=0.2, sigma_max=2.0, frequencies=4))
    net.fit_statistics(h)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)
    gen = torch.Generator().manual_seed(0)
    for _ in range(1000):
        idx = torch.randint(0, len(h), (512,), generator=gen)
        loss = net.loss(h[idx], net.sigmas(torch.rand(512, generator=gen)), torch.randn(512, 3, generator=gen))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    probe = mean + std * torch.randn(512, 3, generator=gen)
    for sigma in (0.3, 1.0):
        exact = -(probe - mean) / (std**2 * (1 + sigma**2))
        learned = NoiseConditionalPrior(net).at(sigma).score(probe)
        error = (learned - exact).norm() / exact.norm()
        assert error < 0.15, (sigma, error)


def test_the_score_prior_saves_and_loads(tmp_path):
    net = CodeScore(CodeScoreConfig(code_dim=6, hidden=8, depth=1))
    net.fit_statistics(torch.rand(50, 6))
    save_model(net, tmp_path / "score-prior.safetensors", {"note": "test"})
    back = load_model(tmp_path / "score-prior.safetensors", expect=CodeScore)
    h = torch.rand(3, 6)
    assert torch.equal(back.score(h, 0.3), net.score(h, 0.3))


def test_the_recipe_refuses_a_range_that_runs_backwards():
    from ppgn.training.score_prior import ScorePriorTrainConfig

    with pytest.raises(ValueError, match="--sigma-max"):
        ScorePriorTrainConfig(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(InputError):
        ScorePriorTrainConfig(sigma_min=float("nan"))


def test_the_recipe_trains_on_encoder_codes_and_records_held_out_losses(tmp_path, fashion_mnist_dir):
    from ppgn.training.score_prior import ScorePriorTrainConfig, train_score_prior

    config = ScorePriorTrainConfig(hidden=32, depth=2, epochs=1, batch_size=100)
    net, card = train_score_prior(config, tmp_path / "sp", data_dir=str(fashion_mnist_dir), quiet=True)
    losses = [v for k, v in card["metrics"].items() if k.startswith("test_loss_sigma_")]
    assert len(losses) == 3 and all(0 < v < 2 for v in losses)
    assert net.config.code_dim == 256 and (tmp_path / "sp" / "score-prior.safetensors").is_file()
    with pytest.raises(ValueError, match="batch"):  # a set smaller than one batch, refused before any encoding
        train_score_prior(ScorePriorTrainConfig(batch_size=600), tmp_path / "sp2", data_dir=str(fashion_mnist_dir), quiet=True)
