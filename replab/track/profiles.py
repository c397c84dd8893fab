"""Performance profiles as PNG, in the style of rliable's `plot_utils.plot_performance_profiles`: for each
method the fraction of runs × tasks scoring above τ, with its pointwise 95% bootstrap band (Agarwal et
al. 2021, §4.2 and Fig. 5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from replab.track import aggregate
from replab.track.report import pyplot


def draw(
    scores: dict[str, np.ndarray], path: Path, title: str, xlabel: str, reps: int = 2000, seed: int = 0
) -> Path:
    """One line per method over 101 thresholds spanning all scores; the shaded band is the CI."""
    plt = pyplot()
    every = np.concatenate([np.ravel(x) for x in scores.values()])
    lo, hi = float(every.min()), float(every.max())
    pad = 0.02 * (hi - lo or 1.0)
    taus = np.linspace(lo - pad, hi + pad, 101)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for i, (name, x) in enumerate(scores.items()):
        profile, low, high = aggregate.performance_profile(x, taus, reps=reps, seed=seed)
        color = plt.cm.tab10(i % 10)
        ax.plot(taus, profile, color=color, lw=2, label=f"{name} ({x.shape[0]} runs)")
        ax.fill_between(taus, low, high, color=color, alpha=0.2, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(r"fraction of runs with score $> \tau$")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
