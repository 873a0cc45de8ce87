"""The diffusion baseline: the UNet, DDIM's maths on a Gaussian, guidance, the pipeline and the recipe, all tiny."""

import itertools
import json
import math

import pytest
import torch

from ppgn.models import Classifier, ClassifierConfig, load_model, save_model
from ppgn.models.diffusion import UNet, UNetConfig
from ppgn.pipelines.diffusion import DiffusionPipeline
from ppgn.sampling import ChainDiverged, GaussianCondition
from ppgn.sampling.diffusion import (
    DDIMConfig,
    DDIMSampler,
    NoiseSchedule,
    classifier_free,
)
from ppgn.training.diffusion import DiffusionTrainConfig, train_diffusion, unet_config

CLASSES = ("a", "b", "c")
TINY = dict(image_size=28, patch=2, channels=8, multipliers=(1, 2), time_dim=16, num_classes=3, timesteps=100)


def tiny_unet(seed=0, **kw) -> UNet:
    torch.manual_seed(seed)
    net = UNet(UNetConfig(**(TINY | kw))).eval()
    for p in net.parameters():  # the zero-initialised head would predict ε = 0 whatever the input
        p.data.add_(0.05 * torch.randn(p.shape))
    return net


def gaussian_denoiser(schedule, mu, s):
    """The exact ε(x_t, t) = E[ε | x_t] for data x0 ~ N(mu, s²) per pixel."""

    def eps(x, t):
        a = schedule.alpha_bar(t, x)
        return (1 - a).sqrt() * (x - a.sqrt() * mu) / (a * s**2 + 1 - a)

    return eps


@pytest.fixture
def folder(tmp_path):
    """A model folder: a tiny conditional UNet and a tiny classifier beside it."""
    save_model(tiny_unet(), tmp_path / "diffusion.safetensors", {"training_config": {"dataset": "fashion-mnist"}})
    torch.manual_seed(1)
    save_model(Classifier(ClassifierConfig(channels=(4, 8), code_dim=16, num_classes=3)).eval(), tmp_path / "classifier.safetensors")
    return tmp_path


def test_unet_predicts_noise_of_the_input_shape_with_and_without_labels():
    net = tiny_unet()
    x, t = torch.randn(2, 1, 28, 28), torch.tensor([0, 99])
    assert net(x, t).shape == x.shape
    assert net(x, t, torch.tensor([0, 2])).shape == x.shape
    assert not torch.allclose(net(x, t, torch.tensor([0, 0])), net(x, t))  # the null label is a label of its own
    assert UNet(UNetConfig(**(TINY | dict(num_classes=None))))(x, t).shape == x.shape
    with pytest.raises(ValueError, match="divisible"):
        UNetConfig(image_size=30, patch=2, multipliers=(1, 2))


def test_the_recipes_network_has_one_to_three_million_parameters():
    config = unet_config(DiffusionTrainConfig(), classes=10, channels=1, size=28)
    count = sum(p.numel() for p in UNet(config).parameters())
    assert 1e6 <= count <= 3e6


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_schedules_fall_from_clean_to_noise(kind):
    a = NoiseSchedule.make(kind, 1000).alphas_cumprod
    assert (a[1:] < a[:-1]).all() and a[0] > 0.99 and a[-1] < 0.01


