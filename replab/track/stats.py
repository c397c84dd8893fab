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


def stratified_indices(strata, reps: int, rng: np.random.Generator) -> np.ndarray:
    """(reps, N) bootstrap resamples of unit indices: each stratum's units (an array of indices into the
    N units) resampled with replacement, independently per stratum, in the order given (the stratified
    bootstrap of `bootstrap_ci`, for strata of unequal sizes and statistics of several paired arrays)."""
    parts = [np.asarray(s)[rng.integers(0, len(s), size=(reps, len(s)))] for s in strata]
    return np.concatenate(parts, axis=1)


def percentile_interval(
    samples, level: float = 0.95, n: int | None = None, df: int | None = None
) -> tuple[float, float]:
    """Percentile interval of bootstrap `samples`; with `n`, the expanded percentile interval.

    The plain percentile interval of a mean is too narrow for small samples (the bootstrap variance is
    (n−1)/n of the plug-in one and uses normal instead of t quantiles: a nominal 95% interval covers
    ≈ 88% at n = 5). The expanded percentile interval (Hesterberg 2015, "What teachers should know
    about the bootstrap", The American Statistician 69(4)) takes the percentiles at α' / 2 and 1 − α' / 2 with
    α' = 2 Φ(−√(n/(n−1)) · t_{1−α/2, df}), df = n − 1 unless given, which restores the coverage.
    """
    from scipy.stats import norm, t

    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    alpha = 1 - level
    if n is not None:
        if n < 2:
            return float("nan"), float("nan")
        df = n - 1 if df is None else df
        alpha = 2 * float(norm.cdf(-np.sqrt(n / (n - 1)) * t.ppf(1 - alpha / 2, df)))
    x = np.asarray(samples, dtype=float)
    return float(np.quantile(x, alpha / 2)), float(np.quantile(x, 1 - alpha / 2))


def sign_flip_p(u, permutations: int = 20_000, seed: int = 0, exact_units: int = 16) -> float:
    """One-sided p-value of mean(u) > 0 by a paired sign-flip permutation test: the fraction of sign
    patterns s with mean(s·u) ≥ mean(u) (ties count against the claim). Exact over all 2^N patterns when
    N ≤ `exact_units`, else `permutations` seeded random patterns with p = (1 + hits) / (1 + draws)."""
    import itertools

    u = np.asarray(u, dtype=float)
    if u.size == 0:
        return float("nan")
    obs = u.sum()
    tol = 1e-9 * max(1.0, float(np.abs(u).sum()))  # an exact tie in floating point is a tie
    if u.size <= exact_units:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=u.size)))
        return float(((signs @ u) >= obs - tol).mean())
    rng = np.random.default_rng(seed + 1)
    hits = 0
    for start in range(0, permutations, 5000):
        signs = rng.choice((-1.0, 1.0), size=(min(5000, permutations - start), u.size))
        hits += int(((signs @ u) >= obs - tol).sum())
    return (1 + hits) / (1 + permutations)


def seeds_needed(u, strata=None, level: float = 0.95, min_seeds: int = 5, power: float = 0.8) -> int | None:
    """Seeds per stratum (task) for a mean ū of `u` with within-stratum standard deviation s to clear 0
    at two-sided `level` with `power` (normal approximation): ((z_{1−α/2} + z_power) · s / |ū|)² / T for
    T strata, at least `min_seeds`; `min_seeds` when s = 0; None when ū = 0 or there is no spread to
    estimate (one unit per stratum). `strata`: index arrays of the units of each stratum (default one)."""
    from scipy.stats import norm

    u = np.asarray(u, dtype=float)
    groups = [u[np.asarray(s)] for s in strata] if strata is not None else [u]
    dof = u.size - len(groups)
    if dof < 1:
        return None
    gap = abs(float(u.mean()))
    sd = float(np.sqrt(sum(float(((g - g.mean()) ** 2).sum()) for g in groups) / dof))
    if gap == 0:
        return None
    if sd == 0:
        return min_seeds
    z = norm.ppf(1 - (1 - level) / 2) + norm.ppf(power)
    total = (z * sd / gap) ** 2
    if not np.isfinite(total) or total > 1e9:
        return None
    return max(min_seeds, int(np.ceil(total / len(groups))))
