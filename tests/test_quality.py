"""The evaluation suite's own measures (MS-SSIM, mixing schedule) and `ppgn bench quality --quick`."""

import dataclasses
import functools
import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from ppgn.cli import app
from ppgn.evaluation.mixing import class_schedule
from ppgn.evaluation.quality import METRICS, QUICK
from ppgn.evaluation.similarity import ms_ssim_pairs, ms_ssim_within_class
from ppgn.pipelines.registry import WEIGHTS
from ppgn.sampling import PRESETS


def test_ms_ssim_is_one_for_identical_and_low_for_unrelated_images():
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(6, 1, 28, 28, generator=gen)
    assert torch.allclose(ms_ssim_pairs(a, a), torch.ones(6))
    assert ms_ssim_pairs(a, torch.rand(6, 1, 28, 28, generator=gen)).mean() < 0.1
    blurred = (a + a.roll(1, -1) + a.roll(1, -2)) / 3  # related, not equal: in between
    assert 0.2 < ms_ssim_pairs(a, blurred).mean() < 1.0


def test_ms_ssim_within_class_sees_collapse_and_never_pairs_an_image_with_itself():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 5)
    one_per_class = rng.integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    assert ms_ssim_within_class(one_per_class[labels], labels) == pytest.approx(1.0)  # every class collapsed
    varied = rng.integers(0, 256, (15, 28, 28, 1), dtype=np.uint8)
    assert ms_ssim_within_class(varied, labels) < 0.2  # would approach 1 if self-pairs slipped in
    assert math.isnan(ms_ssim_within_class(varied[:3], np.arange(3)))  # no class has a pair


def test_class_schedule_switches_class_every_segment():
    for segments in (3, 10, 14):
        s = class_schedule(20, segments, 10, seed=0)
        assert s.shape == (20, segments) and s.min() >= 0 and s.max() <= 9
        assert (s[:, 1:] != s[:, :-1]).all()
        assert all(len(set(row[:10])) == min(10, segments) for row in s.tolist())
    np.testing.assert_array_equal(class_schedule(4, 5, 10, 1), class_schedule(4, 5, 10, 1))


# --quick's shape at a fraction of its cost: every row, metric and figure, two seeds, 2 samples per class.
TINY = dataclasses.replace(QUICK, per_class=2, steps=5, mixing_chains=2, mixing_segments=2, mixing_steps=3,
                           ablation_eps1=(0.3, 1.0), ablation_eps3=(0.0,), ablation_per_class=2)


