"""Recipe: train the flow prior p_σ(h) on codes h = E(x) of the frozen encoder, by maximum likelihood.

    ppgn train flow-prior --dataset fashion-mnist --out runs/fashion-mnist/flow-prior

Each step draws fresh smoothing noise h + σ·s·ε (σ per-unit stds, as the DAE on h is trained),
so the flow learns p_σ = p ∗ N(0, σ²s²), whose score is the PPGN-h prior term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from ..models import save_model
from ..models.flow_prior import CodeFlow, CodeFlowConfig
from .common import check_fields, encoded_sets
from .limits import BATCH, BLOCKS, CLAMP, DECAY, EPOCHS, LR, NEEDED_NOISE, SEED, UNITS
from .loop import Run


@dataclass(frozen=True)
class FlowPriorTrainConfig:
    dataset: str = "fashion-mnist"
    classifier: str = "ppgn/weights/fashion-mnist/classifier.safetensors"
    noise: float = 0.5
    blocks: int = 6
    hidden: int = 96
    clamp: float = 1.0
    epochs: int = 15
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-5
    grad_clip: float = 10.0
    seed: int = 0

    def __post_init__(self):
        check_fields(self, noise=NEEDED_NOISE,  # codes are post-ReLU: without smoothing they have no density
                     blocks=BLOCKS, hidden=UNITS, clamp=CLAMP, epochs=EPOCHS, batch_size=BATCH, lr=LR, weight_decay=DECAY,
                     grad_clip=CLAMP, seed=SEED)  # fmt: skip


@torch.no_grad()
def nats_per_dim(flow: CodeFlow, h: torch.Tensor, seed: int = 0, batch: int = 2000) -> float:
    """Mean −log p_σ(h + σ·s·ε) / D on held-out codes (one noise draw)."""
    flow.eval()
    gen = torch.Generator().manual_seed(seed)
    dev = flow.mean.device
    total = sum(-flow.log_prob(flow.smooth(h[i : i + batch].to(dev), gen)).sum().item() for i in range(0, len(h), batch))
    return total / (len(h) * h.shape[1])


def train_flow_prior(
    config: FlowPriorTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 200,
    amp: str | None = None,
) -> tuple[CodeFlow, dict]:
    """Train, checkpointing to ``out``; saves ``out/flow-prior.safetensors`` with its card."""
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    dev = run.device
    steps, h_train, h_test, data_sha256 = encoded_sets(config, run, data_dir)  # (N, D) codes on the CPU
    flow = CodeFlow(CodeFlowConfig(dims=h_train.shape[1], blocks=config.blocks, hidden=config.hidden,
                                   clamp=config.clamp, noise=config.noise, seed=config.seed))  # fmt: skip
    flow.fit_statistics(h_train)
    flow.to(dev)
    trainable = [p for p in flow.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=config.lr * 0.02)
    log_prob = run.distribute(flow)  # the flow's forward is its log_prob

    def step(idx: torch.Tensor) -> torch.Tensor:
        flow.train()
        h = run.shard(flow.smooth(h_train[idx].to(dev), run.gen))
        loss = -log_prob(h).mean() / h_train.shape[1]  # nats per dim
        run.descend(loss, opt, sched, clip=config.grad_clip)
        return loss

    run.fit(len(h_train), step, dict(flow=flow, opt=opt, sched=sched), "train flow prior")
    flow.eval()
    # The Gaussian fitted to the same smoothed codes, the baseline a flow has to beat.
    smoothed = flow.smooth(h_test.to(dev), torch.Generator().manual_seed(0)).cpu().double()
    cov = torch.cov(h_train.double().T) + torch.diag(flow.unit_noise.cpu().double() ** 2)
    gauss = torch.distributions.MultivariateNormal(h_train.double().mean(0), covariance_matrix=cov)
    metrics = {
        "test_nats_per_dim": round(nats_per_dim(flow, h_test), 4),
        "gaussian_test_nats_per_dim": round(-gauss.log_prob(smoothed).mean().item() / h_test.shape[1], 4),
        "parameters": sum(p.numel() for p in trainable),
    }
    assert math.isfinite(metrics["test_nats_per_dim"])
    card = run.card(data_sha256, metrics)
    if run.main:
        save_model(flow, Path(out) / "flow-prior.safetensors", card)
    run.barrier()
    return flow, card
