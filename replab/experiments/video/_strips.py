"""Propagated-label strips for the video reports: a few frames of one test video with the ground truth and
each method's propagated masks overlaid (and point tracks), stored in the results as small JSON lists so
the report stays a pure function of its results."""

from __future__ import annotations

import numpy as np
import torch

from replab.track.report import Figure

PALETTE = np.array(
    [[0, 0, 0], [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48], [145, 30, 180]],
    dtype=np.float32,
)
"""Overlay colour per object id (0 = background, left uncoloured)."""


def strip_record(
    frames: torch.Tensor,
    rows: dict[str, torch.Tensor],
    points: dict[str, torch.Tensor] | None = None,
    every: int = 2,
    max_frames: int = 6,
) -> dict:
    """frames (T, 3, H, W) in [−1, 1]; rows {label: (T, H, W) integer masks}; points {label: (T, K, 2)
    (y, x) pixels}. Keeps frames 0, every, 2·every, … (at most max_frames) as uint8 lists."""
    idx = list(range(0, frames.shape[0], every))[:max_frames]
    rgb = ((frames[idx].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    return {
        "frames": idx,
        "rgb": rgb.tolist(),
        "rows": {k: v[idx].to(torch.int64).tolist() for k, v in rows.items()},
        "points": {k: v[idx].tolist() for k, v in (points or {}).items()},
    }


def _overlay(rgb: np.ndarray, mask: np.ndarray, alpha: float = 0.65) -> np.ndarray:
    """The frame in grey (so the sprites' own colours do not mix with the mask colours), each object id
    blended in its palette colour."""
    grey = np.repeat(rgb.mean(-1, keepdims=True), 3, axis=-1)
    colour = PALETTE[np.clip(mask, 0, len(PALETTE) - 1)]
    on = (mask > 0)[..., None]
    return np.where(on, (1 - alpha) * grey + alpha * colour, grey) / 255.0


def strip_figure(record: dict, name: str, caption: str) -> Figure:
    """One row of frames, then one row per mask source (overlaid); point tracks drawn on the frame row."""
    import matplotlib.pyplot as plt

    rgb = np.asarray(record["rgb"], dtype=np.float32)
    rows = list(record["rows"].items())
    n_rows, n_cols = 1 + len(rows), len(record["frames"])
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.3 * n_cols + 0.8, 1.3 * n_rows), squeeze=False)
    markers = ("o", "x", "+", "s")
    for c, t in enumerate(record["frames"]):
        axes[0, c].imshow(rgb[c] / 255.0)
        axes[0, c].set_title(f"t = {t}", fontsize=8)
        for j, (label, pts) in enumerate(record["points"].items()):
            p = np.asarray(pts[c])
            axes[0, c].scatter(p[:, 1] - 0.5, p[:, 0] - 0.5, s=14, marker=markers[j % 4], label=label)
        for r, (_, masks) in enumerate(rows, start=1):
            axes[r, c].imshow(_overlay(rgb[c], np.asarray(masks[c])))
    for r, label in enumerate(["frames"] + [k for k, _ in rows]):
        axes[r, 0].set_ylabel(label, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if record["points"]:
        axes[0, -1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    return Figure(name, fig, caption)
