"""Aggregate performance across runs and tasks, with stratified bootstrap CIs, as `rliable` computes it.

Agarwal et al. 2021, "Deep RL at the edge of the statistical precipice" (NeurIPS), and its library
`rliable` (checked against rliable 1.2.0 by `benchmarks/rliable_check.py`). A score matrix is
(runs × tasks); a method's runs are its seeds, its tasks the summary numbers compared.

- IQM: the 25% trimmed mean of all runs × tasks (§4.3; `track/stats.iqm`, shared with `replab compare`);
- mean, median: of the per-task mean scores (rliable `aggregate_mean`, `aggregate_median`);
- optimality gap: γ − mean(min(score, γ)) over runs × tasks (§4.3, γ = 1 for normalised scores);
- probability of improvement P(X > Y): per task the Mann-Whitney U of X's runs over Y's, divided by
  n_X · n_Y (ties count ½), averaged over tasks (§4.3);
- CIs: percentile intervals of a stratified bootstrap (§3.2, resampling runs with replacement
  independently per task). The resamples are drawn exactly as rliable's `StratifiedBootstrap` draws
  them (legacy `numpy.random` MT19937 seeded with `seed`, one `choice(runs, (runs, tasks))` per
  replicate, X's then Y's for P(X > Y)), so at the same seed and reps the intervals are rliable's too;
- performance profiles: the fraction of runs × tasks with a score above τ (rliable
  `create_performance_profile`, score distributions, §4.2), with pointwise bootstrap CIs.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import trim_mean

from replab.track.stats import iqm

__all__ = [
    "METRICS",
    "iqm",
    "interval_estimate",
    "mean_score",
    "median_score",
    "optimality_gap",
    "performance_profile",
    "poi_estimate",
    "probability_of_improvement",
]


def _matrix(scores) -> np.ndarray:
    x = np.asarray(scores, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"scores must be a (runs x tasks) matrix with at least one of each, got shape {x.shape}"
        )
    return x


def _batch_iqm(x: np.ndarray) -> np.ndarray:
    return trim_mean(x.reshape(*x.shape[:-2], -1), proportiontocut=0.25, axis=-1)


def mean_score(scores) -> float:
    """The mean over tasks of each task's mean over runs (rliable `aggregate_mean`)."""
    return float(_batch_mean(_matrix(scores)))


def _batch_mean(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=-2).mean(axis=-1)


def median_score(scores) -> float:
    """The median over tasks of each task's mean over runs (rliable `aggregate_median`)."""
    return float(_batch_median(_matrix(scores)))


def _batch_median(x: np.ndarray) -> np.ndarray:
    return np.median(x.mean(axis=-2), axis=-1)


def optimality_gap(scores, gamma: float = 1.0) -> float:
    """γ − the mean of min(score, γ) over runs × tasks (rliable `aggregate_optimality_gap`)."""
    return float(gamma - np.minimum(_matrix(scores), gamma).mean())


def _batch_gap(gamma: float):
    return lambda x: gamma - np.minimum(x, gamma).mean(axis=(-2, -1))


METRICS = {"IQM": _batch_iqm, "mean": _batch_mean, "median": _batch_median}
"""Statistics of a (…, runs, tasks) array over its last two axes; `optimality gap` needs γ (`metrics`)."""


def metrics(gamma: float = 1.0) -> dict:
    return {**METRICS, "optimality gap": _batch_gap(gamma)}


def bootstrap_indices(runs: int, tasks: int, reps: int, seed: int) -> np.ndarray:
    """(reps, runs, tasks) run indices: each replicate resamples the runs of every task independently,
    drawn as rliable's `StratifiedBootstrap.update_indices` draws them after `np.random.seed(seed)`."""
    rng = np.random.RandomState(seed)  # noqa: NPY002 (the legacy stream is rliable's, on purpose)
    return rng.randint(0, runs, size=(reps, runs, tasks))


def interval_estimate(
    scores, statistic, reps: int = 50_000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(point estimate, CI low, CI high) of `statistic` (a function of a (…, runs, tasks) array, e.g.
    `METRICS['IQM']`) by the stratified percentile bootstrap (rliable `get_interval_estimates`,
    method='percentile'; its default reps are 50000)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    x = _matrix(scores)
    runs, tasks = x.shape
    idx = bootstrap_indices(runs, tasks, reps, seed)
    samples = statistic(x[idx, np.arange(tasks)])
    alpha = 100 * (1 - level) / 2
    lo, hi = np.percentile(samples, [alpha, 100 - alpha])
    return float(statistic(x)), float(lo), float(hi)


def _batch_poi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(X > Y) of (…, n_x, tasks) and (…, n_y, tasks) arrays: U / (n_x n_y) per task, mean over tasks."""
    diff = x[..., :, None, :] - y[..., None, :, :]  # (…, n_x, n_y, tasks)
    u = (diff > 0).sum(axis=(-3, -2)) + 0.5 * (diff == 0).sum(axis=(-3, -2))
    return (u / (x.shape[-2] * y.shape[-2])).mean(axis=-1)


def probability_of_improvement(scores_x, scores_y) -> float:
    """P(X > Y) averaged over tasks (rliable `probability_of_improvement`: Mann-Whitney U / (n_x n_y))."""
    x, y = _matrix(scores_x), _matrix(scores_y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"X and Y must have the same tasks, got {x.shape[1]} and {y.shape[1]}")
    return float(_batch_poi(x, y))


def poi_estimate(
    scores_x, scores_y, reps: int = 50_000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(P(X > Y), CI low, CI high): X's and Y's runs resampled independently per task (rliable's
    `StratifiedIndependentBootstrap`, X's indices then Y's in each replicate)."""
    x, y = _matrix(scores_x), _matrix(scores_y)
    point = probability_of_improvement(x, y)
    rng = np.random.RandomState(seed)  # noqa: NPY002 (rliable's legacy stream)
    tasks = x.shape[1]
    if x.shape == y.shape:  # one draw: replicate r's X then Y indices are consecutive in the stream
        both = rng.randint(0, x.shape[0], size=(reps, 2, *x.shape))
        ix, iy = both[:, 0], both[:, 1]
    else:
        ix = np.empty((reps, *x.shape), dtype=int)
        iy = np.empty((reps, *y.shape), dtype=int)
        for r in range(reps):
            ix[r] = rng.randint(0, x.shape[0], size=x.shape)
            iy[r] = rng.randint(0, y.shape[0], size=y.shape)
    cols = np.arange(tasks)
    samples = np.concatenate(
        [
            _batch_poi(x[ix[s], cols], y[iy[s], cols])
            for s in np.array_split(np.arange(reps), max(1, reps // 5000))
        ]
    )
    alpha = 100 * (1 - level) / 2
    lo, hi = np.percentile(samples, [alpha, 100 - alpha])
    return point, float(lo), float(hi)


def performance_profile(
    scores, taus, reps: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(profile, CI low, CI high) at each τ: the fraction of runs × tasks scoring above τ (rliable's score
    distribution; its profiles default to 2000 reps)."""
    x = _matrix(scores)
    taus = np.asarray(taus, dtype=float)
    runs, tasks = x.shape
    idx = bootstrap_indices(runs, tasks, reps, seed)
    resampled = x[idx, np.arange(tasks)].reshape(reps, -1)
    samples = (resampled[:, :, None] > taus).mean(axis=1)  # (reps, taus)
    alpha = 100 * (1 - level) / 2
    lo, hi = np.percentile(samples, [alpha, 100 - alpha], axis=0)
    return (x.reshape(-1, 1) > taus).mean(axis=0), lo, hi
