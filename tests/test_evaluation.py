"""Evaluation metrics: they rank a matching distribution above a mismatched one."""

import warnings

import numpy as np
import pytest
import torch

from ppgn.evaluation.distribution import _compute, distribution_metrics
from ppgn.evaluation.metrics import diversity_ratio, evaluator_outputs, mean_pairwise_distance
from ppgn.models import Evaluator


def blobs(n, seed, brightness=255):
    """uint8 (n, 28, 28, 1): one bright square at a random place per image."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28, 1), np.uint8)
    for img, (r, c) in zip(images, rng.integers(0, 20, (n, 2))):
        img[r : r + 8, c : c + 8] = brightness
    return images


def test_fid_and_kid_prefer_the_matching_distribution():
    torch.manual_seed(0)
    evaluator = Evaluator().eval()
    real_features, _ = evaluator_outputs(evaluator, blobs(400, 0))
    same = distribution_metrics(blobs(200, 1), evaluator, real_features, subset_size=100)
    other = distribution_metrics(blobs(200, 2, brightness=90), evaluator, real_features, subset_size=100)
    assert same["fid"] < other["fid"] and same["kid"] < other["kid"]


def test_distribution_metrics_take_their_known_values_on_constructed_features():
    """Features with known statistics (``_compute`` is ``distribution_metrics`` after the evaluator):
    a shift of the same cloud has Fréchet distance ‖shift‖² (equal covariances); the score is
    exp(E KL(p(y|x) ‖ p(y))), so K classes named with certainty and equally often give K, one
    shared p(y|x) gives 1."""
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[1.0, 0.3, 0, 0], [0, 1.0, 0, 0], [0, 0, 2.0, 0], [0, 0, 0, 0.5]], dtype=torch.float64)
    real = torch.randn(400, 4, generator=g, dtype=torch.float64) @ mix
    certain = lambda k: 60.0 * torch.eye(4, dtype=torch.float64)[torch.arange(400) % k]  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        same = _compute(real, certain(4), real, 100)
        shifted = _compute(real + torch.tensor([3.0, 0.0, 0.0, 4.0], dtype=torch.float64), certain(2), real, 100)
        flat = _compute(real, torch.zeros(400, 4, dtype=torch.float64), real, 100)
    assert same["fid"] == pytest.approx(0.0, abs=1e-6) and shifted["fid"] == pytest.approx(25.0, rel=1e-6)
    assert abs(same["kid"]) < 2 * same["kid_std"] and shifted["kid"] > 10 * shifted["kid_std"]  # unbiased: 0 ± noise
    assert same["inception_score"] == pytest.approx(4.0, rel=1e-6)
    assert shifted["inception_score"] == pytest.approx(2.0, rel=1e-6)
    assert flat["inception_score"] == pytest.approx(1.0, rel=1e-6)


def test_diversity_ratio_is_one_for_identical_spread_and_zero_for_copies():
    feats = torch.randn(40, 8, dtype=torch.float64)
    labels = np.repeat([0, 1], 20)
    assert abs(diversity_ratio(feats, labels, feats, labels) - 1.0) < 1e-12
    copies = feats[[0] * 20 + [20] * 20]
    assert diversity_ratio(copies, labels, feats, labels) == 0.0
    assert abs(mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) - 5.0) < 1e-12


def test_precision_and_recall_separate_fidelity_from_coverage():
    from ppgn.evaluation.distribution import precision_recall

    gen = torch.Generator().manual_seed(0)
    real = torch.randn(200, 8, generator=gen)
    assert precision_recall(real, real) == (1.0, 1.0)
    far = real + 100.0
    assert precision_recall(far, real) == (0.0, 0.0)
    collapsed = real[:1].repeat(200, 1) + 1e-3 * torch.randn(200, 8, generator=gen)  # faithful, one mode
    precision, recall = precision_recall(collapsed, real)
    assert precision == 1.0 and recall < 0.1
    with pytest.raises(ValueError, match="more than 3"):
        precision_recall(real[:3], real)


def test_eval_reports_per_class_precision_and_recall():
    from ppgn.evaluation.evaluate import class_precision_recall

    gen = torch.Generator().manual_seed(0)
    real, real_labels = torch.randn(400, 4, generator=gen), np.repeat(np.arange(4), 100)
    fake, labels = real[::10].clone(), real_labels[::10]  # 10 real points of each class
    out = class_precision_recall(fake, labels, real, real_labels)
    assert set(out["per_class_precision"]) == {0, 1, 2, 3}
    assert out["precision"] > 0.5 and 0 < out["recall"] <= 1
    assert class_precision_recall(fake[:3], labels[:3], real, real_labels)["per_class_recall"] == {}
