"""Grayscale and color jitter (RAD §4.4 nos. 4 and 10) on RGB frames, with RAD's code semantics (seed001 §3.2).

The batch is (B, 3·T, H, W); it is viewed as (B·T, 3, H, W) frames so channels are never mixed across
frames, and each sample's factors are repeated over its T frames (seed001 §3.8).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import Params, bernoulli, channels_per_frame, check_probability, done, given, merge, uniform

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # RAD's `grayscale` [R]


def _rgb_frames(x: Tensor, frames: int, what: str) -> int:
    if channels_per_frame(x, frames) != 3:
        raise ValueError(f"{what} needs RGB frames (3 channels per frame), got {x.shape[1] // frames}")
    return 3


def _merge(x: Tensor, idx: Tensor | None, values: Tensor) -> Tensor:
    """x with the samples `idx` replaced by `values` (all of them when idx is None)."""
    return values if idx is None else merge(x, idx, values)


def random_grayscale(
    x: Tensor,
    p: float = 0.3,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """With probability p per sample, every frame becomes grey 0.2989 R + 0.587 G + 0.114 B, replicated to RGB.

    RAD's code (p = 0.3) computes the grey level in float and truncates it to uint8 (so white 255 -> 254): the
    same here for integer batches. Float batches are converted without that round trip (RAD's code also
    floors every pixel, grey or not, to a multiple of 1/255, which we do not copy). params: `gray` (B,) bool.
    """
    _rgb_frames(x, frames, "random_grayscale")
    check_probability(p)
    B, CT, H, W = x.shape
    if params is None:
        params = {"gray": bernoulli(p, B, generator, x)}
    gray = given(params, ("gray",), B)["gray"].to(x.device)
    idx = gray.nonzero().squeeze(1)
    sel = x.index_select(0, idx).view(-1, 3, H, W)
    level = sel[:, 0].float() * GRAY_WEIGHTS[0] + sel[:, 1].float() * GRAY_WEIGHTS[1]
    level = level + sel[:, 2].float() * GRAY_WEIGHTS[2]
    level = level.to(x.dtype)  # truncation for integer dtypes, as `.type(torch.uint8)` in RAD
    values = level[:, None].expand(-1, 3, H, W).reshape(-1, CT, H, W)
    return done(_merge(x, idx, values), params, return_params)


# --- RAD's ColorJitterLayer (TransformLayer.py) in batched form -------------------------------------------

_EPS = 1e-8


def rgb_to_hsv(rgb: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(N, 3, H, W) RGB in [0, 1] -> hue in [0, 1], saturation, value, each (N, H, W), as RAD's `rgb2hsv`.

    Same operations as RAD's code (hue from the max channel, ties resolved blue > green > red, black -> hue
    0), bit for bit, fused so that each pixel is read a few times rather than once per mask.
    """
    r, g, b = rgb.unbind(1)
    cmax = rgb.amax(1)
    delta = cmax - rgb.amin(1)
    is_b, is_g = cmax == b, cmax == g
    num = torch.where(is_b, r - g, torch.where(is_g, b - r, g - b))
    offset = torch.where(is_b, 4.0, torch.where(is_g, 2.0, 0.0))
    # (g − b)/(Δ+ε) % 6 for red; the green and blue branches lie in (1, 5), where % 6 changes nothing.
    hue = (num / (delta + _EPS) + offset) % 6
    hue = torch.where(cmax == 0, 0.0, hue) / 6.0
    sat = delta / (cmax + _EPS)  # 0 where cmax == 0, as RAD's explicit mask
    return hue, sat, cmax


def hsv_to_rgb(hue: Tensor, sat: Tensor, val: Tensor) -> Tensor:
    """Hue, saturation, value (N, H, W) in [0, 1] -> (N, 3, H, W) RGB in [0, 1].

    RAD's `hsv2rgb` assigns (C, X, 0) by 60° sector and adds m = V − C; this is the same function in closed
    form, channel n ∈ (5, 3, 1): V − C·clamp(min(k, 4 − k), 0, 1) with k = (n + H/60) mod 6 (equal up to float
    rounding, ~1e-6). One difference: at hue exactly 1 (360°, reachable by rounding in `% 1`) RAD's code
    falls through every sector and returns grey m; this returns the colour of hue 0, which it is.
    """
    hh = hue * 6.0
    c = val * sat
    channels = []
    for n in (5.0, 3.0, 1.0):
        k = (hh + n) % 6
        channels.append(val - c * torch.minimum(k, 4.0 - k).clamp_(0, 1))
    return torch.stack(channels, 1).clamp_(0, 1)


