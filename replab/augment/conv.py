"""Random convolution (RAD §4.4 no. 9, from "network randomization"), one random kernel per sample."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import Params, channels_per_frame, done, given


def random_conv(
    x: Tensor,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """Each sample's frames go through its own random C→C 3×3 convolution (padding 1, no bias).

    RAD's code: `Conv2d(3, 3, 3, padding=1, bias=False)` re-initialised with Xavier-normal per sample
    (std = sqrt(2 / (fan_in + fan_out)) = sqrt(1 / (9·C))) and applied to every frame of that sample; all
    samples at once as one grouped convolution. Needs normalised float input (seed001 §3.8); the output is
    not clamped. params: `weight` (B, C, C, 3, 3).
    """
    C = channels_per_frame(x, frames)
    if not x.is_floating_point():
        raise ValueError(f"random_conv needs normalised float input (e.g. x.float() / 255), got {x.dtype}")
    B, CT, H, W = x.shape
    if params is None:
        std = math.sqrt(2.0 / (2 * 9 * C))  # Xavier-normal, gain 1: fan_in = fan_out = 9·C
        dev = generator.device if generator is not None else x.device
        weight = torch.randn(B, C, C, 3, 3, generator=generator, device=dev) * std
        params = {"weight": weight.to(device=x.device, dtype=x.dtype)}
    weight = given(params, ("weight",), B)["weight"].to(device=x.device, dtype=x.dtype)
    if B == 0:
        return done(x.clone(), params, return_params)
    # (B, T·C, H, W) -> (T, B·C, H, W): sample b's channels form group b of a grouped convolution.
    frames_first = x.view(B, frames, C, H, W).transpose(0, 1).reshape(frames, B * C, H, W)
    out = F.conv2d(frames_first, weight.reshape(B * C, C, 3, 3), padding=1, groups=B)
    out = out.view(frames, B, C, H, W).transpose(0, 1).reshape(B, CT, H, W)
    return done(out, params, return_params)
