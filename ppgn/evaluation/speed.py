"""How fast the sampler runs, set against what this machine can do.

For each batch size: milliseconds per sample (a chain of the preset's 200 steps), FLOPs per chain step (counted by
``torch.utils.flop_counter`` over the step the sampler actually runs), the GFLOP/s achieved and,
measured in the same run on the same device, the GFLOP/s of a large fp32 and bf16 matrix
multiply: the practical ceiling. The pipeline's ``accelerate`` settings (autocast, compile,
sub-pixel G) are those timed, and each row names them. Times are the best of ``repeats`` runs,
and the 1-minute load average is recorded, since a shared machine's neighbours slow a run down.

``quality_at_speed`` runs a small quality check beside it (evaluator accuracy and FID on a few
samples per class): a faster chain counts only if what it draws holds up.
"""

from __future__ import annotations

import os
import resource
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..sampling import ClassCondition, MALASampler, get_preset

# A variant "holds" the reference's quality within these margins (10 samples per class are noisy):
HOLD_ACCURACY = 0.03  # accuracy at most this much lower
HOLD_FID = 1.15  # FID at most this many times the reference's


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_average() -> float | None:
    """The 1-minute load average (None where the system does not report one)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def matmul_gflops(dtype: torch.dtype, device: torch.device, repeats: int = 5, budget_s: float = 0.3) -> float:
    """Best GFLOP/s of square matrix multiplies (2n³ FLOPs), n growing from 256 to 2048 while one
    product takes under ``budget_s`` (a dtype without fast kernels stops early instead of taking minutes)."""
    best = 0.0
    for n in (256, 512, 1024, 2048):
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        a @ b  # warm up (and let the library pick its kernel)
        elapsed = float("inf")
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            a @ b
            _sync(device)
            elapsed = min(elapsed, time.perf_counter() - start)
        best = max(best, 2 * n**3 / elapsed / 1e9)
        if elapsed > budget_s:
            break
    return best


def _parts(pipe, preset_name: str, batch: int):
    preset = get_preset(preset_name)
    G = pipe.generator(preset.generator)
    C = pipe.classifier
    prior = pipe.prior(preset.prior, G)
    labels = torch.arange(batch, device=pipe.device) % len(pipe.classes)
    return preset, G, prior, ClassCondition(C, labels)


def _sampler(pipe, preset, steps: int) -> MALASampler:
    return MALASampler(preset.with_overrides(steps=steps).sampler, autocast=pipe.autocast, compile=pipe.compile)


def flops_per_step(pipe, preset_name: str, batch: int) -> int:
    """FLOPs of one chain step for ``batch`` chains, as the sampler runs it (``MALASampler.gradients``):
    G forward, the condition forward and backward to h, and the prior; with the Joint prior and a
    class condition of the same E/C, E runs once for both. (``.backward()`` stands for the sampler's
    ``autograd.grad``, which the FLOP counter's module hooks do not allow; it counts the same work.)"""
    preset, G, prior, condition = _parts(pipe, preset_name, batch)
    h = pipe.initial_codes(batch, "gaussian", torch.Generator().manual_seed(0)).requires_grad_(True)
    shared = preset.sampler.eps1 > 0 and hasattr(prior, "score_from_code")
    with FlopCounterMode(display=False) as counter, torch.autocast(h.device.type, pipe.autocast or torch.bfloat16, enabled=pipe.autocast is not None):
        x = G(h)
        log_p, code = condition.log_prob_and_code(x, prior.encoder if shared else None)
        log_p.sum().backward()
        if preset.sampler.eps1 > 0 and code is None:
            prior.score(h.detach(), x.detach())
    return counter.get_total_flops()


def time_steps(pipe, preset_name: str, batch: int, steps: int, repeats: int = 1) -> float:
    """Seconds per chain step for ``batch`` chains: the best of ``repeats`` runs of ``steps`` steps
    (after a warm-up of two steps, which also compiles a compiled pipeline's networks)."""
    preset, G, prior, condition = _parts(pipe, preset_name, batch)
    gen = torch.Generator().manual_seed(0)
    h0 = pipe.initial_codes(batch, "gaussian", gen)
    _sampler(pipe, preset, 2).sample(h0, G, prior, condition, generator=gen, h_max=pipe.classifier.code_max)
    sampler = _sampler(pipe, preset, steps)
    best = float("inf")
    for _ in range(repeats):
        _sync(pipe.device)
        start = time.perf_counter()
        sampler.sample(h0, G, prior, condition, generator=gen, h_max=pipe.classifier.code_max)
        _sync(pipe.device)
        best = min(best, time.perf_counter() - start)
    return best / steps


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_speed(pipe, preset: str = "joint-ppgn-h", batches=(1, 16, 64, 256), steps: int = 10, repeats: int = 3,
                chain_steps: int | None = None, accelerate: dict | None = None) -> list[dict]:
    """One row per batch size, with the pipeline set by ``pipe.accelerate(**accelerate)``; see the
    module docstring for the columns.

    ``chain_steps`` is the chain length a sample takes (ms_per_sample = ``chain_steps`` steps; default
    the preset's, 200 for every preset here);
    the fp32 and bf16 matmul rates are the best of a measurement before and one after the rows.
    """
    device, accelerate = pipe.device, accelerate or {}
    chain_steps = chain_steps or get_preset(preset).sampler.steps
    # FLOPs of the model as trained (a sub-pixel G's kernels hold zeros; a compiled one counts the same work)
    pipe.accelerate(autocast=accelerate.get("autocast", "off"))
    flops = {batch: flops_per_step(pipe, preset, batch) for batch in batches}
    pipe.accelerate(**accelerate)
    fp32, bf16 = matmul_gflops(torch.float32, device), matmul_gflops(torch.bfloat16, device)
    timed = []
    for batch in batches:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        load = load_average()
        seconds = time_steps(pipe, preset, batch, steps, repeats)
        timed.append((batch, seconds, max(load or 0, load_average() or 0) if load is not None else None, peak_memory_mb(device)))
    fp32, bf16 = max(fp32, matmul_gflops(torch.float32, device)), max(bf16, matmul_gflops(torch.bfloat16, device))
    rows = []
    for batch, seconds, load, peak in timed:
        rows.append({
            "batch": batch,
            "preset": preset,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "autocast": accelerate.get("autocast", "off"),
            "compile": bool(accelerate.get("compile", False)),
            "subpixel": bool(accelerate.get("subpixel", False)),
            "chain_steps": chain_steps,
            "steps_per_s": round(batch / seconds, 1),
            "ms_per_sample": round(seconds * chain_steps / batch * 1000, 2),
            "flops_per_step": flops[batch],
            "gflops_achieved": round(flops[batch] / seconds / 1e9, 2),
            "matmul_fp32_gflops": round(fp32, 1),
            "matmul_bf16_gflops": round(bf16, 1),
            "share_of_fp32_matmul": round(flops[batch] / seconds / 1e9 / fp32, 3),
            "share_of_bf16_matmul": round(flops[batch] / seconds / 1e9 / bf16, 3),
            "load_1min": load,
            "peak_mem_mb": round(peak, 1),
        })
    return rows


def quality_at_speed(pipe, preset: str = "joint-ppgn-h", accelerate: dict | None = None, chain_steps: int | None = None,
                     per_class: int = 10, seed: int = 0, batch: int = 64, reference_steps: int | None = None) -> dict:
    """Evaluator accuracy and FID of ``per_class`` samples per class drawn with ``pipe.accelerate(**accelerate)``
    and ``chain_steps`` steps, beside the same for the exact reference (no acceleration, the preset's
    steps), each with its ms per sample (chains ``batch`` at a time, as the speed rows run them).
    ``holds`` says whether the variant keeps the reference's quality (``HOLD_ACCURACY``, ``HOLD_FID``).
    The pipeline is left as ``accelerate`` sets it.
    """
    import numpy as np

    from .evaluate import EvaluatorBundle, evaluate_samples

    bundle = EvaluatorBundle.from_folder(pipe.folder, pipe.device)
    labels = torch.arange(len(pipe.classes)).repeat_interleave(per_class)

    def run(settings: dict, steps: int | None) -> dict:
        pipe.accelerate(**settings)
        arrays, start = [], time.perf_counter()
        for i, block in enumerate(labels.split(batch)):
            arrays.append(pipe.sample(block, num=len(block), preset=preset, seed=seed + i, steps=steps).array)
        seconds = time.perf_counter() - start
        result = evaluate_samples(np.concatenate(arrays), labels.numpy(), bundle)
        return {"accuracy": round(result["accuracy"], 4), "fid": round(result["fid"], 4), "ms_per_sample": round(seconds / len(labels) * 1000, 2),
                "chain_steps": steps or get_preset(preset).sampler.steps, "load_1min": load_average(), **settings}

    reference = run({}, reference_steps)
    exact = not any(v not in ("off", False) for v in (accelerate or {}).values())
    same_steps = (chain_steps or get_preset(preset).sampler.steps) == (reference_steps or get_preset(preset).sampler.steps)
    variant = reference if exact and same_steps else run(accelerate or {}, chain_steps)
    holds = variant["accuracy"] >= reference["accuracy"] - HOLD_ACCURACY and variant["fid"] <= reference["fid"] * HOLD_FID
    return {"per_class": per_class, "seed": seed, "variant": variant, "reference": reference, "holds": bool(holds)}


def profile_by_operator(pipe, preset: str = "joint-ppgn-h", batch: int = 64, steps: int = 5, top: int = 12) -> list[dict]:
    """Where a chain step's time goes: the ``top`` operators by their own time (torch.profiler).

    Returns rows {"operator", "ms_per_step", "share", "calls_per_step"}, largest first; the
    shares are of the total operator time, so they add to at most 1. The chains run as one
    group (``workers=1``): the profiler sees the operators of the calling thread only.
    """
    from torch.profiler import ProfilerActivity, profile

    spec, G, prior, condition = _parts(pipe, preset, batch)
    gen = torch.Generator().manual_seed(0)
    h0 = pipe.initial_codes(batch, "gaussian", gen)
    sampler = _sampler(pipe, spec, steps)
    run = lambda: sampler.sample(h0, G, prior, condition, generator=gen, h_max=pipe.classifier.code_max, workers=1)
    run()  # warm up
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if pipe.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        run()
    events = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    events.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{
        "operator": e.key,
        "ms_per_step": round(e.self_cpu_time_total / 1000 / steps, 3),
        "share": round(e.self_cpu_time_total / total, 4),
        "calls_per_step": round(e.count / steps, 2),
    } for e in events[:top]]
