"""Recipe: train the noise-conditional prior on codes h = E(x) of the frozen encoder, by denoising
score matching over noise levels from broad to fine (prior kind "score", for an annealed chain).
No preset uses it yet: it tuned worse than joint-ppgn-h, and it has no command of its own; from Python:

    train_score_prior(ScorePriorTrainConfig(dataset="fashion-mnist"), "runs/fashion-mnist/score-prior")

Each step adds fresh noise σ·s·ε to real codes, σ log-uniform in [sigma_min, sigma_max] (s: each
unit's std), and the network learns to name ε (``CodeScore.loss``). The card records the held-out
loss at three levels, so a prior that learned nothing shows (a loss of 1 is guessing ε = 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..models import save_model
from ..models.score_prior import CodeScore, CodeScoreConfig
from .common import COUNT, NON_NEGATIVE, POSITIVE, SEED, check_fields, encoded_sets
from .loop import Run


@dataclass(frozen=True)
class ScorePriorTrainConfig:
    dataset: str = "fashion-mnist"
    classifier: str = "ppgn/weights/fashion-mnist/classifier.safetensors"
    hidden: int = 512
    depth: int = 3
    sigma_min: float = 0.02
    sigma_max: float = 3.0
    epochs: int = 60
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    grad_clip: float = 10.0
    seed: int = 0

    def __post_init__(self):
        check_fields(self, hidden=COUNT, depth=COUNT, sigma_min=POSITIVE, sigma_max=POSITIVE, epochs=COUNT,
                     batch_size=COUNT, lr=POSITIVE, weight_decay=NON_NEGATIVE, grad_clip=POSITIVE, seed=SEED)  # fmt: skip
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"--sigma-max must exceed --sigma-min, got {self.sigma_max} <= {self.sigma_min}")


@torch.no_grad()
def held_out_loss(net: CodeScore, h: torch.Tensor, sigma: float, seed: int = 0) -> float:
    """Mean ‖ε̂ − ε‖² on held-out codes at one level (1 = no better than predicting zero noise)."""
    gen = torch.Generator().manual_seed(seed)
    eps = torch.randn(h.shape, generator=gen).to(h.device)
    return (net(h + sigma * net.std * eps, sigma) - eps).square().mean().item()


def train_score_prior(
    config: ScorePriorTrainConfig,
    out: str | Path,
    data_dir: str | None = None,
    device: str | None = None,
    quiet: bool = False,
    checkpoint_every: int = 500,
    amp: str | None = None,
) -> tuple[CodeScore, dict]:
    """Train, checkpointing to ``out``; saves ``out/score-prior.safetensors`` with its card."""
    run = Run.start(config, out, device, quiet, checkpoint_every, amp)
    dev = run.device
    steps, h_train, h_test, data_sha256 = encoded_sets(config, run, data_dir)  # (N, D) codes on the CPU
    net = CodeScore(CodeScoreConfig(code_dim=h_train.shape[1], hidden=config.hidden, depth=config.depth,
                                    sigma_min=config.sigma_min, sigma_max=config.sigma_max))  # fmt: skip
    net.fit_statistics(h_train)
    net.to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=config.lr * 0.02)
    loss_of = run.distribute(net, CodeScore.loss)

    def step(idx: torch.Tensor) -> torch.Tensor:
        net.train()
        u, eps = torch.rand(len(idx), generator=run.gen), torch.randn(len(idx), h_train.shape[1], generator=run.gen)
        h, u, eps = (t.to(dev) for t in run.shard(h_train[idx], u, eps))  # drawn for the global batch, then this rank's rows
        loss = loss_of(h, net.sigmas(u), eps)
        run.descend(loss, opt, sched, clip=config.grad_clip)
        return loss

    run.fit(len(h_train), step, dict(net=net, opt=opt, sched=sched), "train score prior")
    net.eval()
    levels = (config.sigma_min, (config.sigma_min * config.sigma_max) ** 0.5, config.sigma_max)
    metrics = {f"test_loss_sigma_{s:.3g}": round(held_out_loss(net, h_test.to(dev), s), 4) for s in levels}
    metrics["parameters"] = sum(p.numel() for p in net.parameters())
    card = run.card(data_sha256, metrics)
    if run.main:
        save_model(net, Path(out) / "score-prior.safetensors", card)
    run.barrier()
    return net, card
