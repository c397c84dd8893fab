"""Statistics across seeds: the interquartile mean and percentile-bootstrap confidence intervals.

Follows Agarwal et al. 2021 ("Deep RL at the edge of the statistical precipice", the `rliable` library):
IQM = the mean of the middle 50% of scores (scipy's `trim_mean` with 25% cut at each end), and 95% CIs
from a bootstrap that resamples runs with replacement (stratified per task when scores are runs × tasks).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import trim_mean


def iqm(scores) -> float:
    """Interquartile mean of all entries of `scores` (runs, or runs × tasks)."""
    return float(trim_mean(np.asarray(scores, dtype=float), proportiontocut=0.25, axis=None))


def bootstrap_ci(
    scores, statistic=iqm, reps: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap CI of `statistic` over runs.

    `scores` is (runs,) or (runs, tasks); runs are resampled with replacement independently per task
    (rliable's stratified bootstrap). With a single run the interval is degenerate (the value itself).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = np.asarray(scores, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    runs, tasks = x.shape
    if runs == 0:
        raise ValueError("bootstrap_ci needs at least one run")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    samples = np.take_along_axis(np.broadcast_to(x, (reps, runs, tasks)), idx, axis=1)
    if statistic is iqm:  # vectorised: one trim_mean over all bootstrap samples
        stats = trim_mean(samples.reshape(reps, -1), proportiontocut=0.25, axis=1)
    else:
        stats = np.array([statistic(s) for s in samples])
    alpha = (1 - level) / 2
    return float(np.quantile(stats, alpha)), float(np.quantile(stats, 1 - alpha))


def aggregate(values, reps: int = 2000, seed: int = 0) -> dict[str, float]:
    """n, mean, IQM and the 95% bootstrap CI of the IQM of a list of per-seed values (NaNs dropped)."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if x.size == 0:
        return {
            "n": 0,
            "mean": float("nan"),
            "iqm": float("nan"),
            "ci_low": float("nan"),
            "ci_high": float("nan"),
        }
    lo, hi = bootstrap_ci(x, iqm, reps=reps, seed=seed)
    return {"n": int(x.size), "mean": float(x.mean()), "iqm": iqm(x), "ci_low": lo, "ci_high": hi}