def _range(value: float, name: str) -> tuple[float, float]:
    """RAD's `_check_input`: [max(0, 1 − v), 1 + v] for the factors, [−v, v] for hue with v <= 0.5."""
    limit = 0.5 if name == "hue" else float("inf")
    if not 0 <= value <= limit:
        raise ValueError(f"{name} must be in [0, {limit}], got {value!r}")
    return (-value, value) if name == "hue" else (max(1.0 - value, 0.0), 1.0 + value)


def color_jitter(
    x: Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.5,
    p: float = 1.0,
    *,
    generator: torch.Generator | None,
    frames: int = 1,
    return_params: bool = False,
    params: Params | None = None,
):
    """RAD's color jitter: contrast in RGB and brightness, hue, saturation in HSV, factors shared by the frames.

    Per sample (applied with probability p): brightness b ~ U[max(0, 1 − 0.4), 1.4] scales V, contrast c ~
    U[0.6, 1.4] scales each channel about its own per-frame mean, saturation s ~ U[0.6, 1.4] scales S, hue
    h ~ U[−0.5, 0.5] adds h·255/360 to H (mod 1; the 255/360 is RAD's code, kept). As in RAD's code, one coin
    per call decides whether contrast comes before or after the HSV steps, and every step clamps to [0, 1].
    Float input is taken to be in [0, 1]; integer input is divided by 255 and rounded back. params:
    `apply` (B,) bool, `brightness`, `contrast`, `saturation`, `hue` (B,) float32, `contrast_first` () bool.
    """
    _rgb_frames(x, frames, "color_jitter")
    check_probability(p)
    amounts = {"brightness": brightness, "contrast": contrast, "saturation": saturation, "hue": hue}
    ranges = {name: _range(value, name) for name, value in amounts.items()}
    B, CT, H, W = x.shape
    if params is None:
        params = {"apply": bernoulli(p, B, generator, x)}
        for name, (low, high) in ranges.items():
            params[name] = uniform(low, high, B, generator, x)
        params["contrast_first"] = bernoulli(0.5, 1, generator, x)[0]
    keys = ("apply", "brightness", "contrast", "saturation", "hue")
    given(params, keys, B)
    apply = params["apply"].to(x.device)
    idx = None if bool(apply.all()) else apply.nonzero().squeeze(1)
    sel = x if idx is None else x.index_select(0, idx)
    pick = (lambda t: t.to(x.device)) if idx is None else (lambda t: t.to(x.device).index_select(0, idx))
    per_frame = {k: pick(params[k]).repeat_interleave(frames) for k in keys[1:]}
    order = (_contrast, _hsv) if bool(params["contrast_first"]) else (_hsv, _contrast)
    frames_in = sel.reshape(-1, 3, H, W)
    n = frames_in.shape[0]
    out = torch.empty_like(frames_in)
    # Blocks of frames small enough to stay in cache: the ~40 elementwise passes then cost cache, not memory,
    # bandwidth (3-4x faster on CPU). One block on GPUs. This loops over blocks, not samples.
    block = max(1, 2**17 // (H * W)) if x.device.type == "cpu" else max(n, 1)
    for i in range(0, n, block):
        img = frames_in[i : i + block].float()
        if not x.is_floating_point():
            img = img / 255.0
        factors = {k: v[i : i + block, None, None] for k, v in per_frame.items()}
        for step in order:
            img = step(img, factors, amounts)
        if not x.is_floating_point():
            img = (img * 255.0).round_()
        out[i : i + block] = img
    values = out.reshape(-1, CT, H, W)
    return done(_merge(x, idx, values), params, return_params)


def _contrast(img: Tensor, f: dict, amounts: dict) -> Tensor:
    """RAD's `adjust_contrast`: each channel of each frame scaled about its own mean, then clamped."""
    if amounts["contrast"] == 0:  # RAD's code drops a step whose amount is 0
        return img
    means = img.mean((2, 3), keepdim=True)
    return ((img - means) * f["contrast"][:, None] + means).clamp_(0, 1)


def _hsv(img: Tensor, f: dict, amounts: dict) -> Tensor:
    """RAD's brightness (V·b), hue ((H + h·255/360) mod 1) and saturation (S·s), each clamped, in HSV."""
    if amounts["brightness"] == amounts["saturation"] == amounts["hue"] == 0:
        return img  # all three HSV steps dropped: no round trip either
    hue, sat, val = rgb_to_hsv(img)
    val = (val * f["brightness"]).clamp_(0, 1)
    hue = (hue + f["hue"] * (255.0 / 360.0)) % 1
    sat = (sat * f["saturation"]).clamp_(0, 1)
    return hsv_to_rgb(hue, sat, val)
