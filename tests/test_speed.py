"""`ppgn bench speed`'s measurements and the ways a chain runs faster (issue 16): what each keeps."""

import numpy as np
import pytest
import torch

import ppgn
from ppgn.evaluation.speed import bench_speed, flops_per_step, quality_at_speed


@pytest.fixture(scope="module")
def pipe():
    return ppgn.load("fashion-mnist", device="cpu")


def test_the_joint_prior_costs_no_flops_when_it_shares_E_with_the_class_condition(pipe):
    """R(h) = E(G(h)) comes from the condition's own pass: a Joint PPGN-h step does the work of a
    DGN-AM step (no prior) on the same architecture, and none of a second E forward."""
    pipe.accelerate()
    assert flops_per_step(pipe, "joint-ppgn-h", 2) == flops_per_step(pipe, "dgn-am", 2)
    assert flops_per_step(pipe, "ppgn-h", 2) > flops_per_step(pipe, "dgn-am", 2)  # a separate DAE does cost


def test_speed_rows_name_how_the_chain_ran_and_count_the_model_as_trained(pipe):
    exact = bench_speed(pipe, batches=(2,), steps=1, repeats=1)
    fast = bench_speed(pipe, batches=(2,), steps=1, repeats=2, chain_steps=100, accelerate={"subpixel": True})
    (e,), (f,) = exact, fast
    assert (e["autocast"], e["compile"], e["subpixel"], f["subpixel"]) == ("off", False, False, True)
    assert f["flops_per_step"] == e["flops_per_step"]  # the sub-pixel kernels' zeros are not counted as work
    for r, steps in ((e, 200), (f, 100)):
        assert r["chain_steps"] == steps and r["ms_per_sample"] == pytest.approx(steps * 1000 / r["steps_per_s"], rel=0.05)
        assert r["share_of_fp32_matmul"] == pytest.approx(r["gflops_achieved"] / r["matmul_fp32_gflops"], rel=0.05, abs=1e-3)
        assert r["load_1min"] is None or r["load_1min"] >= 0
    pipe.accelerate()


def test_subpixel_G_draws_the_same_images_up_to_rounding_and_bf16_close_to_them(pipe):
    exact = pipe.accelerate().sample("bag", num=3, seed=0, steps=3)
    sub = pipe.accelerate(subpixel=True).sample("bag", num=3, seed=0, steps=3)
    assert type(pipe.generator().upsample[0]).__name__ == "Conv2d"
    assert np.abs(exact.array.astype(int) - sub.array).max() <= 2  # uint8 levels: rounding, not another chain
    bf16 = pipe.accelerate(autocast="bf16").sample("bag", num=3, seed=0, steps=3)
    assert np.abs(exact.array.astype(float) - bf16.array).mean() < 8 and bf16.prob.dtype == np.float32
    pipe.accelerate()
    assert np.array_equal(pipe.sample("bag", num=3, seed=0, steps=3).array, exact.array)  # back to exact
    with pytest.raises(ValueError, match="autocast.*off, bf16, fp16"):
        pipe.accelerate(autocast="int8")


def test_quality_check_scores_the_variant_beside_the_exact_reference(pipe):
    check = quality_at_speed(pipe, accelerate={"subpixel": True}, chain_steps=2, per_class=2, reference_steps=3)
    ref, var = check["reference"], check["variant"]
    assert (ref["chain_steps"], var["chain_steps"], var["subpixel"]) == (3, 2, True) and "subpixel" not in ref
    assert all(0 <= q["accuracy"] <= 1 and q["fid"] > 0 and q["ms_per_sample"] > 0 for q in (ref, var))
    assert check["holds"] == (var["accuracy"] >= ref["accuracy"] - 0.03 and var["fid"] <= 1.15 * ref["fid"])
    pipe.accelerate()


def test_the_command_lines_copies_of_the_names_agree_with_the_library():
    from ppgn.cli.options import AUTOCAST_NAMES
    from ppgn.cli.train import UPSAMPLE_NAMES
    from ppgn.models.generator import UPSAMPLE
    from ppgn.pipelines.ppgn import AUTOCASTS

    assert AUTOCAST_NAMES == tuple(AUTOCASTS) and UPSAMPLE_NAMES == UPSAMPLE
    assert AUTOCASTS["bf16"] is torch.bfloat16