def test_ddim_with_the_exact_denoiser_of_a_gaussian_recovers_it(float64):
    """DDIM (η = 0) with E[ε | x_t] of data N(μ, s²) is a linear map per step: x_s − √ᾱ_s·μ = k·(x_t − √ᾱ_t·μ),
    k = (√(ᾱ_s·ᾱ_t)·s² + √((1 − ᾱ_s)(1 − ᾱ_t))) / (ᾱ_t·s² + 1 − ᾱ_t). The samples have the mean and
    standard deviation that the product of the k gives, and those tend to μ and s as steps grow."""
    schedule = NoiseSchedule.make("cosine", 1000)
    mu, s = torch.tensor([0.5, -0.3]).view(1, 2, 1, 1), torch.tensor([0.2, 0.4]).view(1, 2, 1, 1)
    sampler = DDIMSampler(schedule, DDIMConfig(steps=100, clip=False))
    times = sampler.timesteps() + [-1]
    k = torch.ones_like(s)
    for t, t_s in itertools.pairwise(times):
        a_t, a_s = schedule.alpha_bar(t, s), schedule.alpha_bar(t_s, s)
        k = k * ((a_s * a_t).sqrt() * s**2 + ((1 - a_s) * (1 - a_t)).sqrt()) / (a_t * s**2 + 1 - a_t)
    a_T = schedule.alpha_bar(times[0], s)
    mean, std = mu - k * a_T.sqrt() * mu, k  # x_T ~ N(0, 1)
    x_T = torch.randn(4000, 2, 2, 2, generator=torch.Generator().manual_seed(0))
    x = sampler.sample(gaussian_denoiser(schedule, mu, s), x_T).images
    assert torch.allclose(x.mean((0, 2, 3)), mean.flatten(), atol=0.01)
    assert torch.allclose(x.std((0, 2, 3)), std.flatten(), rtol=0.03)
    assert torch.allclose(std, s, rtol=0.05) and torch.allclose(mean, mu, atol=0.01)


def test_same_seed_same_images_and_eta_draws_noise(float64):
    schedule = NoiseSchedule.make("cosine", 100)
    eps = gaussian_denoiser(schedule, 0.0, 0.5)
    x_T = torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    run = lambda seed, eta: DDIMSampler(schedule, DDIMConfig(steps=10, eta=eta)).sample(eps, x_T, generator=torch.Generator().manual_seed(seed)).images
    assert torch.equal(run(0, 1.0), run(0, 1.0))
    assert not torch.allclose(run(0, 1.0), run(1, 1.0))
    assert torch.equal(run(0, 0.0), run(1, 0.0))  # η = 0 draws nothing


