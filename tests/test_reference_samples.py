"""The same seed gives the same images, bit for bit, as before the layout move.

``fixtures/reference-samples.npz`` was written by the code of commit e55983e (before ``pipelines/``
and ``cli/`` existed) with 2 threads: every shipped pipeline, each preset, inpainting, neuron
visualisation and colourisation. Floating-point sums depend on the thread count and on the CPU's
vector instructions, so the check is exact on a CPU of the recorded kind, with 2 threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import ppgn
from ppgn.pipelines.colorize import colorize, load_colorizer
from ppgn.pipelines.inpaint import box_mask, inpaint
from ppgn.pipelines.visualize import target_network, visualize

REFERENCE = Path(__file__).parent / "fixtures" / "reference-samples.npz"
PRESETS = ("dgn-am", "ppgn-x", "ppgn-h", "joint-ppgn-h", "noiseless-joint-ppgn-h", "ppgn-flow")


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as f:
        ref = {k: f[k] for k in f.files}
    here = torch.backends.cpu.get_cpu_capability()
    if str(ref["cpu_capability"]) != here:
        pytest.skip(f"reference samples were made on a {ref['cpu_capability']} CPU; this one is {here}")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield ref
    torch.set_num_threads(threads)


def made_now() -> dict[str, np.ndarray]:
    out = {}
    pipe = ppgn.load("fashion-mnist", device="cpu")
    for preset in PRESETS:
        out[f"ppgn/{preset}"] = pipe.sample("sneaker", num=3, seed=0, steps=12, preset=preset).array
    out["ppgn/all"] = pipe.sample(list(range(10)), num=10, seed=1, steps=12).array
    out["ppgn/inpaint"] = inpaint(pipe, torch.zeros(1, 1, 28, 28), box_mask(28, (8, 8, 10, 10)), num=2, steps=8).array
    out["ppgn/visualize"] = visualize(pipe, target_network(pipe), "fc.2:7", num=2, steps=8).images
    for name in ("mnist-cinn", "fashion-mnist-cinn"):
        out[name] = ppgn.load(name, device="cpu").sample(3, num=4, seed=0, temperature=0.7).array
    grey = (np.arange(256).reshape(16, 16) % 251).astype(np.uint8)
    out["colorize"] = colorize(load_colorizer(), grey, num=3, seed=0, temperature=0.8)
    return out


def test_same_seed_same_images_as_before_the_move(reference):
    now = made_now()
    assert set(now) == set(reference) - {"cpu_capability"}
    differ = [k for k in now if not np.array_equal(now[k], reference[k])]
    assert not differ, f"these samples changed: {differ}"
