"""Continual World metrics (Wołczyk et al. 2021, §4 "Metrics"; CW `results_processing/tables.py`, seed002 §9.2).

A continual run trains tasks 1 … N one after the other, Δ steps each (task i in the interval
((i−1)Δ, iΔ]), and evaluates the success rate p_j(t) ∈ [0, 1] of every task j at evaluation steps t. A
reference run trains task i alone for Δ steps and gives p_i^b(t), t ∈ (0, Δ].

- **Average performance** (CW §4, eq. P): P(T) = (1/N) Σ_j p_j(T), at the end of the sequence T = NΔ.
  `tables.py` smooths p_j(T) as the mean of the last `window` evaluations (5) [S: seed002 §9.2].
- **Forgetting** (CW §4): F_i = p_i(iΔ) − p_i(T), the success at the end of task i's own training minus the
  success at the end of the sequence; F = (1/N) Σ_i F_i (F_N = 0 by definition, as in CW's mean over all
  tasks). Both ends use the same `window`-evaluation smoothing.
- **Forward transfer** (CW §4): FT_i = (AUC_i − AUC_i^b) / (1 − AUC_i^b), AUC_i = (1/Δ) ∫ p_i(t) dt over task
  i's own training interval in the continual run, AUC_i^b the same for its reference run; FT = (1/N) Σ FT_i.
  The integral is the mean of the evaluations inside the interval (evaluations every `log_every` steps,
  as CW computes it from its logged curve). Scores with another maximum than 1 (returns) pass `max_score`,
  which replaces the 1 of the normaliser.
"""

from __future__ import annotations

import numpy as np


def _curves(steps, success, num_tasks: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(steps, dtype=np.float64)
    p = np.asarray(success, dtype=np.float64)
    if s.ndim != 1 or p.ndim != 2 or p.shape[0] != s.shape[0]:
        raise ValueError(f"need steps (E,) and success (E, N), got {s.shape} and {p.shape}")
    if s.size == 0 or np.any(np.diff(s) <= 0):
        raise ValueError("steps must be non-empty and strictly increasing")
    if num_tasks is not None and p.shape[1] != num_tasks:
        raise ValueError(f"success has {p.shape[1]} task columns, expected {num_tasks}")
    return s, p


def _window_at(s: np.ndarray, p: np.ndarray, t: float, window: int) -> np.ndarray:
    """Mean of the last `window` evaluations at steps ≤ t, per task column."""
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    idx = np.flatnonzero(s <= t + 1e-9)
    if idx.size == 0:
        raise ValueError(f"no evaluation at or before step {t:g}; evaluate at least once per task")
    return p[idx[-window:]].mean(0)


def average_performance(steps, success, *, window: int = 5) -> float:
    """P(T) = (1/N) Σ_j p_j(T), p_j(T) the mean of the last `window` evaluations (CW §4)."""
    s, p = _curves(steps, success)
    return float(_window_at(s, p, s[-1], window).mean())


def forgetting(steps, success, task_steps: int, *, window: int = 5) -> np.ndarray:
    """F_i = p_i(iΔ) − p_i(T) for each task i (N,), Δ = `task_steps` (CW §4); F_N = 0."""
    s, p = _curves(steps, success)
    n = p.shape[1]
    if task_steps < 1 or s[-1] < n * task_steps - 1e-9:
        raise ValueError(
            f"the curve ends at {s[-1]:g} < N·Δ = {n * task_steps}: the sequence is not finished"
        )
    end = _window_at(s, p, n * task_steps, window)
    own = np.array([_window_at(s, p[:, [i]], (i + 1) * task_steps, window)[0] for i in range(n)])
    return own - end


def auc(steps, curve, start: float, stop: float) -> float:
    """(1/Δ) ∫ p(t) dt over (start, stop]: the mean of the evaluations inside the interval (CW §4)."""
    s = np.asarray(steps, dtype=np.float64)
    c = np.asarray(curve, dtype=np.float64)
    inside = (s > start + 1e-9) & (s <= stop + 1e-9)
    if not inside.any():
        raise ValueError(
            f"no evaluation inside ({start:g}, {stop:g}]; evaluate more often than once per task"
        )
    return float(c[inside].mean())


def forward_transfer(
    steps, success, task_steps: int, reference: list, *, max_score: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(FT_i, AUC_i, AUC_i^b) per task (N,) each: FT_i = (AUC_i − AUC_i^b) / (max_score − AUC_i^b) (CW §4).

    `reference[i]` = (steps, curve) of task i trained alone for Δ = `task_steps` steps from step 0."""
    s, p = _curves(steps, success)
    n = p.shape[1]
    if len(reference) != n:
        raise ValueError(f"need one reference curve per task ({n}), got {len(reference)}")
    a = np.array([auc(s, p[:, i], i * task_steps, (i + 1) * task_steps) for i in range(n)])
    b = np.array([auc(rs, rc, 0, task_steps) for rs, rc in reference])
    if np.any(b >= max_score):
        raise ValueError(
            f"a reference AUC reaches max_score {max_score:g} ({b.tolist()}): FT is undefined; lower the success "
            "threshold or shorten the reference run"
        )
    return (a - b) / (max_score - b), a, b


def cw_summary(steps, success, task_steps: int, reference: list | None = None, *, window: int = 5) -> dict:
    """All CW metrics of one run: performance, forgetting (mean and per task), and with reference
    curves forward transfer (mean and per task) and the AUCs."""
    f = forgetting(steps, success, task_steps, window=window)
    out = {
        "performance": average_performance(steps, success, window=window),
        "forgetting": float(f.mean()),
        "forgetting_per_task": f.tolist(),
    }
    if reference is not None:
        ft, a, b = forward_transfer(steps, success, task_steps, reference)
        out |= {"forward_transfer": float(ft.mean()), "ft_per_task": ft.tolist(), "auc": a.tolist(),
                "auc_reference": b.tolist()}  # fmt: skip
    return out
