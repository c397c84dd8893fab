"""Procedural glyphs: a K-class image task generated from a seed, harder and wider than the digits.

Each class is a prototype of `strokes` random line segments on a size×size canvas. An instance jitters
every endpoint, shifts the whole glyph, varies stroke width and contrast, and adds pixel noise, so the
classes overlap and need features beyond pixels. Class prototypes depend only on (`classes`, `seed`);
instances on the seed too, so a dataset is reproducible without any download.

At the defaults the task needs learned features: with 16 classes a linear probe on the pixels scores far
below a trained MLP, which scores below a small VGG-style CNN (measured in docs/tunnel.md).
"""

from __future__ import annotations

import numpy as np
import torch

from replab.data.split import Split, stratified_split


def _render(p0: np.ndarray, p1: np.ndarray, width: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased segments: p0, p1 (N, S, 2) endpoints in pixels, width (N, 1, 1) → images (N, size, size)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    grid = np.stack([xx, yy], -1).reshape(1, 1, -1, 2)  # (1, 1, P, 2)
    a, b = p0[:, :, None, :], p1[:, :, None, :]
    ab = b - a
    t = np.clip(((grid - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-6), 0, 1)
    dist2 = ((a + t[..., None] * ab - grid) ** 2).sum(-1)  # (N, S, P)
    ink = np.exp(-dist2 / (2 * width**2)).max(1)
    return ink.reshape(-1, size, size)


def make_glyphs(
    classes: int = 20,
    per_class: int = 200,
    size: int = 16,
    strokes: int = 3,
    jitter: float = 0.5,
    shift: int = 2,
    noise: float = 0.15,
    seed: int = 0,
) -> tuple:
    """(images (N, 1, size, size) float32 in about [−1, 2], labels (N,) int64), classes interleaved."""
    if classes < 2:
        raise ValueError(f"classes must be >= 2, got {classes}")
    if size < 8:
        raise ValueError(f"size must be >= 8, got {size}")
    proto_rng = np.random.default_rng([seed, classes, 0])
    margin = shift + 1.5
    protos = proto_rng.uniform(margin, size - 1 - margin, size=(classes, strokes, 2, 2)).astype(np.float32)
    rng = np.random.default_rng([seed, classes, 1])
    y = np.tile(np.arange(classes), per_class)
    n = y.size
    ends = protos[y] + rng.normal(0, jitter, size=(n, strokes, 2, 2)).astype(np.float32)
    ends += rng.integers(-shift, shift + 1, size=(n, 1, 1, 2)).astype(np.float32)
    width = rng.uniform(0.6, 1.1, size=(n, 1, 1)).astype(np.float32)
    img = _render(ends[:, :, 0], ends[:, :, 1], width, size)
    img *= rng.uniform(0.6, 1.2, size=(n, 1, 1)).astype(np.float32)
    img += rng.normal(0, noise, size=img.shape).astype(np.float32)
    return img[:, None].astype(np.float32), y.astype(np.int64)


def load_glyphs(
    classes: int = 20, per_class: int = 200, size: int = 16, test_fraction: float = 0.3, seed: int = 0, **kw
) -> Split:
    """A stratified, standardised train/test split of `make_glyphs`."""
    x, y = make_glyphs(classes, per_class, size, seed=seed, **kw)
    tr, te = stratified_split(x, y, test_fraction, np.random.default_rng([seed, 2]))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    mean, std = xt[tr].mean(), xt[tr].std()
    xt = (xt - mean) / std
    return Split(xt[tr], yt[tr], xt[te], yt[te])
