"""How fast the sampler runs, set against what this machine can do.

For each batch size: milliseconds per 200-step sample, FLOPs per chain step (counted by
``torch.utils.flop_counter``), the GFLOP/s achieved, and, measured in the same run on the
same device, the GFLOP/s of a large fp32 and bf16 matrix multiply: the practical ceiling.
"""

from __future__ import annotations

import resource
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from ..sampling import ClassCondition, MALASampler, get_preset

STEPS_PER_SAMPLE = 200


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_gflops(dtype: torch.dtype, device: torch.device, repeats: int = 3, budget_s: float = 0.3) -> float:
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


def flops_per_step(pipe, preset_name: str, batch: int) -> int:
    """FLOPs of one chain step for ``batch`` chains: G forward, C forward and backward to h, the prior."""
    preset, G, prior, condition = _parts(pipe, preset_name, batch)
    h = pipe.initial_codes(batch, "gaussian", torch.Generator().manual_seed(0)).requires_grad_(True)
    with FlopCounterMode(display=False) as counter:
        x = G(h)
        condition.log_prob(x).sum().backward()  # counts the same work as autograd.grad
        if preset.sampler.eps1 > 0:
            prior.score(h.detach(), x.detach())
    return counter.get_total_flops()


def time_steps(pipe, preset_name: str, batch: int, steps: int) -> float:
    """Seconds per chain step for ``batch`` chains (after one warm-up step)."""
    preset, G, prior, condition = _parts(pipe, preset_name, batch)
    gen = torch.Generator().manual_seed(0)
    h0 = pipe.initial_codes(batch, "gaussian", gen)
    sampler = MALASampler(preset.with_overrides(steps=1).sampler)
    sampler.sample(h0, G, prior, condition, generator=gen, h_max=pipe.classifier.code_max)
    sampler = MALASampler(preset.with_overrides(steps=steps).sampler)
    _sync(pipe.device)
    start = time.perf_counter()
    sampler.sample(h0, G, prior, condition, generator=gen, h_max=pipe.classifier.code_max)
    _sync(pipe.device)
    return (time.perf_counter() - start) / steps


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def bench_speed(pipe, preset: str = "joint-ppgn-h", batches=(1, 16, 64, 256), steps: int = 10) -> list[dict]:
    """One row per batch size; see the module docstring for the columns."""
    device = pipe.device
    fp32, bf16 = matmul_gflops(torch.float32, device), matmul_gflops(torch.bfloat16, device)
    rows = []
    for batch in batches:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        seconds = time_steps(pipe, preset, batch, steps)
        flops = flops_per_step(pipe, preset, batch)
        rows.append({
            "batch": batch,
            "preset": preset,
            "device": str(device),
            "threads": torch.get_num_threads(),
            "steps_per_s": round(batch / seconds, 1),
            "ms_per_sample": round(seconds * STEPS_PER_SAMPLE / batch * 1000, 2),
            "flops_per_step": flops,
            "gflops_achieved": round(flops / seconds / 1e9, 2),
            "matmul_fp32_gflops": round(fp32, 1),
            "matmul_bf16_gflops": round(bf16, 1),
            "peak_mem_mb": round(peak_memory_mb(device), 1),
        })
    return rows


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
    sampler = MALASampler(spec.with_overrides(steps=steps).sampler)
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
