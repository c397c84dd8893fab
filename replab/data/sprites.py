"""Procedural "sprite on a flat background" images (seed003 A.7 (b)): no download.

One shape (disk, square, triangle or cross) of a random colour and size, covering about 10–20% of a
constant-colour background, at a random position. The label is the shape; the mask marks the object.
"""

from __future__ import annotations

import numpy as np
import torch

SHAPES = ("disk", "square", "triangle", "cross")


def _shape_mask(shape: str, size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == "disk":
        return dy**2 + dx**2 <= r**2
    if shape == "square":
        return (np.abs(dy) <= r) & (np.abs(dx) <= r)
    if shape == "triangle":  # apex up: inside when below the apex and within the widening sides
        return (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)
    if shape == "cross":
        arm = r / 2.5
        return ((np.abs(dy) <= r) & (np.abs(dx) <= arm)) | ((np.abs(dx) <= r) & (np.abs(dy) <= arm))
    raise ValueError(f"unknown shape '{shape}', choose from {SHAPES}")


# radius (in units of image side) giving ≈ area fraction a for each shape: a·S² = k r²
_AREA_PER_R2 = {"disk": np.pi, "square": 4.0, "triangle": 2.0, "cross": 4 * 2 * 0.4 - (0.8) ** 2}


def make_sprites(
    n: int, rng: np.random.Generator, size: int = 16, area: tuple[float, float] = (0.1, 0.2)
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n images (n, 3, size, size) in [−1, 1], labels (n,) (index into SHAPES) and object masks
    (n, size, size) bool. Object and background colours differ by at least 0.5 (in [0, 1] units) in some
    channel, so the object is visible."""
    if n < 1 or size < 4:
        raise ValueError(f"need n >= 1 and size >= 4, got n={n}, size={size}")
    if not 0 < area[0] <= area[1] < 1:
        raise ValueError(f"area must be 0 < low <= high < 1, got {area}")
    imgs = np.empty((n, 3, size, size), np.float32)
    masks = np.zeros((n, size, size), bool)
    labels = rng.integers(0, len(SHAPES), n)
    for i in range(n):
        shape = SHAPES[labels[i]]
        r = np.sqrt(rng.uniform(*area) * size * size / _AREA_PER_R2[shape])
        cy, cx = rng.uniform(r, size - r, 2)
        bg = rng.uniform(0, 1, 3)
        fg = rng.uniform(0, 1, 3)
        while np.abs(fg - bg).max() < 0.5:
            fg = rng.uniform(0, 1, 3)
        m = _shape_mask(shape, size, cy, cx, r)
        masks[i] = m
        imgs[i] = np.where(m[None], fg[:, None, None], bg[:, None, None])
    return torch.from_numpy(imgs * 2 - 1), torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(masks)


def object_mask(images: torch.Tensor, threshold: float = 0.25) -> torch.Tensor:
    """The object mask of generated sprites (seed003 A.7 run 3): pixels whose colour is farther than
    `threshold` (in [0, 1] units, max over channels) from the background, taken as the per-image median
    colour of the border pixels. (B, 3, H, W) in [−1, 1] -> (B, H, W) bool."""
    x = (images + 1) / 2
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
    bg = border.median(dim=-1).values  # (B, 3)
    return (x - bg[..., None, None]).abs().amax(dim=1) > threshold