def test_bench_quality_quick_writes_every_row_metric_and_figure(tmp_path, fashion_mnist_dir, monkeypatch):
    monkeypatch.setattr("ppgn.evaluation.quality.QUICK", TINY)
    # With 2 images per class every drawn pair is the same pair: 4 draws give the mean of 200, in a 50th of the time.
    monkeypatch.setattr("ppgn.evaluation.evaluate.ms_ssim_within_class", functools.partial(ms_ssim_within_class, pairs=4))
    out, cache = tmp_path / "docs", tmp_path / "cache"
    run = lambda *args: CliRunner().invoke(app, ["bench", "quality", "--quick", "--data-dir", str(fashion_mnist_dir),
                                                 "--per-class", str(TINY.per_class), "--cache-dir", str(cache), "--quiet", *args])
    result = run("--out-dir", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "results.json").read_text())
    assert report["config"]["per_class"] == TINY.per_class and report["config"]["steps"] == TINY.steps
    names = [row["name"] for row in report["rows"]]
    assert names == ["real", "reconstruction", *PRESETS]
    for row in report["rows"]:
        assert len(row["per_seed"]) == len(TINY.seeds) and set(row["mean"]) == set(METRICS)
        m, sd = row["mean"], row["std"]
        assert 0 <= m["accuracy"] <= 1 and m["fid"] >= 0 and 0 < m["ms_ssim"] < 1 and 0.3 < m["diversity"] < 3
        assert all(v is None or v >= 0 for v in sd.values())
        for metric in ("accuracy", "fid", "diversity"):  # the mean and std are those of the per-seed values
            values = [seed[metric] for seed in row["per_seed"]]
            assert m[metric] == pytest.approx(np.mean(values)) and sd[metric] == pytest.approx(np.std(values))
        assert row["per_seed"][0]["fid"] != row["per_seed"][1]["fid"]  # another seed, other images
        if row["name"] in PRESETS:  # samplers are timed and switched mid-chain
            assert m["seconds_per_sample"] > 0 and 1 <= m["distinct_classes"] <= TINY.mixing_segments
            assert 0 <= m["switch_rate"] <= 1
        else:
            assert m["seconds_per_sample"] is None and m["distinct_classes"] is None
    rows = {row["name"]: row["mean"] for row in report["rows"]}
    # Real images, scored like samples, are classified as well as the evaluator classifies real
    # images, and are closer to the real test features than any sampler's few-step chains.
    evaluator_accuracy = json.loads((WEIGHTS / "fashion-mnist" / "evaluator.json").read_text())["metrics"]["test_accuracy"]
    assert abs(rows["real"]["accuracy"] - evaluator_accuracy) <= 0.15
    assert rows["reconstruction"]["accuracy"] >= 0.6  # G(E(x)) keeps the class
    assert all(rows["real"]["fid"] < rows[name]["fid"] for name in PRESETS)
    assert max(rows[name]["accuracy"] for name in PRESETS) > 0.3  # chance is 0.1
    cells = {(c["eps1"], c["eps3"]): c for c in report["ablation"]}
    assert set(cells) == {(e1, e3) for e1 in TINY.ablation_eps1 for e3 in TINY.ablation_eps3}
    assert cells[0.3, 0.0]["fid"] != cells[1.0, 0.0]["fid"]  # ε1 reaches the sampler
    md = (out / "results.md").read_text()
    assert all(f"| {name} |" in md for name in names) and "ppgn bench quality --quick" in md
    real, real_sd = rows["real"], report["rows"][0]["std"]
    assert f"| real | {real['accuracy']:.3f} ± {real_sd['accuracy']:.3f} | {real['fid']:.3f} ± {real_sd['fid']:.3f} |" in md
    for figure in ("samples", "diversity-accuracy", "mixing", "ablation"):
        assert (out / "figures" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    # A second run over some of the rows reuses the finished jobs: the timings match to the digit.
    again = run("--out-dir", str(tmp_path / "again"), "--rows", "dgn-am,real", "--seeds", "1")
    assert again.exit_code == 0, again.output
    rows = {r["name"]: r for r in json.loads((tmp_path / "again" / "results.json").read_text())["rows"]}
    first = {r["name"]: r for r in report["rows"]}
    assert list(rows) == ["dgn-am", "real"] and rows["dgn-am"]["per_seed"] == first["dgn-am"]["per_seed"][1:]


@pytest.mark.parametrize(("args", "message"), [
    (["--rows", "real,gan"], "unknown row 'gan'; valid: real, reconstruction"),
    (["--seeds", "0,x"], "--seeds must be comma-separated integers"),
    (["--per-class", "1"], "--per-class must be >= 2"),
])
def test_bench_quality_bad_input(tmp_path, args, message):
    result = CliRunner().invoke(app, ["bench", "quality", "--quick", "--out-dir", str(tmp_path / "out"),
                                      "--cache-dir", str(tmp_path / "cache"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not any(tmp_path.iterdir())  # nothing written, not even the cache


# --- Precision and recall, the evaluation count, cached jobs from before they existed, the diffusion rows ----------

from ppgn.evaluation import quality
from ppgn.evaluation.distribution import precision_recall
from ppgn.evaluation.evaluate import EvaluatorBundle, class_precision_recall
from ppgn.evaluation.metrics import evaluator_outputs

# One seed, 4 per class (precision and recall need more than k = 3), no mixing or ablation: seconds per run.
SMALL = dataclasses.replace(QUICK, seeds=(0,), per_class=4, steps=3, ablation_eps1=(), ablation_eps3=(), diffusion_steps=2)


@pytest.fixture(scope="module")
def fashion():
    import ppgn

    return ppgn.load("fashion-mnist", device="cpu")


@pytest.fixture(scope="module")
def bundle(fashion):
    return EvaluatorBundle.from_folder(fashion.folder)


def test_precision_and_recall_columns_are_the_distribution_functions_on_the_same_features(bundle, fashion_mnist_dir):
    from ppgn.data import dataset_items, open_dataset

    data = open_dataset("fashion-mnist", "train", data_dir=fashion_mnist_dir)
    labels = np.repeat(np.arange(10), 5)
    idx = np.concatenate([np.flatnonzero(np.asarray(data.labels) == k)[:5] for k in range(10)])
    images = dataset_items(data, idx)
    metrics = quality._score(images, labels, bundle, seconds=1.0)
    assert {"precision", "recall"} <= set(metrics) and set(metrics) - {"load_per_core", "evaluations_per_sample"} <= set(METRICS)
    features, _ = evaluator_outputs(bundle.network, images)
    expected = class_precision_recall(features, labels, bundle.real_features, bundle.real_labels)
    assert metrics["precision"] == expected["precision"] and metrics["recall"] == expected["recall"]
    assert 0 <= metrics["precision"] <= 1 and 0 <= metrics["recall"] <= 1
    # One class against exactly as many real images: the per-class value is precision_recall's itself.
    real = bundle.real_features[bundle.real_labels == 3][:5]
    one = class_precision_recall(features[labels == 3], labels[labels == 3], real, np.full(5, 3))
    assert (one["precision"], one["recall"]) == precision_recall(features[labels == 3], real)
    # Real images score high; noise scores low on fidelity.
    noise = np.random.default_rng(0).integers(0, 256, images.shape, dtype=np.uint8)
    assert quality._score(noise, labels, bundle, 1.0)["precision"] < metrics["precision"]


def test_a_job_cached_before_precision_and_recall_gets_them_from_its_images(fashion, fashion_mnist_dir, tmp_path):
    config = dataclasses.replace(SMALL, rows=("real", "dgn-am"))
    first = quality.bench_quality(fashion, config, fashion_mnist_dir, progress=False, cache_dir=tmp_path)
    [folder] = list(tmp_path.iterdir())
    for path in folder.glob("*.npz"):  # rewrite each job as the cache held them before this change
        with np.load(path) as f:
            arrays = {k: f[k] for k in f.files}
        old = {k: v for k, v in json.loads(str(arrays.pop("metrics"))).items()
               if k not in ("precision", "recall", "evaluations_per_sample")}
        np.savez(path, metrics=np.array(json.dumps(old)), **arrays)
    again = quality.bench_quality(fashion, config, fashion_mnist_dir, progress=False, cache_dir=tmp_path)
    for a, b in zip(first.rows, again.rows):
        for metric in ("precision", "recall", "evaluations_per_sample", "fid"):
            assert a.summary(metric) == pytest.approx(b.summary(metric), nan_ok=True), (a.name, metric)
    means = {row.name: {m: row.summary(m)[0] for m in METRICS} for row in again.rows}
    assert 0 <= means["real"]["precision"] <= 1 and 0 <= means["dgn-am"]["recall"] <= 1
    assert means["dgn-am"]["evaluations_per_sample"] == SMALL.steps and math.isnan(means["real"]["evaluations_per_sample"])
    with np.load(next(folder.glob("dgn-am-*.npz"))) as f:  # written back: the next run reads them, not recomputes
        assert "precision" in json.loads(str(f["metrics"]))


@pytest.fixture
def diffusion_folder(tmp_path):
    """A tiny untrained conditional UNet for Fashion-MNIST's 10 classes, with its card."""
    from ppgn.models import save_model
    from ppgn.models.diffusion import UNet, UNetConfig

    torch.manual_seed(0)
    net = UNet(UNetConfig(patch=2, channels=8, multipliers=(1, 2), time_dim=16, num_classes=10, timesteps=50)).eval()
    for p in net.parameters():  # the zero-initialised head would predict ε = 0 whatever the input
        p.data.add_(0.05 * torch.randn(p.shape))
    save_model(net, tmp_path / "diff" / "diffusion.safetensors", {"training_config": {"dataset": "fashion-mnist"}})
    return tmp_path / "diff"


def test_the_diffusion_rows_sample_the_folder_guided_by_the_benchmarked_classifier(fashion, fashion_mnist_dir, diffusion_folder):
    config = dataclasses.replace(SMALL, rows=("diffusion-guided", "diffusion-cfg"), diffusion=str(diffusion_folder))
    result = quality.bench_quality(fashion, config, fashion_mnist_dir, progress=False)
    rows = {row.name: row for row in result.rows}
    assert rows["diffusion-guided"].summary("evaluations_per_sample")[0] == SMALL.diffusion_steps  # one UNet pass a step
    assert rows["diffusion-cfg"].summary("evaluations_per_sample")[0] == 2 * SMALL.diffusion_steps  # both branches
    for row in rows.values():
        m = {metric: row.summary(metric)[0] for metric in METRICS}
        assert m["seconds_per_sample"] > 0 and 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1 and m["fid"] >= 0
        assert math.isnan(m["distinct_classes"]) and row.grid.shape == (40, 28, 28, 1)
    assert not np.array_equal(rows["diffusion-guided"].grid, rows["diffusion-cfg"].grid)
    diffusion = quality.diffusion_pipeline(fashion, diffusion_folder)
    assert diffusion.find_classifier() == fashion.folder / "classifier.safetensors"  # the same E/C as the PPGN's chains
    report = quality.QualityResult(config, result.rows).as_json()
    assert report["config"]["diffusion"] == str(diffusion_folder) and report["rows"][1]["mean"]["evaluations_per_sample"] == 4


def test_diffusion_rows_are_refused_without_a_usable_folder(fashion, diffusion_folder, tmp_path):
    run = lambda **kw: quality.bench_quality(fashion, dataclasses.replace(SMALL, rows=("real", "diffusion-cfg"), **kw), progress=False)
    with pytest.raises(ValueError, match="needs a diffusion model folder.*ppgn train diffusion"):
        run()
    with pytest.raises(ValueError, match="no diffusion.safetensors there; make one with 'ppgn train diffusion"):
        run(diffusion=str(tmp_path / "empty"))
    card = diffusion_folder / "diffusion.json"
    card.write_text(card.read_text().replace('"fashion-mnist"', '"mnist"'))
    with pytest.raises(ValueError, match="trained on 'mnist'"):
        run(diffusion=str(diffusion_folder))
    with pytest.raises(ValueError, match="unknown row 'gan'; valid: .*diffusion-guided, diffusion-cfg"):
        quality.bench_quality(fashion, dataclasses.replace(SMALL, rows=("gan",)), progress=False)


def test_the_command_line_knows_the_diffusion_rows_without_torch():
    from ppgn.cli import bench

    assert bench.DIFFUSION_ROW_NAMES == tuple(quality.DIFFUSION_ROWS) and bench.MAKE_DIFFUSION == quality.MAKE_DIFFUSION


@pytest.mark.parametrize(("args", "message"), [
    (["--rows", "real,diffusion-cfg"], "row diffusion-cfg needs --diffusion FOLDER, a diffusion model made by 'ppgn train diffusion"),
    (["--diffusion", "nowhere"], "--diffusion nowhere: no diffusion.safetensors there; make one with 'ppgn train diffusion"),
    (["--cfg-scale", "2"], "--cfg-scale sets the diffusion rows, which need --diffusion FOLDER"),
])
def test_bench_quality_refuses_diffusion_rows_it_cannot_run(tmp_path, args, message):
    result = CliRunner().invoke(app, ["bench", "quality", "--quick", "--out-dir", str(tmp_path / "out"),
                                      "--cache-dir", str(tmp_path / "cache"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not any(tmp_path.iterdir())
