"""Naive per-sample reference implementations, written from the semantics in seed001 §3.2 (not from replab's
code), used to check the batched versions at the parameters they report."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def crop(x, top, left, h, w):
    return torch.stack(
        [x[i, :, t : t + h, l : l + w] for i, (t, l) in enumerate(zip(top.tolist(), left.tolist()))]
    )


def translate(x, top, left, sh, sw):
    B, C, H, W = x.shape
    out = torch.zeros(B, C, sh, sw, dtype=x.dtype)
    for i, (t, l) in enumerate(zip(top.tolist(), left.tolist())):
        out[i, :, t : t + H, l : l + W] = x[i]
    return out


def window(x, top, left, h, w):
    out = torch.zeros_like(x)
    for i, (t, l) in enumerate(zip(top.tolist(), left.tolist())):
        out[i, :, t : t + h, l : l + w] = x[i, :, t : t + h, l : l + w]
    return out


def shift(x, top, left, pad):
    B, C, H, W = x.shape
    out = torch.empty_like(x)
    for i, (t, l) in enumerate(zip(top.tolist(), left.tolist())):
        padded = F.pad(x[i : i + 1].double(), (pad, pad, pad, pad), mode="replicate")[0]
        out[i] = padded[:, t : t + H, l : l + W].to(x.dtype)
    return out


def cutout(x, p, fill=None, frames=1):
    out = x.clone()
    for i in range(x.shape[0]):
        t, l, h, w = (int(p[k][i]) for k in ("top", "left", "height", "width"))
        if fill is None:
            out[i, :, t : t + h, l : l + w] = 0
        else:
            colour = fill[i].repeat(frames)  # channel t·C + c gets fill[c]
            out[i, :, t : t + h, l : l + w] = colour[:, None, None].to(x.dtype)
    return out


def rgb2hsv_frame(rgb, eps=1e-8):
    """One (3, H, W) frame, step by step as RAD's `rgb2hsv` (masked assignments in the order r, g, b)."""
    r, g, b = rgb
    cmax, cmin = rgb.max(0).values, rgb.min(0).values
    delta = cmax - cmin
    hue = torch.zeros_like(cmax)
    hue[cmax == r] = (((g - b) / (delta + eps)) % 6)[cmax == r]
    hue[cmax == g] = ((b - r) / (delta + eps) + 2)[cmax == g]
    hue[cmax == b] = ((r - g) / (delta + eps) + 4)[cmax == b]
    hue[cmax == 0] = 0.0
    sat = delta / (cmax + eps)
    sat[cmax == 0] = 0.0
    return torch.stack([hue / 6.0, sat, cmax])


def hsv2rgb_frame(hsv):
    """One frame, RAD's `hsv2rgb`: sector by sector (C, X, 0) assignment plus m."""
    hsv = hsv.clamp(0, 1)
    hue, sat, val = hsv[0] * 360.0, hsv[1], hsv[2]
    c = val * sat
    x = -c * (torch.abs((hue / 60.0) % 2 - 1) - 1)
    m = val - c
    out = torch.zeros_like(hsv)
    sectors = [((0, 60), (c, x, 0)), ((60, 120), (x, c, 0)), ((120, 180), (0, c, x))]
    sectors += [((180, 240), (0, x, c)), ((240, 300), (x, 0, c)), ((300, 360), (c, 0, x))]
    for (lo, hi), values in sectors:
        inside = (hue >= lo) & (hue < hi)
        for ch, v in enumerate(values):
            if not isinstance(v, int):
                out[ch][inside] = v[inside]
    return (out + m).clamp(0, 1)


def jitter_frame(img, b, c, s, h, contrast_first):
    """RAD's ColorJitterLayer on one float frame with given factors."""

    def contrast(img):
        mean = img.mean((1, 2), keepdim=True)
        return ((img - mean) * c + mean).clamp(0, 1)

    def hsv_steps(img):
        hsv = rgb2hsv_frame(img)
        hsv[2] = (hsv[2] * b).clamp(0, 1)
        hsv = hsv.clamp(0, 1)
        hsv[0] = (hsv[0] + h * 255.0 / 360.0) % 1
        hsv[1] = (hsv[1] * s).clamp(0, 1)
        return hsv2rgb_frame(hsv.clamp(0, 1))

    steps = [contrast, hsv_steps] if contrast_first else [hsv_steps, contrast]
    for step in steps:
        img = step(img)
    return img
