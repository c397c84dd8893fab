"""Shared pieces of the augmentations: argument checks, per-sample random draws and the window kernel.

Every augmentation takes a batch `x` of shape (B, C·T, H, W): T stacked frames of C channels each, frame-major
(channel index t·C + c), as a frame-stacking wrapper produces it. One set of random parameters is drawn per
sample and shared by all T frames (RAD §4.4, seed001 §3.8 "stack consistency").
"""

from __future__ import annotations

import torch
from torch import Tensor

Params = dict[str, Tensor]


def channels_per_frame(x: Tensor, frames: int) -> int:
    """C for a batch (B, C·T, H, W) of `frames` = T stacked frames; ValueError when the shape does not fit."""
    if not isinstance(x, Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"expected a batch of shape (B, C*T, H, W), got {shape}")
    if not isinstance(frames, int) or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
    if x.shape[1] % frames != 0:
        raise ValueError(
            f"frames={frames} does not divide the {x.shape[1]} channels of the batch (expected C*T channels)"
        )
    return x.shape[1] // frames


def pair(size, name: str) -> tuple[int, int]:
    """(h, w) from an int or a pair of ints, each >= 1."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if not (isinstance(h, int) and isinstance(w, int)) or h < 1 or w < 1:
        raise ValueError(f"{name} must be a positive int or a pair of positive ints, got {size!r}")
    return h, w


def check_probability(p: float, name: str = "p") -> float:
    if not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {p!r}")
    return float(p)


def _device(generator: torch.Generator | None, x: Tensor) -> torch.device:
    # Draws happen on the generator's device (so a CPU generator gives the same parameters for CPU and CUDA
    # batches) and the parameters are then moved to the batch's device.
    return generator.device if generator is not None else x.device


def randint(high, n: int, generator: torch.Generator | None, x: Tensor) -> Tensor:
    """n integers uniform on {0, ..., high − 1}; `high` an int or a (n,) tensor of per-sample bounds."""
    dev = _device(generator, x)
    if isinstance(high, int):
        return torch.randint(0, high, (n,), generator=generator, device=dev).to(x.device)
    u = torch.rand(n, generator=generator, device=dev, dtype=torch.float64).to(x.device)
    return (u * high.to(torch.float64)).floor_().long().clamp_(max=high - 1)


def uniform(low: float, high: float, n: int, generator: torch.Generator | None, x: Tensor) -> Tensor:
    """n float32 numbers uniform on [low, high)."""
    u = torch.rand(n, generator=generator, device=_device(generator, x))
    return (low + (high - low) * u).to(x.device)


def bernoulli(p: float, n: int, generator: torch.Generator | None, x: Tensor) -> Tensor:
    """n booleans, True with probability p (u < p: p = 0 never, p = 1 always)."""
    return (torch.rand(n, generator=generator, device=_device(generator, x)) < p).to(x.device)


def given(params: Params, keys: tuple[str, ...], n: int) -> Params:
    """Check a `params=` dict passed back in (e.g. to reuse a placement on next_obs)."""
    missing = [k for k in keys if k not in params]
    if missing:
        raise ValueError(f"params is missing {missing}; expected the keys {list(keys)}")
    for k in keys:
        if params[k].shape[:1] != (n,):
            raise ValueError(
                f"params[{k!r}] has shape {tuple(params[k].shape)}, expected a leading dim of {n}"
            )
    return params


def crop_windows(x: Tensor, top: Tensor, left: Tensor, h: int, w: int) -> Tensor:
    """out[i] = x[i, :, top[i]:top[i]+h, left[i]:left[i]+w] for every i, as one gather of whole windows.

    A view of the flat storage whose first index is "the window starting at flat position k" (shape
    (N, C, h, w), strides (1, H·W, W, 1)) turns the per-sample crop into `index_select` along dim 0, which
    copies each window row by row: no Python loop over the batch, no per-element index arithmetic (seed001
    §2.8, anchors §8.5). Offsets must already be valid (0 <= top <= H − h, 0 <= left <= W − w).
    """
    B, C, H, W = x.shape
    x = x.contiguous()
    if B == 0:
        return x.new_empty(0, C, h, w)
    n = x.numel() - ((C - 1) * H * W + (h - 1) * W + (w - 1))
    windows = x.reshape(-1).as_strided((n, C, h, w), (1, H * W, W, 1))
    start = torch.arange(B, device=x.device) * (C * H * W) + top.to(x.device) * W + left.to(x.device)
    return windows.index_select(0, start)


def box_mask(
    top: Tensor, left: Tensor, height, width, H: int, W: int, dtype: torch.dtype, inside=True
) -> Tensor:
    """(B, 1, H, W) mask, 1 inside each sample's box [top, top+height) × [left, left+width) and 0 outside
    (the reverse with `inside=False`), built by broadcasting a (B, H) row test against a (B, W) column test."""
    rows = torch.arange(H, device=top.device)
    cols = torch.arange(W, device=top.device)
    if inside:
        r = (rows >= top[:, None]) & (rows < (top + height)[:, None])
        c = (cols >= left[:, None]) & (cols < (left + width)[:, None])
        return (r[:, None, :, None] & c[:, None, None, :]).to(dtype)
    r = (rows < top[:, None]) | (rows >= (top + height)[:, None])
    c = (cols < left[:, None]) | (cols >= (left + width)[:, None])
    return (r[:, None, :, None] | c[:, None, None, :]).to(dtype)


def merge(x: Tensor, idx: Tensor, values: Tensor) -> Tensor:
    """A copy of x whose samples `idx` are replaced by `values` (len(idx), ...).

    `index_copy_` writes element by element, which is slow for 1-byte data on CPU; there, concatenating the
    replacements behind x and gathering whole samples with `index_select` (memcpy per sample) is faster.
    """
    if x.device.type == "cpu" and x.element_size() == 1:
        src = torch.arange(x.shape[0], device=x.device)
        src[idx] = x.shape[0] + torch.arange(idx.numel(), device=x.device)
        return torch.cat([x, values]).index_select(0, src)
    return x.clone().index_copy_(0, idx, values)


def done(out: Tensor, params: Params, return_params: bool):
    return (out, params) if return_params else out
