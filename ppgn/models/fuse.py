"""Fold eval-mode BatchNorm into the layer before it: the same function with fewer passes.

Sampling runs the frozen networks forward and backward hundreds of times; a BatchNorm in
eval mode is an affine map per channel that can live inside the preceding convolution's or
linear layer's weights instead (y = γ·(Wx + b − μ)/σ + β).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def _fold_into_linear(linear: nn.Linear, bn: nn.BatchNorm2d, positions: int) -> nn.Linear:
    """Fold a BatchNorm2d applied to a Linear's output reshaped as (C, H, W), C·positions features."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C,)
    shift = bn.bias - bn.running_mean * scale
    scale, shift = scale.repeat_interleave(positions), shift.repeat_interleave(positions)
    fused = copy.deepcopy(linear)
    fused.weight.data = linear.weight * scale[:, None]
    fused.bias.data = linear.bias * scale + shift
    return fused


def _fold_into_shuffled_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d, factor: int) -> nn.Conv2d:
    """Fold a BatchNorm2d applied after PixelShuffle(factor) into the convolution before it: output
    channel c·factor² + k of the convolution becomes channel c of the shuffled map."""
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).repeat_interleave(factor**2)
    shift = (bn.bias - bn.running_mean * bn.weight / torch.sqrt(bn.running_var + bn.eps)).repeat_interleave(factor**2)
    fused = copy.deepcopy(conv)
    fused.weight.data = conv.weight * scale[:, None, None, None]
    fused.bias.data = (conv.bias if conv.bias is not None else torch.zeros_like(scale)) * scale + shift
    return fused


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (eval mode) with every Conv/ConvTranspose → BatchNorm2d pair inside an
    ``nn.Sequential`` fused, Conv → PixelShuffle → BatchNorm2d and Linear → Unflatten → BatchNorm2d
    too; other modules are kept."""
    model = copy.deepcopy(model).eval()
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        layers = list(seq.children())
        out, i = [], 0
        while i < len(layers):
            layer = layers[i]
            nxt = layers[i + 1] if i + 1 < len(layers) else None
            after = layers[i + 2] if i + 2 < len(layers) else None
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) and isinstance(nxt, nn.BatchNorm2d):
                out.append(fuse_conv_bn_eval(layer, nxt, transpose=isinstance(layer, nn.ConvTranspose2d)))
                i += 2
            elif isinstance(layer, nn.Conv2d) and isinstance(nxt, nn.PixelShuffle) and isinstance(after, nn.BatchNorm2d):
                out += [_fold_into_shuffled_conv(layer, after, nxt.upscale_factor), nxt]
                i += 3
            elif isinstance(layer, nn.Linear) and isinstance(nxt, nn.Unflatten) and isinstance(after, nn.BatchNorm2d):
                positions = layer.out_features // after.num_features
                out += [_fold_into_linear(layer, after, positions), nxt]
                i += 3
            else:
                out.append(layer)
                i += 1
        seq._modules.clear()
        for j, layer in enumerate(out):
            seq.add_module(str(j), layer)
    return model.requires_grad_(False)

