"""DGN-AM against PPGN on the same hidden units: the activation each reaches, and how diverse.

For each unit and each preset, ``num`` chains climb the unit's activation (calibrated, same
seed). Reported: the mean activation of the generated images, as a fraction of the mean over
the unit's top-``num`` real training images; and diversity, the mean pairwise distance of the
generated images in the independent evaluator's feature space, divided by that of the same
top-``num`` real images (1.0 = as varied as the real images that drive the unit most).
"""

from __future__ import annotations

import numpy as np

from ..pipelines.visualize import top_real, visualize
from .metrics import evaluator_outputs, mean_pairwise_distance


def bench_neurons(
    pipe,
    net,
    neurons: list[str],
    train_images: np.ndarray,
    presets: tuple[str, ...] = ("dgn-am", "joint-ppgn-h"),
    num: int = 16,
    seed: int = 0,
    steps: int | None = None,
    evaluator=None,
    progress: bool = False,
) -> list[dict]:
    """Rows ``{neuron, preset, activation, activation_vs_real, diversity_vs_real, real_top_activation}``.

    Args:
        train_images: uint8 (N, H, W, C) (or (N, H, W) grey), where the top real images are looked for.
        evaluator: the independent evaluator network (its features measure diversity).
    """
    rows = []
    for neuron in neurons:
        real = None
        for preset in presets:
            vis = visualize(pipe, net, neuron, num, seed, preset, steps=steps, progress=progress)
            if real is None:
                idx, real_acts = top_real(net, vis.layer, vis.unit, train_images, num)
                real_features = evaluator_outputs(evaluator, train_images[idx])[0]
                real_spread = mean_pairwise_distance(real_features)
            gen_features = evaluator_outputs(evaluator, vis.images)[0]
            rows.append({
                "neuron": f"{vis.layer}:{vis.unit}",
                "preset": preset,
                "activation": round(float(vis.activations.mean()), 4),
                "activation_vs_real": round(float(vis.activations.mean() / real_acts.mean()), 4),
                "diversity_vs_real": round(mean_pairwise_distance(gen_features) / real_spread, 4),
                "real_top_activation": round(float(real_acts.mean()), 4),
            })
    return rows


__all__ = ["bench_neurons"]
