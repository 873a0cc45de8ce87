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
