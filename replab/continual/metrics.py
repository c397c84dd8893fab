"""Stream metrics of NEVIS'22 (seed002 §7.3) and the compute/error curves of PRUNE (§3.3).

An event log is a list of dicts, one per prediction event, in stream order, each with `task`, `kind`
("single" or "multi"), `n` (test examples), `error` (single-label: top-1 error) or `map` (multi-label:
macro average precision), and `flops` (the training FLOPs of that task's training event). This mirrors
`experiments_*/metrics/nevis_metrics.py`:

- `average_single_label_error`: unweighted mean over single-label events (NEVIS
  `average_single_label_accuracy`, as an error);
- `weighted_single_label_error`: Σ wrong / Σ examples (NEVIS `weighted_average_single_label_accuracy`);
- `mean_map`: mean over multi-label events of sklearn's macro `average_precision_score` (NEVIS: "TODO:
  find a better way to combine mAP" — the plain mean is what it does);
- `cumulative_flops`: `cumulative_train_flops_used` at each prediction event.

Beyond NEVIS (which never revisits a task): `forgetting` and `forward_transfer` from an accuracy matrix,
`pareto_frontier` and `frontier_auc` (the area under an error-vs-log-FLOPs frontier, PRUNE §3.3 [P]) and
`error_vs_compute` (the stream-average error after each task against the cumulative FLOPs, NEVIS's plot).
"""

from __future__ import annotations

import math

import numpy as np

KINDS = ("single", "multi")


def top1_error(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose arg-max score is not the label. scores (N, K), labels (N,)."""
    scores, labels = np.asarray(scores), np.asarray(labels)
    if scores.ndim != 2 or labels.shape != (scores.shape[0],):
        raise ValueError(f"need scores (N, K) and labels (N,), got {scores.shape} and {labels.shape}")
    return float(np.mean(scores.argmax(1) != labels))


def mean_average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Macro average precision over the labels that have a positive example (sklearn's
    `average_precision_score(average="macro")`, as NEVIS). scores, labels (N, L) with labels in {0, 1}."""
    from sklearn.metrics import average_precision_score

    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels)
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f"need scores and labels of one shape (N, L), got {scores.shape} and {labels.shape}")
    present = labels.sum(0) > 0  # AP is undefined for a label without positives
    if not present.any():
        raise ValueError("mAP needs at least one positive label in the test split")
    return float(average_precision_score(labels[:, present], scores[:, present], average="macro"))


def _check_log(log: list[dict]) -> None:
    for i, e in enumerate(log):
        if e.get("kind") not in KINDS:
            raise ValueError(f"event {i}: kind must be one of {KINDS}, got {e.get('kind')!r}")
        need = "error" if e["kind"] == "single" else "map"
        if need not in e:
            raise ValueError(f"event {i} ({e['kind']}-label) lacks {need!r}")


def average_single_label_error(log: list[dict]) -> float:
    """Unweighted mean of the single-label events' errors (nan when there is none)."""
    _check_log(log)
    errs = [e["error"] for e in log if e["kind"] == "single"]
    return float(np.mean(errs)) if errs else math.nan


def weighted_single_label_error(log: list[dict]) -> float:
    """Σ wrong / Σ examples over the single-label events (large test sets weigh more)."""
    _check_log(log)
    single = [e for e in log if e["kind"] == "single"]
    total = sum(e["n"] for e in single)
    return float(sum(e["error"] * e["n"] for e in single) / total) if total else math.nan


def mean_map(log: list[dict]) -> float:
    """Mean mAP over the multi-label events (nan when there is none)."""
    _check_log(log)
    maps = [e["map"] for e in log if e["kind"] == "multi"]
    return float(np.mean(maps)) if maps else math.nan


def stream_error(log: list[dict]) -> float:
    """Mean over all events of the error, counting a multi-label event as 1 − mAP (one number per stream
    for the error-vs-compute curve; NEVIS reports the two kinds apart, as the report does too)."""
    _check_log(log)
    if not log:
        return math.nan
    return float(np.mean([e["error"] if e["kind"] == "single" else 1 - e["map"] for e in log]))


def cumulative_flops(log: list[dict]) -> list[float]:
    """Training FLOPs used up to and including each event's task (NEVIS `cumulative_train_flops_used`)."""
    return [float(x) for x in np.cumsum([float(e["flops"]) for e in log])]


