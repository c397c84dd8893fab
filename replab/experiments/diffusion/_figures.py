"""Figures shared by the RIN reports: sample grids, per-seed metric panels and read-attention maps."""

from __future__ import annotations

import numpy as np

from replab.track.report import Figure, pyplot


def _tile(images: np.ndarray, cols: int) -> np.ndarray:
    """(N, C, H, W) in [−1, 1] -> one (rows·(H+1), cols·(W+1), C) image in [0, 1] with 1-px gaps."""
    n, c, h, w = images.shape
    rows = -(-n // cols)
    out = np.ones((rows * (h + 1), cols * (w + 1), c))
    for i in range(n):
        r, k = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, k * (w + 1) : k * (w + 1) + w] = images[i].transpose(1, 2, 0)
    return np.clip((out + 1) / 2, 0, 1)


def sample_grids(name: str, grids: dict[str, list], caption: str, cols: int = 10) -> Figure:
    """One panel of samples per model: {title: nested list (N, C, H, W)}."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(grids), figsize=(3.2 * len(grids), 1.6 + 0.1 * cols), squeeze=False)
    for ax, (title, g) in zip(axes[0], grids.items()):
        img = _tile(np.asarray(g, dtype=np.float64), cols)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return Figure(name, fig, caption)


def per_seed(name: str, metrics: dict[str, dict[str, dict]], caption: str) -> Figure:
    """One panel per metric: {metric: {model: {seed: value}}}, bars at the mean, dots per seed."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3.0), squeeze=False)
    for ax, (metric, by_model) in zip(axes[0], metrics.items()):
        for i, vals in enumerate(by_model.values()):
            v = [x for x in vals.values() if np.isfinite(x)]
            ax.bar(i, np.mean(v) if v else np.nan, color=f"C{i}", alpha=0.6)
            ax.scatter([i] * len(v), v, color="k", s=8, zorder=3)
        ax.set_xticks(range(len(by_model)), list(by_model), fontsize=8, rotation=15)
        ax.set_title(metric, fontsize=9)
    fig.tight_layout()
    return Figure(name, fig, caption)


def attention_maps(
    name: str, rows: dict[str, list], images: list, columns: list[str], caption: str
) -> Figure:
    """Read-attention maps: {row title: [(H', W') map per column]} beside one image per row (`images`,
    nested (R, C, H, W)); `columns` titles the map columns (e.g. the reverse times)."""
    plt = pyplot()
    titles = list(rows)
    fig, axes = plt.subplots(
        len(titles), len(columns) + 1, figsize=(1.5 * (len(columns) + 1), 1.6 * len(titles))
    )
    axes = np.atleast_2d(axes)
    for r, title in enumerate(titles):
        img = np.clip((np.asarray(images[r], dtype=np.float64).transpose(1, 2, 0) + 1) / 2, 0, 1)
        axes[r, 0].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray")
        axes[r, 0].set_ylabel(title, fontsize=7)
        for k, m in enumerate(rows[title]):
            axes[r, k + 1].imshow(np.asarray(m), cmap="magma")
            if r == 0:
                axes[r, k + 1].set_title(columns[k], fontsize=8)
        for ax in axes[r]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_title("sample", fontsize=8)
    fig.tight_layout()
    return Figure(name, fig, caption)


def model_attention(units: dict[str, dict], per_model: int = 2) -> Figure | None:
    """The digits reports' read-attention maps: {model title: a unit's results} -> rows of `per_model`
    samples per model, columns the recorded reverse times (None when no unit recorded maps: results
    stored before the maps existed)."""
    rows, images, times = {}, [], None
    for title, unit in units.items():
        att = unit.get("attention")
        if not att:
            continue
        times = times or list(att["maps"])
        for i in range(min(per_model, len(att["grid"]))):
            rows[f"{title} #{i}"] = [att["maps"][t][i] for t in times]
            images.append(att["grid"][i])
    if not rows:
        return None
    return attention_maps(
        "attention",
        rows,
        images,
        [f"t = {float(t):.2f}" for t in times],
        "Read attention over the patches (blocks, heads and learned latents averaged) at each recorded "
        "reverse time, beside the sample it drew (classes 0, 1, …); first seed.",
    )
