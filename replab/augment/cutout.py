"""Cutout and cutout-color (RAD §4.4 nos. 5–6, code semantics §4.8)."""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import Params, box_mask, channels_per_frame, done, given, randint


def _draw_box(x: Tensor, min_cut: int, max_cut: int, generator) -> Params:
    B, _, H, W = x.shape
    if not (isinstance(min_cut, int) and isinstance(max_cut, int)) or not 0 <= min_cut <= max_cut <= min(
        H, W
    ):
        raise ValueError(
            f"need integers 0 <= min_cut <= max_cut <= min(H, W) = {min(H, W)}, got min_cut={min_cut!r}, "
            f"max_cut={max_cut!r}"
        )
    # §4.8: width and height drawn independently in min_cut..max_cut (inclusive), then the corner uniformly
    # over the positions that keep the whole rectangle inside the image.
    width = min_cut + randint(max_cut - min_cut + 1, B, generator, x)
    height = min_cut + randint(max_cut - min_cut + 1, B, generator, x)
    left = randint(W - width + 1, B, generator, x)
    top = randint(H - height + 1, B, generator, x)
    return {"top": top, "left": left, "height": height, "width": width}


_BOX = ("top", "left", "height", "width")


def random_cutout(
    x: Tensor,
    min_cut: int = 4,
    max_cut: int = 24,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """One black (zero) rectangle per sample, the same on all its frames: (B, C·T, H, W) -> same.

    Sizes 4..24 by default, inclusive (the thesis §4.8; RAD's repository used 10..30 and a box whose corner
    equals its size — seed001 §3.2 [R], not followed). params: `top`, `left`, `height`, `width` (B,) int64.
    """
    channels_per_frame(x, frames)
    if params is None:
        params = _draw_box(x, min_cut, max_cut, generator)
    p = given(params, _BOX, x.shape[0])
    H, W = x.shape[-2:]
    keep = box_mask(p["top"], p["left"], p["height"], p["width"], H, W, x.dtype, inside=False)
    return done(x * keep, params, return_params)


def random_cutout_color(
    x: Tensor,
    min_cut: int = 4,
    max_cut: int = 24,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """One rectangle per sample filled with a random colour, the same box and colour on all its frames.

    §4.8's printed `random_cutout` (really cutout-color, seed001 §3.8 [!]): a fill value per sample and
    channel, `randint(0, 255)` (0..254) for uint8 data and that value / 255 for float data. The colour has C
    values (one per channel of a frame) shared by the T frames; the printed code drew one per stacked
    channel, which is what `frames=1` gives. params: the box as in `random_cutout` plus `fill` (B, C) in
    the batch's dtype.
    """
    C = channels_per_frame(x, frames)
    B = x.shape[0]
    if params is None:
        params = _draw_box(x, min_cut, max_cut, generator)
        dev = generator.device if generator is not None else x.device
        level = torch.randint(0, 255, (B, C), generator=generator, device=dev).to(x.device)
        params["fill"] = level.to(x.dtype) if not x.is_floating_point() else (level / 255.0).to(x.dtype)
    p = given(params, (*_BOX, "fill"), B)
    H, W = x.shape[-2:]
    cut = box_mask(p["top"], p["left"], p["height"], p["width"], H, W, x.dtype)
    fill = p["fill"].to(x.dtype).repeat(1, frames)[:, :, None, None]  # channel t·C + c gets fill[:, c]
    return done(torch.addcmul(x * (1 - cut), cut, fill), params, return_params)
