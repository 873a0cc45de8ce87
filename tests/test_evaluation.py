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
