"""Sign variance of TD errors along trajectories: local target incoherence (seed004 §S2.2, Bengio 2022
§3.2.3.2 and Fig 3.15).

ρ_xy = δ_x δ_y ∇V(x)ᵀ∇V(y): nearby states usually have positive function interference, so when their TD
errors δ = V(x) − (r + γV(x′)) have opposite signs an update at x *raises* the loss at y. The thesis's
proxy: slide windows of length 5 along stored trajectories, take the variance of sign(δ) inside each
window, average over windows. Footnote 3's example: V = [1, 2, 3, 4, 5, 6] and [1, 2, 1, 2, 1, 2] (no
reward, γ = 1) have the same mean |δ| = 1, but the second alternates in sign (sign variance 0.96 in its one
window, against 0).
"""

from __future__ import annotations

import numpy as np

WINDOW = 5
"""The thesis's window length (§3.2.3.2)."""


def td_errors(values, rewards, next_values, discount) -> np.ndarray:
    """δ_t = V(x_t) − (r_t + γ_t V(x_{t+1})) with γ_t = γ(1 − done_t), all 1-D arrays of one length."""
    v, r, v2, d = (np.asarray(a, np.float64) for a in (values, rewards, next_values, discount))
    if not (v.shape == r.shape == v2.shape == d.shape) or v.ndim != 1:
        raise ValueError(
            f"values, rewards, next_values and discount must be 1-D of one length, got {v.shape}, "
            f"{r.shape}, {v2.shape}, {d.shape}"
        )
    return v - (r + d * v2)


def sign_variance(delta, segments=None, *, window: int = WINDOW) -> float:
    """Mean over all windows of `window` consecutive δ's inside one trajectory of the (population)
    variance of sign(δ) in the window. `segments`: a trajectory id per row (rows of a trajectory
    consecutive); None treats `delta` as one trajectory. nan when no trajectory is `window` long."""
    d = np.asarray(delta, np.float64)
    if d.ndim != 1:
        raise ValueError(f"delta must be 1-D, got shape {d.shape}")
    if window < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    seg = np.zeros(len(d), np.int64) if segments is None else np.asarray(segments)
    if seg.shape != d.shape:
        raise ValueError(f"segments must have delta's shape {d.shape}, got {seg.shape}")
    if len(d) < window:
        return float("nan")
    signs = np.sign(d)
    windows = np.lib.stride_tricks.sliding_window_view(signs, window)
    same = np.lib.stride_tricks.sliding_window_view(seg, window)
    inside = (same == same[:, :1]).all(1)
    if not inside.any():
        return float("nan")
    return float(windows[inside].var(axis=1).mean())