def error_vs_compute(log: list[dict]) -> tuple[list[float], list[float]]:
    """(cumulative FLOPs, stream error of the events so far) after each event: NEVIS's Pareto plot axes."""
    return cumulative_flops(log), [stream_error(log[: i + 1]) for i in range(len(log))]


def forgetting(acc: np.ndarray) -> np.ndarray:
    """Per task j < T−1: the drop from its best accuracy to its final one, max_{i<T−1} R[i, j] − R[T−1, j]
    (Chaudhry et al. 2018; Continual World's forgetting). `acc` (T, T): R[i, j] = accuracy on task j after
    training through task i (only i ≥ j is read). Returns (T−1,)."""
    acc = np.asarray(acc, dtype=float)
    if acc.ndim != 2 or acc.shape[0] != acc.shape[1] or acc.shape[0] < 2:
        raise ValueError(f"acc must be a square (T, T) matrix with T >= 2, got shape {acc.shape}")
    t = acc.shape[0]
    return np.array([max(acc[i, j] for i in range(j, t - 1)) - acc[t - 1, j] for j in range(t - 1)])


def forward_transfer(acc: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per task: its accuracy right after learning it minus a reference learner's on it (NEVIS's baseline:
    Independent, trained from scratch), R[j, j] − ref[j] (GEM's forward transfer with the from-scratch
    learner as the baseline instead of a random network). `acc` (T, T) or the diagonal (T,)."""
    acc = np.asarray(acc, dtype=float)
    diag = np.diag(acc) if acc.ndim == 2 else acc
    reference = np.asarray(reference, dtype=float)
    if reference.shape != diag.shape:
        raise ValueError(f"reference must have one value per task {diag.shape}, got {reference.shape}")
    return diag - reference


def pareto_frontier(flops, errors) -> tuple[np.ndarray, np.ndarray]:
    """The points no other point beats at equal or lower FLOPs: sorted by FLOPs, errors strictly falling."""
    f, e = np.asarray(flops, dtype=float), np.asarray(errors, dtype=float)
    if f.shape != e.shape or f.ndim != 1 or not f.size:
        raise ValueError(f"need non-empty flops and errors of one length, got {f.shape} and {e.shape}")
    order = np.lexsort((e, f))
    keep, best = [], math.inf
    for i in order:
        if e[i] < best:
            keep.append(i)
            best = e[i]
    return f[keep], e[keep]


def frontier_error(flops, errors, budget: float, select=None) -> float:
    """The best error among the points with FLOPs ≤ `budget` (nan when none fits; a relative 1e-9 of slack,
    so a budget computed as some point's FLOPs includes it). `select`: per-point errors (dev) that choose the
    point — fewest FLOPs among equals — whose `errors` (test) is returned: model selection on dev."""
    f, e = np.asarray(flops, dtype=float), np.asarray(errors, dtype=float)
    fits = np.flatnonzero(f <= budget * (1 + 1e-9))
    if not fits.size:
        return math.nan
    if select is None:
        return float(e[fits].min())
    d = np.asarray(select, dtype=float)
    return float(e[fits[np.lexsort((f[fits], d[fits]))[0]]])


def frontier_auc(flops, errors, lo: float, hi: float, points: int = 64, select=None) -> float:
    """Mean of the frontier's error over log10 FLOPs in [lo, hi] (the area under the Pareto curve divided
    by its width; PRUNE §3.3 [P]), on `points` log-spaced budgets; a budget below every point counts as the
    worst error of all points (no model affordable). `select` as in `frontier_error`."""
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < lo < hi, got lo={lo}, hi={hi}")
    e = np.asarray(errors, dtype=float)
    worst = float(e.max())
    grid = np.logspace(math.log10(lo), math.log10(hi), points)
    vals = [frontier_error(flops, errors, b, select) for b in grid]
    return float(np.mean([worst if math.isnan(v) else v for v in vals]))


def auc(x, y) -> float:
    """Trapezoid area under y(x) divided by the x range (a mean of y over x)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.size < 2 or np.any(np.diff(x) <= 0):
        raise ValueError("auc needs >= 2 points with strictly increasing x")
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))
