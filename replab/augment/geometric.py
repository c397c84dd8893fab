"""Flip and rotate (RAD §4.4 nos. 7–8).

Only the chosen samples are gathered, transformed with the dense kernels (`flip`, `rot90`) and merged back:
measured faster on CPU than one `gather` with a per-sample index map (which reads an int64 index per pixel)
and than a `where` blend over a fully transformed copy (kornia's way), for uint8 and float32 alike.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import Params, bernoulli, channels_per_frame, check_probability, done, given, merge, randint


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
    idx = flip.nonzero().squeeze(1)
    return done(merge(x, idx, x.index_select(0, idx).flip(3)), params, return_params)


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
    idx = [(k == q).nonzero().squeeze(1) for q in (1, 2, 3)]
    turned = [x.index_select(0, i).rot90(q, (2, 3)) for q, i in zip((1, 2, 3), idx)]
    return done(merge(x, torch.cat(idx), torch.cat(turned)), params, return_params)
