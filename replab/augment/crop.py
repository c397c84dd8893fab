"""Crop, translate, window (RAD §4.4 nos. 1–3) and DrQ's shift, with their deterministic evaluation views.

All of them move or hide whole windows, so they work on any dtype (uint8 stays uint8) and are exact: every
output pixel is an input pixel or zero (or, for shift, a replicated border pixel).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import Params, box_mask, channels_per_frame, crop_windows, done, given, pair, randint


def _fits(inner: tuple[int, int], outer: tuple[int, int], what: str) -> None:
    if inner[0] > outer[0] or inner[1] > outer[1]:
        raise ValueError(f"{what}: {inner[0]}x{inner[1]} does not fit in {outer[0]}x{outer[1]}")


def random_crop(
    x: Tensor,
    size,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    inclusive_upper: bool = True,
    return_params: bool = False,
    params: Params | None = None,
):
    """A random size×size window of each sample: (B, C·T, H, W) -> (B, C·T, h, w).

    RAD §4.8: `top, left ~ randint(0, H − h + 1)`, one box per sample shared by its frames. The thesis's CURL
    snippet draws `randint(0, H − h)`, so the last offset is never drawn (seed001 §2.8 [!]); pass
    `inclusive_upper=False` for that behaviour. params: `top`, `left` (B,) int64.
    """
    channels_per_frame(x, frames)
    B, _, H, W = x.shape
    h, w = pair(size, "size")
    _fits((h, w), (H, W), "random_crop size")
    if params is None:
        extra = 1 if inclusive_upper else 0
        left = randint(max(W - w + extra, 1), B, generator, x)
        top = randint(max(H - h + extra, 1), B, generator, x)
        params = {"top": top, "left": left}
    given(params, ("top", "left"), B)
    return done(crop_windows(x, params["top"], params["left"], h, w), params, return_params)


def center_crop(
    x: Tensor, size, *, generator: torch.Generator | None = None, frames: int = 1, return_params=False
):
    """The central size×size window, the evaluation view for crop (seed001 §2.8: "never a resize").

    Offsets `(H − h) // 2`, `(W − w) // 2` as in RAD's `center_crop_image`. `generator` is unused.
    """
    channels_per_frame(x, frames)
    B, _, H, W = x.shape
    h, w = pair(size, "size")
    _fits((h, w), (H, W), "center_crop size")
    top, left = (H - h) // 2, (W - w) // 2
    out = x[:, :, top : top + h, left : left + w].contiguous()
    full = torch.full((B,), 0, dtype=torch.long, device=x.device)
    return done(out, {"top": full + top, "left": full + left}, return_params)


def _place(x: Tensor, top: Tensor, left: Tensor, sh: int, sw: int) -> Tensor:
    # Placing x at (top, left) of a zero canvas = cropping the canvas-sized window at (ph − top, pw − left) of x
    # zero-padded by (ph, pw) on every side.
    H, W = x.shape[-2:]
    ph, pw = sh - H, sw - W
    padded = F.pad(x, (pw, pw, ph, ph)) if ph or pw else x
    return crop_windows(padded, ph - top, pw - left, sh, sw)


def random_translate(
    x: Tensor,
    size,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """Each sample placed at a random position of a zero canvas: (B, C·T, H, W) -> (B, C·T, S, S).

    RAD §3.2 "translate": `top ~ randint(0, S − H + 1)`, `left ~ randint(0, S − W + 1)`, e.g. 100 in 108.
    To reuse one placement on another batch (RAD's `return_random_idxs`, e.g. for next_obs), pass the
    returned params back with `params=`. params: `top`, `left` (B,) int64.
    """
    channels_per_frame(x, frames)
    B, _, H, W = x.shape
    sh, sw = pair(size, "size")
    _fits((H, W), (sh, sw), "random_translate: the input")
    if params is None:
        top = randint(sh - H + 1, B, generator, x)
        left = randint(sw - W + 1, B, generator, x)
        params = {"top": top, "left": left}
    given(params, ("top", "left"), B)
    return done(_place(x, params["top"], params["left"], sh, sw), params, return_params)


def center_translate(
    x: Tensor, size, *, generator: torch.Generator | None = None, frames: int = 1, return_params=False
):
    """Each sample in the centre of a zero S×S canvas (offset (S − H) // 2): the evaluation view for translate."""
    channels_per_frame(x, frames)
    B, _, H, W = x.shape
    sh, sw = pair(size, "size")
    _fits((H, W), (sh, sw), "center_translate: the input")
    zero = torch.zeros(B, dtype=torch.long, device=x.device)
    params = {"top": zero + (sh - H) // 2, "left": zero + (sw - W) // 2}
    return done(_place(x, params["top"], params["left"], sh, sw), params, return_params)


def random_window(
    x: Tensor,
    size,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """Zero everything outside a random size×size box, at the box's own position (no translation).

    RAD §4.4 no. 3 "window", the information-hiding half of crop (seed001 §3.8: window must not translate).
    Offsets as for `random_crop` (inclusive). params: `top`, `left` (B,) int64.
    """
    channels_per_frame(x, frames)
    B, _, H, W = x.shape
    h, w = pair(size, "size")
    _fits((h, w), (H, W), "random_window size")
    if params is None:
        left = randint(W - w + 1, B, generator, x)
        top = randint(H - h + 1, B, generator, x)
        params = {"top": top, "left": left}
    given(params, ("top", "left"), B)
    keep = box_mask(params["top"], params["left"], h, w, H, W, x.dtype)
    return done(x * keep, params, return_params)


def _replicate_pad(x: Tensor, pad: int) -> Tensor:
    H, W = x.shape[-2:]
    try:
        return F.pad(x, (pad, pad, pad, pad), mode="replicate")
    except (RuntimeError, NotImplementedError):
        # Some builds lack replicate padding for integer dtypes on some devices: same result by indexing.
        rows = torch.arange(-pad, H + pad, device=x.device).clamp_(0, H - 1)
        cols = torch.arange(-pad, W + pad, device=x.device).clamp_(0, W - 1)
        return x.index_select(2, rows).index_select(3, cols)


def random_shift(
    x: Tensor,
    pad: int = 4,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """DrQ's shift: replicate-pad by `pad`, then a random crop back to H×W (shifts of −pad..+pad pixels).

    DrQ: `ReplicationPad2d(pad)` + `RandomCrop((H, W))`; DrQ-v2's `grid_sample` version draws the same
    integer shifts. params: `top`, `left` (B,) int64 in {0..2·pad}, the window's corner in the padded image.
    """
    channels_per_frame(x, frames)
    if not isinstance(pad, int) or pad < 0:
        raise ValueError(f"pad must be an integer >= 0, got {pad!r}")
    B, _, H, W = x.shape
    if params is None:
        top = randint(2 * pad + 1, B, generator, x)
        left = randint(2 * pad + 1, B, generator, x)
        params = {"top": top, "left": left}
    given(params, ("top", "left"), B)
    padded = _replicate_pad(x, pad) if pad else x
    return done(crop_windows(padded, params["top"], params["left"], H, W), params, return_params)
