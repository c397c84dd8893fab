"""Glyph digits: scikit-learn's handwritten digit glyphs composed on textured colour backgrounds.

A procedural RGB image task (no download) with enough nuisance variation — glyph size, position, ink
colour, background colour, oriented gratings and noise — that pixels alone generalise poorly from few
labels, while the class stays decidable. Train and test images draw their glyphs from disjoint writers'
samples (a stratified split of the 1,797 glyphs), so test digits are unseen handwriting.

Tasks (`CLASSES[task]` classes):
- `digit`: one glyph; label = the digit (10 classes).
- `sum`: two glyphs side by side, never overlapping; label = (d₁ + d₂) mod 10, which needs both glyphs
  (global context; seed001 §4.7's "two digits" data for BoTNet). The label is independent of each digit
  alone, so a network gets no gradient signal until it reads both (parity-like: hard for SGD).
- `add`: the same pairs, label = d₁ + d₂ (19 classes): still needs both glyphs, but each digit alone is
  informative, so SGD can learn it step by step.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

from replab.data.split import Split, stratified_split

TASKS = ("digit", "sum", "add")
CLASSES = {"digit": 10, "sum": 10, "add": 19}
BACKGROUNDS = ("texture", "plain", "clean")


@functools.lru_cache(maxsize=1)
def _sk_digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images.astype(np.float32) / 16.0, d.target.astype(np.int64)


def _glyph_pool(split: str, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    images, target = _sk_digits()
    tr, te = stratified_split(images, target, 0.3, np.random.default_rng([seed, 7]))
    idx = tr if split == "train" else te
    return torch.from_numpy(images[idx]), target[idx]


def _background(n: int, size: int, g: torch.Generator, gratings: int = 2) -> torch.Tensor:
    """(n, 3, size, size) in [0, 1]: a base colour plus `gratings` coloured oriented gratings and pixel noise."""
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij"
    )
    img = torch.rand(n, 3, 1, 1, generator=g) * 0.6 + 0.2
    for _ in range(gratings):
        freq = torch.rand(n, 1, 1, generator=g) * 0.25 + 0.05  # cycles per pixel
        theta = torch.rand(n, 1, 1, generator=g) * math.pi
        phase = torch.rand(n, 1, 1, generator=g) * 2 * math.pi
        wave = torch.sin(2 * math.pi * freq * (xx * torch.cos(theta) + yy * torch.sin(theta)) + phase)
        colour = (torch.rand(n, 3, 1, 1, generator=g) - 0.5) * 0.3
        img = img + colour * wave[:, None]
    img = img + 0.06 * torch.randn(n, 3, size, size, generator=g)
    return img.clamp(0, 1)


def _paste(
    canvas: torch.Tensor,
    glyphs: torch.Tensor,
    sizes: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    ink: torch.Tensor,
) -> None:
    """Alpha-composite glyph i (8×8, resized to sizes[i]) with colour ink[i] at (rows[i], cols[i])."""
    for s in sizes.unique().tolist():
        sel = (sizes == s).nonzero().flatten()
        alpha = F.interpolate(glyphs[sel, None], size=(s, s), mode="bilinear", align_corners=False)
        alpha = alpha.clamp(0, 1)
        for j, i in enumerate(sel.tolist()):
            r, c = int(rows[i]), int(cols[i])
            region = canvas[i, :, r : r + s, c : c + s]
            canvas[i, :, r : r + s, c : c + s] = region * (1 - alpha[j]) + ink[i, :, None, None] * alpha[j]


def make_glyph_digits(
    n: int,
    task: str = "digit",
    size: int = 32,
    split: str = "train",
    seed: int = 0,
    background: str = "texture",
) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` images (n, 3, size, size) float32 in [0, 1] and labels (n,) int64, reproducible from `seed`.

    Glyphs are 8×8 digits upsampled to size·[0.3, 0.45] pixels; the ink colour differs from the
    background's mean colour by at least 0.45 in some channel, so the digit is always visible.
    `background`: "texture" (base colour + two oriented colour gratings + noise), "plain" (base colour +
    noise only) or "clean" (white glyphs of side size/2 on black, centred in the image or in their half:
    scikit-learn's digits as they are, with nothing to be invariant to but the handwriting).
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}, got {background!r}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    g = torch.Generator().manual_seed(
        int(np.random.SeedSequence([seed, 1 + (split == "test")]).generate_state(1)[0])
    )
    pool, pool_y = _glyph_pool(split, seed)
    canvas = _background(n, size, g, 2 if background == "texture" else 0)
    if background == "clean":
        canvas.zero_()
    lo, hi = int(round(size * 0.3)), int(round(size * 0.45))
    n_glyphs = 1 if task == "digit" else 2
    digits = []
    for slot in range(n_glyphs):
        pick = torch.randint(0, len(pool), (n,), generator=g)
        sizes = torch.randint(lo, hi + 1, (n,), generator=g)
        if task == "digit":
            rows = (torch.rand(n, generator=g) * (size - sizes + 1)).long()
            cols = (torch.rand(n, generator=g) * (size - sizes + 1)).long()
        else:  # glyph 0 in the left half, glyph 1 in the right half: never overlapping
            half = size // 2
            rows = (torch.rand(n, generator=g) * (size - sizes + 1)).long()
            cols = (torch.rand(n, generator=g) * (half - sizes + 1).clamp(min=1)).long() + slot * half
        mean = canvas.mean((2, 3))
        ink = torch.rand(n, 3, generator=g)
        # push the ink away from the background where it is too close
        far = (ink - mean).abs().amax(1) < 0.45
        ink[far] = (1 - mean[far]).round()
        if background == "clean":  # fixed size and place, white ink
            half = size // 2
            sizes = torch.full((n,), half)
            rows = torch.full((n,), (size - half) // 2)
            cols = torch.full((n,), (size - half) // 2 if task == "digit" else slot * half)
            ink = torch.ones(n, 3)
        _paste(canvas, pool[pick], sizes, rows, cols, ink)
        digits.append(torch.from_numpy(pool_y)[pick])
    if task == "digit":
        label = digits[0]
    else:
        label = digits[0] + digits[1] if task == "add" else (digits[0] + digits[1]) % 10
    return canvas.clamp(0, 1), label


def load_glyph_digits(
    n_train: int = 5000,
    n_test: int = 1000,
    task: str = "digit",
    size: int = 32,
    seed: int = 0,
    background: str = "texture",
) -> Split:
    """A train/test `Split` of `make_glyph_digits` (test glyphs are unseen handwriting)."""
    xtr, ytr = make_glyph_digits(n_train, task, size, "train", seed, background)
    xte, yte = make_glyph_digits(n_test, task, size, "test", seed, background)
    return Split(xtr, ytr, xte, yte)
