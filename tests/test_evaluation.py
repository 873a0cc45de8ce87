"""Evaluation metrics: they rank a matching distribution above a mismatched one."""

import numpy as np
import torch

from ppgn.evaluation.distribution import distribution_metrics
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
    assert same["inception_score"] >= 1.0


def test_diversity_ratio_is_one_for_identical_spread_and_zero_for_copies():
    feats = torch.randn(40, 8, dtype=torch.float64)
    labels = np.repeat([0, 1], 20)
    assert abs(diversity_ratio(feats, labels, feats, labels) - 1.0) < 1e-12
    copies = feats[[0] * 20 + [20] * 20]
    assert diversity_ratio(copies, labels, feats, labels) == 0.0
    assert abs(mean_pairwise_distance(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) - 5.0) < 1e-12
