"""Zero-shot structured pruning of a pretrained bottleneck ResNet (PRUNE, seed002 §3.2).

Two modes, both by weight magnitude and without data (zero-shot):

- `filter` (the paper's "convolutional filter pruning"): in every bottleneck block, remove the fraction
  `ratio` of the *inner* filters with the smallest ‖F‖ — the outputs of conv1 (1×1) and conv2 (3×3), with
  their batch-norm entries and the matching input channels of the next conv. The block outputs that join
  the residual stream are kept, so the embedding keeps its size ("keeping the representation space size
  unchanged", §3.2).
- `channel` (the comparison, "channel pruning"): remove the fraction `ratio` of each stage's *residual*
  channels, scored by the summed ‖F‖ of every filter writing to that channel (each block's conv3 and the
  stage's shortcut conv): the channel leaves conv3, bn3, the shortcut and every consumer (the next stage's
  conv1 and shortcut), so the embedding shrinks.

`prune_masks` marks the filters with `torch.nn.utils.prune` (`ln_structured` per conv for `filter`, whose
ranking is per layer; `custom_from_mask` for `channel`, whose ranking spans several layers, and for the
batch-norm entries, whose scale and shift are masked too, so a masked channel outputs exactly 0).
`remove_pruned` then rebuilds every pruned conv and norm with only the kept channels: the FLOP saving is
real (`replab.nn.count.flops` and `torch.utils.flop_counter` both see the smaller network), and the eval
outputs equal the masked model's. `zero_shot_prune` does both.

The norm: ‖F‖₁ as in Li et al. 2017 [K]; `norm=2` is the alternative the spec keeps configurable. The ratio
is uniform per layer [K]; at least one filter is always kept.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from torch.nn.utils import prune

from replab.nn.resnet import Bottleneck, ResNet

MODES = ("filter", "channel")


def _check(model: nn.Module, mode: str, ratio: float, norm: int) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not (isinstance(ratio, (int, float)) and 0 <= ratio < 1):
        raise ValueError(f"ratio must be in [0, 1) (the fraction of filters removed), got {ratio!r}")
    if norm not in (1, 2):
        raise ValueError(f"norm must be 1 (L1, Li et al. 2017) or 2, got {norm!r}")
    if not isinstance(model, ResNet) or not all(isinstance(b, Bottleneck) for b in _blocks(model)):
        raise ValueError(
            f"zero-shot pruning needs a replab.nn.resnet.ResNet of Bottleneck blocks, got {type(model).__name__}"
        )
    if any(isinstance(m, nn.GroupNorm) for m in model.modules()):
        raise ValueError("zero-shot pruning needs batch norm (norm='batch'); GroupNorm mixes channels")


def _blocks(model: ResNet) -> list[nn.Module]:
    return [b for name in model.stage_names for b in getattr(model, name)]


def _n_keep(n: int, ratio: float) -> int:
    """Filters kept when `ratio` of `n` are removed (at least one)."""
    return max(1, n - int(math.floor(ratio * n + 1e-9)))


def _filter_scores(conv: nn.Conv2d, norm: int) -> torch.Tensor:
    w = conv.weight.detach()
    return w.abs().flatten(1).sum(1) if norm == 1 else w.flatten(1).norm(dim=1)


def _mask_bn(bn: nn.BatchNorm2d, keep: torch.Tensor) -> None:
    for name in ("weight", "bias"):
        prune.custom_from_mask(bn, name, keep.to(bn.weight.dtype))


def _mask_rows(conv: nn.Conv2d, keep: torch.Tensor) -> None:
    """Mask whole output filters of `conv` (dim 0)."""
    mask = keep.to(conv.weight.dtype).view(-1, *([1] * (conv.weight.dim() - 1))).expand_as(conv.weight)
    prune.custom_from_mask(conv, "weight", mask.contiguous())


def prune_masks(model: ResNet, mode: str, ratio: float, *, norm: int = 1) -> ResNet:
    """Mark the pruned filters with `torch.nn.utils.prune` masks, in place (the model keeps its shapes).

    Returns `model`. Ratio 0 adds no masks (the identity)."""
    _check(model, mode, ratio, norm)
    if ratio == 0:
        return model
    if mode == "filter":
        for blk in _blocks(model):
            for conv, bn in ((blk.conv1, blk.bn1), (blk.conv2, blk.bn2)):
                n = conv.out_channels
                # PRUNE §3.2: per-layer magnitude ranking of output filters (dim 0)
                prune.ln_structured(conv, "weight", amount=n - _n_keep(n, ratio), n=norm, dim=0)
                _mask_bn(bn, conv.weight_mask.flatten(1)[:, 0] > 0)
        return model
    for name in model.stage_names:
        stage = getattr(model, name)
        writers = [b.conv3 for b in stage] + [b.downsample[0] for b in stage if b.downsample is not None]
        score = sum(_filter_scores(c, norm) for c in writers)
        n = score.numel()
        keep = torch.zeros(n, dtype=torch.bool)
        keep[torch.topk(score, _n_keep(n, ratio)).indices] = True
        for b in stage:
            _mask_rows(b.conv3, keep)
            _mask_bn(b.bn3, keep)
            if b.downsample is not None:
                _mask_rows(b.downsample[0], keep)
                _mask_bn(b.downsample[1], keep)
    return model


def _kept(module: nn.Module) -> torch.Tensor | None:
    """Indices of the output channels a masked conv or norm keeps (None: not masked)."""
    mask = getattr(module, "weight_mask", None)
    if mask is None:
        return None
    return torch.nonzero(mask.flatten(1)[:, 0] > 0 if mask.dim() > 1 else mask > 0).flatten()


def _slice_conv(conv: nn.Conv2d, out_idx=None, in_idx=None) -> nn.Conv2d:
    w = conv.weight.detach()  # weight_orig × mask when masked
    if out_idx is not None:
        w = w[out_idx]
    if in_idx is not None:
        w = w[:, in_idx]
    new = nn.Conv2d(
        w.shape[1],
        w.shape[0],
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        bias=conv.bias is not None,
    )
    with torch.no_grad():
        new.weight.copy_(w)
        if conv.bias is not None:
            new.bias.copy_(conv.bias.detach() if out_idx is None else conv.bias.detach()[out_idx])
    return new.to(conv.weight.device).train(conv.training)


def _slice_bn(bn: nn.BatchNorm2d, idx) -> nn.BatchNorm2d:
    new = nn.BatchNorm2d(len(idx), bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
    with torch.no_grad():
        new.weight.copy_(bn.weight.detach()[idx])
        new.bias.copy_(bn.bias.detach()[idx])
        new.running_mean.copy_(bn.running_mean[idx])
        new.running_var.copy_(bn.running_var[idx])
        new.num_batches_tracked.copy_(bn.num_batches_tracked)
    return new.to(bn.weight.device).train(bn.training)


def remove_pruned(model: ResNet) -> ResNet:
    """Rebuild every masked conv and norm with only its kept channels (and its consumers with only the
    matching input channels), in place; returns `model` without any pruning mask. Eval outputs are
    unchanged: a masked channel was exactly 0 after its norm."""
    prev_kept = None  # kept residual channels entering the current stage (None: all)
    for name in model.stage_names:
        stage = getattr(model, name)
        stage_kept = _kept(stage[0].conv3)
        for i, b in enumerate(stage):
            k_in = prev_kept if i == 0 else stage_kept
            k1, k2 = _kept(b.conv1), _kept(b.conv2)
            b.conv1 = _slice_conv(b.conv1, k1, k_in)
            b.bn1 = _slice_bn(b.bn1, k1) if k1 is not None else b.bn1
            b.conv2 = _slice_conv(b.conv2, k2, k1)
            b.bn2 = _slice_bn(b.bn2, k2) if k2 is not None else b.bn2
            b.conv3 = _slice_conv(b.conv3, stage_kept, k2)
            b.bn3 = _slice_bn(b.bn3, stage_kept) if stage_kept is not None else b.bn3
            if b.downsample is not None:
                conv = _slice_conv(b.downsample[0], stage_kept, k_in)
                bn = b.downsample[1]
                bn = _slice_bn(bn, stage_kept) if stage_kept is not None else bn
                b.downsample = nn.Sequential(conv, bn)
        prev_kept = stage_kept
    if prev_kept is not None:
        model.out_channels = len(prev_kept)
        if model.fc is not None:
            fc = nn.Linear(len(prev_kept), model.fc.out_features)
            with torch.no_grad():
                fc.weight.copy_(model.fc.weight.detach()[:, prev_kept])
                fc.bias.copy_(model.fc.bias.detach())
            model.fc = fc.to(model.fc.weight.device).train(model.fc.training)
    return model


def zero_shot_prune(model: ResNet, mode: str, ratio: float, *, norm: int = 1) -> ResNet:
    """A pruned copy of `model` (the original is untouched): masks by magnitude, then the pruned channels
    removed physically. Ratio 0 returns an unchanged copy."""
    _check(model, mode, ratio, norm)
    return remove_pruned(prune_masks(copy.deepcopy(model), mode, ratio, norm=norm))


def embedding_size(model: ResNet) -> int:
    """Channels of the pooled representation (the input of the classifier)."""
    return model.out_channels
