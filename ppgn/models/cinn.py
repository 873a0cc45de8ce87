"""The conditional invertible network (cINN) of Ardizzone et al. (2019), built on FrEIA.

    z = f(x; c),   log p(x | c) = log N(z; 0, I) + log |det ∂f/∂x|,   x = f⁻¹(z; c) with z ~ N(0, T²·I)

``f`` is a FrEIA ``SequenceINN`` of fixed random permutations and GLOW coupling blocks whose
sub-networks also receive the condition; the raw condition (a class index, or a grey image)
first passes through a conditioning network ``cond_net``, trained jointly by maximum likelihood.
Sub-networks start near the identity (Xavier init, last layer zero), and the log-scales are soft
clamped, s = clamp · 0.636·atan(s / clamp), as in the paper.

Three shapes of condition share this one class:

* ``"class"``: one-hot (B, K) → small MLP → (B, cond_features). With ``layout="fc"``, fully
  connected sub-networks on flattened x. With ``layout="multiscale"`` (MNIST, Fashion-MNIST),
  x (1, 28, 28) is Haar-downsampled twice, to (4, 14, 14) and then (16, 7, 7), with convolutional
  couplings at each scale (the class features broadcast over the pixels), and fully connected
  couplings on the flattened result: local strokes first, then the global shape.
  With ``layout="pyramid"``, x is split by a Haar pyramid into a thumbnail (7×7 for MNIST) and
  detail bands, and the density factorises exactly, log p(x | c) = log p(s | c) + Σₗ log p(dₗ | aₗ, c):
  a fully connected flow on the thumbnail s given the class, and per level a convolutional flow on
  the details dₗ given the class and the low-pass image aₗ they refine. The class enters where it
  decides most, the global shape; details are drawn to fit the thumbnail drawn first.
* ``"image"``: a grey image (B, 1, H, W) → small CNN → (B, cond_features, H/2, W/2); x (B, C, H, W)
  is Haar-downsampled and the sub-networks are convolutional (colourisation).
* ``"none"``: unconditional, fully connected (the flow prior on codes h).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import log, pi, prod

import FrEIA.framework as Ff
import FrEIA.modules as Fm
import numpy as np
import torch
from torch import nn

CONDITIONS = ("class", "image", "none")
LAYOUTS = ("fc", "multiscale", "pyramid")


@dataclass(frozen=True)
class CINNConfig:
    x_shape: tuple[int, ...] = (1, 28, 28)  # what the flow models; z has prod(x_shape) dims
    condition: str = "class"  # "class", "image" or "none"
    num_classes: int = 10  # for "class"
    cond_features: int = 32  # width (or channels) of the conditioning network's output
    blocks: int = 8  # permute + GLOW coupling blocks (each coupling transforms both halves once)
    hidden: int = 96  # sub-network width (channels for convolutional sub-networks)
    clamp: float = 1.0  # soft clamp on the log-scales (the authors' MNIST value)
    seed: int = 0  # of the fixed random permutations
    logit_alpha: float = 0.05  # pixels y in [0, 1] enter as logit(α + (1 − 2α)·y) (RealNVP); 0 = as given
    dequantisation_noise: float = 0.0  # σ of the Gaussian noise on y it was trained with (0: uniform); see `denoise`
    levels: int = 1  # "image" only: Haar levels; with 2 the later half of the blocks work at H/4 (coherent colour)
    layout: str = "fc"  # "class" only: "fc", "multiscale" (conv_blocks at H/2 and H/4, then `blocks` fully connected)
    #                     or "pyramid" (conv_blocks on the detail bands at H/2, H/4, then `blocks` fc on the thumbnail)
    conv_blocks: tuple[int, ...] = (4, 4)  # "multiscale", "pyramid": coupling blocks at H/2, H/4, ...
    conv_hidden: tuple[int, ...] = (64, 128)  # "multiscale", "pyramid": their sub-networks' channels

    @property
    def dims(self) -> int:
        return prod(self.x_shape)


def pixels_to_flow(pixels: torch.Tensor, noise: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Dequantise 8-bit pixels and map them to the flow's input space.

    y = (u + noise) / 256 ∈ [0, 1], then x = logit(α + (1 − 2α)·y) (x = y if α = 0).

    Args:
        pixels: u, values 0..255 as float, (B, ...).
        noise: the dequantisation noise in pixel units, same shape (uniform in [0, 1) for likelihoods).

    Returns:
        x, and log|det ∂x/∂y| (B,), which the change of variables adds to log p(x).
    """
    y = (pixels + noise) / 256.0
    if alpha == 0:
        return y, torch.zeros(len(y), dtype=y.dtype, device=y.device)
    s = alpha + (1 - 2 * alpha) * y
    x = torch.log(s) - torch.log1p(-s)
    log_det = (log(1 - 2 * alpha) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
    return x, log_det


def flow_to_pixels(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """The inverse of ``pixels_to_flow`` without the noise: y ∈ [0, 1] (clamped)."""
    y = x if alpha == 0 else (torch.sigmoid(x) - alpha) / (1 - 2 * alpha)
    return y.clamp(0, 1)


def bits_per_dim(log_px: torch.Tensor, log_det: torch.Tensor, dims: int) -> torch.Tensor:
    """Bits per dimension in the discrete 8-bit space, (B,): −(log p(x) + log|∂x/∂y| − D·log 256) / (D·log 2).

    With uniform dequantisation this is an upper bound on the discrete model's −log₂ P(u) / D
    (Theis et al., 2016): y = (u + noise)/256 has density p(y) = p(x)·|∂x/∂y| and each 8-bit cell has
    volume 256^−D in y.
    """
    return -(log_px + log_det - dims * log(256.0)) / (dims * log(2.0))


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) of each row of z (B, D), (B,)."""
    return -0.5 * (z**2).sum(1) - 0.5 * z.shape[1] * log(2 * pi)


def _init_subnet(net: nn.Sequential) -> nn.Sequential:
    """Xavier-initialised layers, the last one zero: every coupling starts as the identity."""
    layers = [m for m in net if isinstance(m, (nn.Linear, nn.Conv2d))]
    for m in layers[:-1]:
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    return net


def fc_subnet(hidden: int):
    """FrEIA subnet constructor: (B, c_in) → (B, c_out) through one hidden layer."""
    return lambda c_in, c_out: _init_subnet(nn.Sequential(nn.Linear(c_in, hidden), nn.ReLU(), nn.Linear(hidden, c_out)))


def conv_subnet(hidden: int):
    """FrEIA subnet constructor: (B, c_in, H, W) → (B, c_out, H, W), 3×3 then 1×1 then 3×3."""
    return lambda c_in, c_out: _init_subnet(
        nn.Sequential(
            nn.Conv2d(c_in, hidden, 3, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, c_out, 3, padding=1),
        )
    )  # fmt: skip


class CINN(nn.Module):
    """A conditional INN: ``forward(x, c) -> (z (B, D), log|det J| (B,))``, ``rev=True`` inverts."""

    def __init__(self, config: CINNConfig = CINNConfig()):
        super().__init__()
        if config.condition not in CONDITIONS:
            raise ValueError(f"unknown condition {config.condition!r}; valid: {', '.join(CONDITIONS)}")
        if config.levels not in (1, 2):
            raise ValueError(f"levels must be 1 or 2, got {config.levels}")
        if config.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {config.layout!r}; valid: {', '.join(LAYOUTS)}")
        if config.dequantisation_noise and config.logit_alpha:  # the noise (and `denoise`) lives on the pixels y
            raise ValueError("Gaussian dequantisation_noise needs a flow on the pixels: logit_alpha = 0")
        if len(config.conv_blocks) != len(config.conv_hidden):
            raise ValueError(f"conv_blocks {config.conv_blocks} and conv_hidden {config.conv_hidden} need one entry per scale")
        self.config = config
        k, f = config.num_classes, config.cond_features
        if config.condition == "class":
            self.cond_net = nn.Sequential(nn.Linear(k, 64), nn.ReLU(), nn.Linear(64, f))
            shape, cond_shape, subnet = (config.dims,), (f,), fc_subnet(config.hidden)
        elif config.condition == "image":
            c, h, w = config.x_shape
            self.cond_net = nn.Sequential(  # grey (B, 1, H, W) → (B, f, H/2, W/2), aligned with the Haar output
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                nn.Conv2d(32, 48, 3, padding=1, stride=2), nn.ReLU(),
                nn.Conv2d(48, 48, 3, padding=2, dilation=2), nn.ReLU(),
                nn.Conv2d(48, f, 3, padding=1),
            )  # fmt: skip
            shape, cond_shape, subnet = (c, h, w), (f, h // 2, w // 2), conv_subnet(config.hidden)
        else:
            self.cond_net = None
            shape, cond_shape, subnet = (config.dims,), None, fc_subnet(config.hidden)
        if self.pyramid and any(n % (1 << len(config.conv_blocks)) for n in config.x_shape[1:]):
            raise ValueError(f"the pyramid layout halves {config.x_shape[1:]} {len(config.conv_blocks)} times: sizes must divide by {1 << len(config.conv_blocks)}")
        numpy_state = np.random.get_state()  # FrEIA's PermuteRandom reseeds NumPy's global RNG
        if config.condition == "class" and config.layout == "multiscale":
            self._build_multiscale()
        elif self.pyramid:
            self._build_pyramid()
        else:
            self._build_single_scale(shape, cond_shape, subnet)
        np.random.set_state(numpy_state)

    @property
    def pyramid(self) -> bool:
        return self.config.condition == "class" and self.config.layout == "pyramid"

    def _coupling(self, index: int, subnet, cond: int | None, cond_shape: tuple[int, ...] | None, flow=None) -> None:
        """Append one fixed random permutation and one GLOW coupling block (conditioned on ``cond``) to ``flow``."""
        c = self.config
        flow = self.flow if flow is None else flow
        flow.append(Fm.PermuteRandom, seed=c.seed * 1000 + index)
        kwargs = {} if cond is None else {"cond": cond, "cond_shape": cond_shape}
        flow.append(Fm.GLOWCouplingBlock, subnet_constructor=subnet, clamp=c.clamp, **kwargs)

    def _build_single_scale(self, shape, cond_shape, subnet) -> None:
        config = self.config
        self.flow = Ff.SequenceINN(*shape)
        if config.condition == "image":
            self.flow.append(Fm.HaarDownsampling)
        second_level = config.blocks - config.blocks // 2 if config.condition == "image" and config.levels == 2 else config.blocks
        for i in range(config.blocks):
            if i == second_level:  # a second Haar level; its blocks see the condition average-pooled to match
                self.flow.append(Fm.HaarDownsampling)
                cond_shape = (cond_shape[0], cond_shape[1] // 2, cond_shape[2] // 2)
            self._coupling(i, subnet, None if cond_shape is None else int(i >= second_level), cond_shape)

    def _build_multiscale(self) -> None:
        """Haar → conv couplings at each scale (condition index = scale), then fully connected couplings."""
        config = self.config
        c, h, w = config.x_shape
        f = config.cond_features
        self.flow = Ff.SequenceINN(c, h, w)
        index = 0
        for scale, (blocks, hidden) in enumerate(zip(config.conv_blocks, config.conv_hidden)):
            self.flow.append(Fm.HaarDownsampling)
            h, w = h // 2, w // 2
            for _ in range(blocks):
                self._coupling(index, conv_subnet(hidden), scale, (f, h, w))
                index += 1
        self.flow.append(Fm.Flatten)
        for _ in range(config.blocks):
            self._coupling(index, fc_subnet(config.hidden), len(config.conv_blocks), (f,))
            index += 1

    def _build_pyramid(self) -> None:
        """Per Haar level l, a conv flow on the details (3C, H/2ˡ, W/2ˡ) given [context(aₗ), class];
        then a fully connected flow on the thumbnail given the class."""
        config = self.config
        c, h, w = config.x_shape
        f = config.cond_features
        self.haar = nn.ModuleList()  # orthonormal (rebalance 1): log|det| = 0; low-pass channels first
        self.detail_flows = nn.ModuleList()
        self.context_nets = nn.ModuleList()  # aₗ (B, C, h, w) → (B, f, h, w): what the details refine
        index = 0
        for blocks, hidden in zip(config.conv_blocks, config.conv_hidden):
            self.haar.append(Fm.HaarDownsampling([(c, h, w)], order_by_wavelet=True, rebalance=1.0))
            h, w = h // 2, w // 2
            flow = Ff.SequenceINN(3 * c, h, w)
            for _ in range(blocks):
                self._coupling(index, conv_subnet(hidden), 0, (2 * f, h, w), flow)
                index += 1
            self.detail_flows.append(flow)
            self.context_nets.append(
                nn.Sequential(
                    nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(),
                    nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
                    nn.Conv2d(32, f, 3, padding=1),
                )
            )  # fmt: skip
        self.flow = Ff.SequenceINN(c * h * w)  # the thumbnail
        for _ in range(config.blocks):
            self._coupling(index, fc_subnet(config.hidden), 0, (f,))
            index += 1

    def _band_condition(self, level: int, low: torch.Tensor, features: torch.Tensor) -> list[torch.Tensor]:
        """What level ``level``'s detail couplings see: [context(aₗ), class features broadcast], (B, 2f, h, w)."""
        return [torch.cat([self.context_nets[level](low), features[:, :, None, None].expand(-1, -1, *low.shape[2:])], 1)]

    def _haar_pyramid(self, x: torch.Tensor) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
        """x (B, *x_shape) → (thumbnail, [(aₗ, dₗ) for each level, fine → coarse]); orthonormal, no volume change."""
        channels = self.config.x_shape[0]
        low, levels = x.reshape(len(x), *self.config.x_shape), []
        for haar in self.haar:
            (bands,), _ = haar([low], jac=False)
            low = bands[:, :channels]
            levels.append((low, bands[:, channels:]))
        return low, levels

    def _pyramid(self, x: torch.Tensor, features: torch.Tensor, rev: bool, jac: bool):
        """z = [z_thumbnail, z_details coarse → fine]; the inverse draws the thumbnail, then each finer band."""
        channels = self.config.x_shape[0]
        if not rev:
            thumbnail, levels = self._haar_pyramid(x)
            z, log_det = self.flow(thumbnail.flatten(1), c=[features], jac=jac)
            codes = [z]
            for level in reversed(range(len(levels))):
                low, details = levels[level]
                z, band_log_det = self.detail_flows[level](details, c=self._band_condition(level, low, features), jac=jac)
                codes.append(z.flatten(1))
                log_det = log_det + band_log_det
            return torch.cat(codes, 1), log_det
        x = x.reshape(len(x), -1)
        thumb_dims = self.flow.shapes[0][0]
        low, log_det = self.flow(x[:, :thumb_dims], c=[features], rev=True, jac=jac)
        low = low.reshape(len(x), channels, *self.detail_flows[-1].shapes[0][1:])
        start = thumb_dims
        for level in reversed(range(len(self.haar))):
            shape = self.detail_flows[level].shapes[0]
            z = x[:, start : start + prod(shape)].reshape(len(x), *shape)
            start += prod(shape)
            details, band_log_det = self.detail_flows[level](z, c=self._band_condition(level, low, features), rev=True, jac=jac)
            (low,), _ = self.haar[level]([torch.cat([low, details], 1)], rev=True, jac=False)
            log_det = log_det + band_log_det
        return low, log_det

    def condition(self, c: torch.Tensor | None) -> list[torch.Tensor]:
        """Raw condition → what the coupling blocks receive: class indices (B,) or grey images (B, 1, H, W)."""
        if self.cond_net is None:
            return []
        if self.config.condition == "class":
            c = nn.functional.one_hot(c.long(), self.config.num_classes).to(self.cond_net[0].weight.dtype)
        features = self.cond_net(c)
        if self.config.condition == "class" and self.config.layout == "multiscale":  # broadcast over each scale's pixels
            _, h, w = self.config.x_shape
            maps = [features[:, :, None, None].expand(-1, -1, h >> (s + 1), w >> (s + 1)) for s in range(len(self.config.conv_blocks))]
            return [*maps, features]
        if self.config.condition == "image" and self.config.levels == 2:
            return [features, nn.functional.avg_pool2d(features, 2)]
        return [features]

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None, rev: bool = False, jac: bool = True):
        """x (B, *x_shape) → (z (B, D), log|det ∂z/∂x| (B,)); with ``rev=True``, z (B, D) → (x, log|det ∂x/∂z|)."""
        cond = self.condition(c)
        if self.pyramid:
            return self._pyramid(x, cond[0], rev, jac)
        if rev:
            out, log_det = self.flow(x.reshape(-1, *self.flow.shapes[-1]), c=cond, rev=True, jac=jac)
            return out.reshape(-1, *self.config.x_shape), log_det
        out, log_det = self.flow(x.reshape(-1, *self.flow.shapes[0]), c=cond, jac=jac)
        return out.reshape(len(x), -1), log_det

    def log_prob(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x | c) in the flow's input space, (B,) nats (change of variables)."""
        z, log_det = self(x, c)
        return standard_normal_log_prob(z) + log_det

    def log_prob_all_classes(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x | c) for every class c, (B, K), in one batched pass; softmax over dim 1 is p(c | x)."""
        k = self.config.num_classes
        classes = torch.arange(k, device=x.device).repeat_interleave(len(x))
        return self.log_prob(x.repeat(k, *([1] * (x.dim() - 1))), classes).view(k, len(x)).T

    def thumbnail_log_prob_all_classes(self, x: torch.Tensor) -> torch.Tensor:
        """Pyramid only: log p(s | c) of x's thumbnail s for every class c, (B, K).

        Its softmax is the posterior of the global shape alone; K passes through the small
        thumbnail flow cost far less than K passes through the whole model.
        """
        if not self.pyramid:
            raise ValueError(f"the thumbnail posterior needs layout='pyramid', not {self.config.layout!r}")
        k = self.config.num_classes
        thumbnail, _ = self._haar_pyramid(x)
        features = self.condition(torch.arange(k, device=x.device))[0].repeat_interleave(len(x), 0)
        z, log_det = self.flow(thumbnail.flatten(1).repeat(k, 1), c=[features])
        return (standard_normal_log_prob(z) + log_det).view(k, len(x)).T

    def denoise(self, y: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Tweedie's formula, E[y₀ | y] = y + σ²·∇_y log p(y | c), with the flow's exact score.

        A flow trained on y = y₀ + N(0, σ²) (Gaussian dequantisation, logit_alpha = 0) models noisy
        images, so its samples carry that noise; this removes it. Identity when σ = 0.
        """
        sigma = self.config.dequantisation_noise
        if not sigma:
            return y
        with torch.enable_grad():
            y = y.detach().requires_grad_(True)
            (score,) = torch.autograd.grad(self.log_prob(y, c).sum(), y)
        return (y + sigma**2 * score).detach()

    def sample(self, c: torch.Tensor | None, num: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """x = f⁻¹(T·z; c), z ~ N(0, I) drawn on the CPU from ``generator``: (num, *x_shape)."""
        weight = next(p for p in self.parameters() if p.is_floating_point())  # (permutations are integer parameters)
        z = torch.randn(num, self.config.dims, generator=generator, dtype=weight.dtype).to(weight.device) * temperature
        return self(z, c, rev=True, jac=False)[0]


# Likelihood in 8-bit pixel space: the measure of training and evaluation alike.


def dequantise(pixels: torch.Tensor, kind: str, sigma: float, generator: torch.Generator) -> torch.Tensor:
    """Noise in pixel units: uniform in [0, 1), or 0.5 + N(0, (256σ)²), drawn on the CPU.

    Gaussian noise is not clipped to [0, 256): clipping would pile half the background's noise onto
    y = 0 exactly, a point mass the flow could fit with unbounded likelihood. So it needs a flow on
    y itself (logit_alpha = 0), as in the authors' recipe.
    """
    if kind == "uniform":
        return torch.rand(pixels.shape, generator=generator).to(pixels.device)
    return (0.5 + 256.0 * sigma * torch.randn(pixels.shape, generator=generator)).to(pixels.device)


def nll_bits(model: CINN, pixels: torch.Tensor, labels: torch.Tensor | None, noise: torch.Tensor) -> torch.Tensor:
    """Bits/dim of each image (B,) at the given dequantisation noise."""
    x, log_det_pre = pixels_to_flow(pixels, noise, model.config.logit_alpha)
    return bits_per_dim(model.log_prob(x, labels), log_det_pre, model.config.dims)


@torch.no_grad()
def evaluate_bits_per_dim(model: CINN, images, labels, seed: int = 0, batch: int = 500) -> float:
    """Mean bits/dim on a dataset (uint8 (N, H, W) images), uniform dequantisation, one noise draw."""
    model.eval()
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    pixels = torch.as_tensor(images).float().unsqueeze(1)  # (N, 1, H, W)
    labels = torch.as_tensor(labels)
    total = 0.0
    for i in range(0, len(pixels), batch):
        u = pixels[i : i + batch].to(device)
        total += nll_bits(model, u, labels[i : i + batch].to(device), dequantise(u, "uniform", 0, gen)).sum().item()
    return total / len(pixels)