def test_classifier_guidance_on_the_denoised_estimate_moves_samples_towards_the_condition(float64):
    schedule = NoiseSchedule.make("cosine", 1000)
    eps = gaussian_denoiser(schedule, 0.0, 0.5)
    condition = GaussianCondition(torch.full((1, 1, 2, 2), 0.9), var=0.05)
    x_T = torch.randn(200, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    log_p = [condition.log_prob(DDIMSampler(schedule, DDIMConfig(steps=20, scale=w, clip=False)).sample(eps, x_T, condition).images).mean()
             for w in (0.0, 0.1, 1.0)]  # fmt: skip
    assert log_p[0] < log_p[1] < log_p[2]


def test_classifier_free_guidance_mixes_the_branches():
    cond, uncond = torch.tensor([2.0]), torch.tensor([1.0])
    assert classifier_free(cond, uncond, 0.0) == uncond and classifier_free(cond, uncond, 1.0) == cond
    assert classifier_free(cond, uncond, 3.0) == 4.0


@pytest.mark.parametrize("where", ["denoiser", "guidance"])
def test_a_non_finite_step_is_refused_naming_the_term(where):
    schedule = NoiseSchedule.make("cosine", 100)
    nan_eps = lambda x, t: x * float("nan")
    fine_eps = lambda x, t: 0.1 * x

    class NanCondition(GaussianCondition):
        def log_prob(self, x):
            return (x * float("nan")).flatten(1).sum(1)

    x_T = torch.randn(2, 1, 4, 4)
    if where == "denoiser":
        with pytest.raises(ChainDiverged, match="denoiser's noise estimate"):
            DDIMSampler(schedule, DDIMConfig(steps=5)).sample(nan_eps, x_T)
    else:
        with pytest.raises(ChainDiverged, match="guidance term"):
            DDIMSampler(schedule, DDIMConfig(steps=5, scale=1.0)).sample(fine_eps, x_T, NanCondition(torch.zeros(1)))
    with pytest.raises(ChainDiverged, match="start noise"):
        DDIMSampler(schedule, DDIMConfig(steps=5)).sample(fine_eps, x_T * float("inf"))


def test_save_and_load_round_trip(tmp_path):
    net = tiny_unet()
    save_model(net, tmp_path / "diffusion.safetensors", {"seed": 0})
    back = load_model(tmp_path / "diffusion.safetensors", expect=UNet)
    x, t, y = torch.randn(2, 1, 28, 28), torch.tensor([3, 50]), torch.tensor([1, 3])
    assert back.config == net.config
    assert torch.equal(back(x, t, y), net(x, t, y))
    assert json.loads((tmp_path / "diffusion.json").read_text())["config"]["multipliers"] == [1, 2]


@pytest.mark.parametrize("guidance", ["classifier", "cfg", "none"])
def test_pipeline_samples_each_guidance_the_same_for_the_same_seed(folder, guidance):
    pipe = DiffusionPipeline(folder, CLASSES)
    a = pipe.sample("b", num=2, seed=0, steps=2, guidance=guidance)
    assert a.array.shape == (2, 28, 28, 1) and a.array.dtype.name == "uint8"
    assert a.labels.tolist() == [1, 1] and a.prob.shape == (2,) and ((a.prob >= 0) & (a.prob <= 1)).all()
    assert (a.array == pipe.sample("b", num=2, seed=0, steps=2, guidance=guidance).array).all()
    assert (a.array != pipe.sample("b", num=2, seed=1, steps=2, guidance=guidance).array).any()
    assert a.prob_per_step.shape == ((2, 2) if guidance == "classifier" else (0, 2))


def test_pipeline_classifier_guidance_raises_the_class_probability(folder):
    pipe = DiffusionPipeline(folder, CLASSES)
    plain = pipe.sample(2, num=6, seed=0, steps=3, guidance="none").prob.mean()
    guided = pipe.sample(2, num=6, seed=0, steps=3, guidance="classifier", scale=200.0).prob.mean()
    assert guided > plain


def test_pipeline_refuses_bad_requests_in_one_line(folder):
    pipe = DiffusionPipeline(folder, CLASSES)
    with pytest.raises(ValueError, match="guidance 'x'; valid: classifier, cfg, none"):
        pipe.sample(0, num=2, guidance="x")
    with pytest.raises(ValueError, match="scale"):
        pipe.sample(0, num=2, scale=math.nan)
    with pytest.raises(ValueError, match="class index 5 out of range"):
        pipe.sample(5, num=2)


def test_training_records_its_run_and_stops_at_a_time_budget(tmp_path):
    small = dict(dataset="digits", unet_channels=8, train_subset=64, batch_size=32, seed=3)
    net, card = train_diffusion(DiffusionTrainConfig(epochs=1, **small), tmp_path / "a", quiet=True)
    assert card["seed"] == 3 and card["training_config"]["unet_channels"] == 8
    assert card["metrics"]["steps"] == 2 and card["metrics"]["stopped_by"] == "epochs" and math.isfinite(card["metrics"]["test_loss"])
    assert load_model(tmp_path / "a" / "diffusion.safetensors", expect=UNet).config == net.config
    _, card = train_diffusion(DiffusionTrainConfig(epochs=50, minutes=1e-4, **small), tmp_path / "b", quiet=True)
    assert card["metrics"]["stopped_by"] == "minutes" and card["metrics"]["steps"] == 0


def test_self_recurrence_keeps_the_data_and_still_climbs_the_condition(float64):
    schedule = NoiseSchedule.make("cosine", 1000)
    eps = gaussian_denoiser(schedule, 0.0, 0.5)
    condition = GaussianCondition(torch.full((1, 1, 2, 2), 0.9), var=0.05)
    x_T = torch.randn(1000, 1, 2, 2, generator=torch.Generator().manual_seed(0))

    def run(scale):
        config = DDIMConfig(steps=10, eta=1.0, scale=scale, clip=False, recurrence=3)
        return DDIMSampler(schedule, config).sample(eps, x_T, condition, torch.Generator().manual_seed(1)).images

    plain, guided = run(0.0), run(0.1)
    assert abs(plain.mean()) < 0.03 and 0.3 < plain.std() < 0.5  # N(0, 0.5²), a little narrower for 10 noisy steps
    assert condition.log_prob(guided).mean() > condition.log_prob(plain).mean() + 10


# --- `ppgn train diffusion`: the command behind runs/diffusion-fmnist ------------------------------------------

from typer.testing import CliRunner

from ppgn.cli import app
from ppgn.training.diffusion import cli_command
from ppgn.training.loop import config_hash


def test_the_command_a_config_is_trained_by_names_what_differs_from_the_defaults():
    assert cli_command(DiffusionTrainConfig(minutes=42), "runs/diffusion-fmnist") == "ppgn train diffusion --minutes 42 --out runs/diffusion-fmnist"
    other = DiffusionTrainConfig(dataset="digits", multipliers=(1, 2, 2), conditional=False, lr=3e-4, p_uncond=0.0)
    assert cli_command(other, "runs/a b") == ("ppgn train diffusion --data digits --multipliers 1,2,2 --p-uncond 0 --unconditional "
                                              "--lr 0.0003 --out 'runs/a b'")
    # --minutes 42 (a float on the command line) and minutes=42 (how the measured run was started): one config, one checkpoint
    assert config_hash(DiffusionTrainConfig(minutes=42.0)) == config_hash(DiffusionTrainConfig(minutes=42))
    assert DiffusionTrainConfig(minutes=0.5).minutes == 0.5


def test_train_diffusion_command_writes_its_card_and_resumes_only_the_same_config(tmp_path):
    out = tmp_path / "run"
    args = ["train", "diffusion", "--data", "digits", "--epochs", "1", "--train-subset", "64", "--batch-size", "32",
            "--unet-channels", "8", "--timesteps", "100", "--seed", "3", "--out", str(out), "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    card = json.loads((out / "diffusion.json").read_text())
    assert card["training_config"]["unet_channels"] == 8 and card["training_config"]["timesteps"] == 100 and card["seed"] == 3
    assert card["metrics"]["steps"] == 2 and card["config"]["timesteps"] == 100
    # Started from Python (here pytest), the card names the command that trains the same config.
    assert card["command"] == cli_command(DiffusionTrainConfig(**{**card["training_config"], "multipliers": (1, 2)}), out)
    assert card["launched_from"] != card["command"]
    again = CliRunner().invoke(app, [*args[:-3], "--seed", "4", "--out", str(out), "-q"])
    assert again.exit_code == 2 and "--seed 3 → 4" in again.output
    net = load_model(out / "diffusion.safetensors", expect=UNet)
    assert net.config.num_classes == 10 and net.config.timesteps == 100


@pytest.mark.parametrize(("args", "message"), [
    (["--multipliers", "1,x"], "--multipliers takes positive integers"),
    (["--schedule", "square"], "unknown --schedule 'square'; valid: cosine, linear"),
    (["--clock", "sun"], "unknown --clock 'sun'; valid: cpu, wall"),
    (["--p-uncond", "1.5"], "--p-uncond"),
    (["--minutes", "nan"], "--minutes"),
    (["--size", "27"], "--size 27 is not a side"),
])
def test_train_diffusion_refuses_bad_options_in_one_line(tmp_path, args, message):
    result = CliRunner().invoke(app, ["train", "diffusion", "--data", "digits", "--out", str(tmp_path / "run"), "-q", *args])
    assert result.exit_code == 2 and message in result.output
    assert not any(tmp_path.iterdir())
