"""Procedural sprite videos with ground-truth instance masks (seed003 Part B, issue 22): no download.

Each video: a textured background (a base colour plus random sinusoidal gratings) and 2–3 textured sprites
(the shapes of `replab.data.sprites`: disk, square, triangle, cross) that move at constant speed and bounce
off the frame's edges. Each sprite's texture (stripes at a random angle and frequency on its own colour)
moves with it, so patches can be matched across frames by appearance. Sprites are drawn back to front in a
random depth order per video, so they occlude each other; the instance mask holds the visible sprite's id
(1..K, 0 = background), the amodal masks every sprite's full extent, and the point tracks its centre.

Harder options (all off by default, so the default videos are exactly those of the first version, seed for
seed; `DIFFICULTIES` names three settings): flat sprites without stripes (`textured=False`), one colour shared
by all the sprites of a video (`shared_colours`: only texture and shape tell them apart), per-frame colour
jitter of each sprite (`colour_jitter`: Gaussian std added to its colour every frame) and a global
brightness change over time (`lighting`: gain 1 + lighting · sin(ωt + φ), ω ∈ [π/12, π/6] per frame). They
target the shortcut that raw pixels follow flat distinct colours (seed003 B.8 asks for textured sprites;
these are [ASSUMP] extensions). Their random draws come from a child generator spawned (not drawn) from
the rng, so the geometry — shapes, sizes, paths, depth order — is the same at every difficulty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from replab.data.sprites import _AREA_PER_R2, SHAPES, _shape_mask


@dataclass(frozen=True)
class SpriteVideos:
    frames: torch.Tensor  # (n, T, 3, H, W) float32 in [−1, 1]
    masks: torch.Tensor  # (n, T, H, W) int64: visible sprite id 1..K, 0 = background
    amodal: torch.Tensor  # (n, T, K, H, W) bool: each sprite's full extent, occluded or not
    tracks: torch.Tensor  # (n, T, K, 2) float32: sprite centres (y, x) in pixels
    depth: torch.Tensor  # (n, K) int64: depth[i, j] = drawing rank of sprite j+1 (higher = in front)
    n_sprites: torch.Tensor  # (n,) int64: sprites in each video (unused slots of K are empty)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.broadcast_to(rng.uniform(0.2, 0.8, (3, 1, 1)), (3, size, size)).copy()
    for _ in range(3):  # gratings: random direction, 1–4 cycles per frame, amplitude 0.05–0.15 per channel
        theta, freq, phase = rng.uniform(0, np.pi), rng.uniform(1, 4), rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * freq * (np.cos(theta) * xx + np.sin(theta) * yy) + phase)
        img += rng.uniform(0.05, 0.15, (3, 1, 1)) * wave
    return np.clip(img, 0, 1)


DIFFICULTIES = {
    "easy": dict(textured=True, shared_colours=False, colour_jitter=0.0, lighting=0.0),
    "medium": dict(textured=True, shared_colours=False, colour_jitter=0.08, lighting=0.25),
    "hard": dict(textured=True, shared_colours=True, colour_jitter=0.08, lighting=0.25),
}
"""Named settings of the harder options: "easy" is the default (the first version's videos)."""


def difficulty_options(name: str) -> dict:
    """The `make_sprite_videos` keyword arguments of a named difficulty."""
    if name not in DIFFICULTIES:
        raise ValueError(f"unknown sprite difficulty '{name}', choose from {sorted(DIFFICULTIES)}")
    return dict(DIFFICULTIES[name])


def _texture(
    colour: np.ndarray, theta: float, freq: float, size: int, cy: float, cx: float, textured: bool = True
) -> np.ndarray:
    """Stripes in the sprite's own coordinates (they move with it): colour × (0.65 or 1); flat colour when
    not textured."""
    if not textured:
        return np.broadcast_to(colour[:, None, None], (3, size, size))
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    u = np.cos(theta) * (xx - cx) + np.sin(theta) * (yy - cy)
    stripes = np.where(np.sin(2 * np.pi * freq * u) >= 0, 1.0, 0.65)
    return colour[:, None, None] * stripes[None]


def make_sprite_videos(
    n: int,
    rng: np.random.Generator,
    *,
    frames: int = 8,
    size: int = 32,
    sprites: tuple[int, int] = (2, 3),
    area: tuple[float, float] = (0.04, 0.1),
    speed: tuple[float, float] = (0.5, 2.0),
    static: bool = False,
    textured: bool = True,
    shared_colours: bool = False,
    colour_jitter: float = 0.0,
    lighting: float = 0.0,
) -> SpriteVideos:
    """n videos of `frames` frames of size×size. Each has between sprites[0] and sprites[1] sprites, each
    covering an `area` fraction of the frame and moving `speed` pixels per frame (0 when static: the
    "infinite frame rate" clips of the ablations). The harder options are in the module docstring.
    Deterministic given the rng's state."""
    if n < 1 or frames < 1 or size < 8:
        raise ValueError(f"need n >= 1, frames >= 1 and size >= 8, got n={n}, frames={frames}, size={size}")
    if not 1 <= sprites[0] <= sprites[1] <= 8:
        raise ValueError(f"sprites must be (low, high) with 1 <= low <= high <= 8, got {sprites}")
    if not 0 < area[0] <= area[1] < 0.5:
        raise ValueError(f"area must be 0 < low <= high < 0.5, got {area}")
    if not 0 <= speed[0] <= speed[1]:
        raise ValueError(f"speed must be 0 <= low <= high (pixels per frame), got {speed}")
    if colour_jitter < 0 or not 0 <= lighting < 1:
        raise ValueError(f"need colour_jitter >= 0 and lighting in [0, 1), got {colour_jitter}, {lighting}")
    harder = shared_colours or colour_jitter > 0 or lighting > 0
    extra = rng.spawn(1)[0] if harder else None  # a child stream: rng's own draws (the geometry) unchanged
    k_max = sprites[1]
    video = np.empty((n, frames, 3, size, size), np.float32)
    masks = np.zeros((n, frames, size, size), np.int64)
    amodal = np.zeros((n, frames, k_max, size, size), bool)
    tracks = np.zeros((n, frames, k_max, 2), np.float32)
    depth = np.zeros((n, k_max), np.int64)
    counts = rng.integers(sprites[0], sprites[1] + 1, n)
    for i in range(n):
        bg = _background(rng, size)
        k = int(counts[i])
        shapes = [SHAPES[j] for j in rng.integers(0, len(SHAPES), k)]
        radii = [np.sqrt(rng.uniform(*area) * size * size / _AREA_PER_R2[s]) for s in shapes]
        pos = np.array([rng.uniform(r, size - r, 2) for r in radii])  # (k, 2) centres (y, x)
        angle = rng.uniform(0, 2 * np.pi, k)
        vel = 0.0 if static else rng.uniform(*speed, (k, 1)) * np.stack([np.sin(angle), np.cos(angle)], 1)
        vel = np.broadcast_to(vel, (k, 2)).copy()
        colours = [rng.uniform(0, 1, 3) for _ in range(k)]
        if shared_colours:
            colours = [colours[0]] * k
        if lighting > 0:
            omega, phase = extra.uniform(np.pi / 12, np.pi / 6), extra.uniform(0, 2 * np.pi)
        stripes = [(rng.uniform(0, np.pi), rng.uniform(0.15, 0.35)) for _ in range(k)]
        order = rng.permutation(k)  # drawing order, back to front
        depth[i, order] = np.arange(k)
        for t in range(frames):
            img = bg.copy()
            for j in order:
                cy, cx = pos[j]
                m = _shape_mask(shapes[j], size, cy, cx, radii[j])
                colour = colours[j]
                if colour_jitter > 0:
                    colour = np.clip(colour + extra.normal(0, colour_jitter, 3), 0, 1)
                img = np.where(m[None], _texture(colour, *stripes[j], size, cy, cx, textured), img)
                masks[i, t][m] = j + 1
                amodal[i, t, j] = m
            tracks[i, t, :k] = pos
            if lighting > 0:
                img = np.clip(img * (1 + lighting * np.sin(omega * t + phase)), 0, 1)
            video[i, t] = img
            pos = pos + vel  # bounce: reflect the centre off the walls at distance r
            for j in range(k):
                for a in range(2):
                    lo, hi = radii[j], size - radii[j]
                    while pos[j, a] < lo or pos[j, a] > hi:  # a loop: a fast sprite may hit both walls
                        pos[j, a] = 2 * lo - pos[j, a] if pos[j, a] < lo else 2 * hi - pos[j, a]
                        vel[j, a] = -vel[j, a]
    return SpriteVideos(
        frames=torch.from_numpy(video * 2 - 1),
        masks=torch.from_numpy(masks),
        amodal=torch.from_numpy(amodal),
        tracks=torch.from_numpy(tracks),
        depth=torch.from_numpy(depth),
        n_sprites=torch.from_numpy(counts.astype(np.int64)),
    )
