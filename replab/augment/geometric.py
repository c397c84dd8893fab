"""Flip and rotate (RAD §4.4 nos. 7–8): per-sample pixel permutations, done as one `gather` per batch."""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import Params, bernoulli, channels_per_frame, check_probability, done, given, merge, randint


def _gather_is_slow(x: Tensor) -> bool:
    # gather reads an int64 index per element: for 1-byte data on CPU, transforming only the selected samples
    # with the dense kernels (flip, rot90) and merging them back is several times faster.
    return x.device.type == "cpu" and x.element_size() == 1


def random_flip(
    x: Tensor,
    p: float = 0.5,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """Mirror left–right (the width axis) with probability p per sample, all its frames alike.

    §4.8: `mask = rand(n) < p; imgs[mask] = imgs[mask].flip([3])` with p = 0.5 (RAD's repository used
    p = 0.2). params: `flip` (B,) bool.
    """
    channels_per_frame(x, frames)
    check_probability(p)
    B, CT, H, W = x.shape
    if params is None:
        params = {"flip": bernoulli(p, B, generator, x)}
    flip = given(params, ("flip",), B)["flip"].to(x.device)
    if _gather_is_slow(x):
        idx = flip.nonzero().squeeze(1)
        return done(merge(x, idx, x.index_select(0, idx).flip(3)), params, return_params)
    j = torch.arange(W, device=x.device)
    cols = torch.where(flip[:, None], W - 1 - j, j)  # (B, W): source column of each output column
    out = x.gather(3, cols[:, None, None, :].expand(B, CT, H, W))
    return done(out, params, return_params)


def _rotation_maps(side: int, device) -> Tensor:
    """(4, side·side): flat source index of each output pixel after k counter-clockwise quarter turns."""
    grid = torch.arange(side * side, device=device).view(side, side)
    return torch.stack([grid.rot90(k, (0, 1)).reshape(-1) for k in range(4)])


def random_rotate(
    x: Tensor,
    p: float = 0.3,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """Rotate by k ∈ {1, 2, 3} quarter turns (counter-clockwise, as `torch.rot90`) with probability p.

    RAD's code: with probability p = 0.3 rotate by k ~ {1, 2, 3} uniformly, else keep (k = 0). The thesis
    text says "an angle from {0°, 90°, 180°, 270°}", i.e. uniform over four, which is `p=0.75`. Needs square
    frames. params: `k` (B,) int64 in 0..3.
    """
    channels_per_frame(x, frames)
    check_probability(p)
    B, CT, H, W = x.shape
    if H != W:
        raise ValueError(f"random_rotate needs square frames, got {H}x{W}")
    if params is None:
        apply = bernoulli(p, B, generator, x)
        k = 1 + randint(3, B, generator, x)
        params = {"k": torch.where(apply, k, torch.zeros_like(k))}
    k = given(params, ("k",), B)["k"].to(x.device)
    if _gather_is_slow(x):
        idx = [(k == q).nonzero().squeeze(1) for q in (1, 2, 3)]
        turned = [x.index_select(0, i).rot90(q, (2, 3)) for q, i in zip((1, 2, 3), idx)]
        return done(merge(x, torch.cat(idx), torch.cat(turned)), params, return_params)
    index = _rotation_maps(H, x.device)[k]  # (B, H·W)
    out = x.reshape(B, CT, H * W).gather(2, index[:, None, :].expand(B, CT, H * W))
    return done(out.view(B, CT, H, W), params, return_params)
