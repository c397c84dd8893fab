"""Forward-view λ-returns on stored trajectories (seed004 §S2.2, Bengio 2022 eq. 3.18–3.19).

G^λ(S_t) = (1 − λ) Σ_{n≥1} λ^{n−1} G^n(S_t), with G^n(S_t) = γ^n V(S_{t+n}) + Σ_{j<n} γ^j R_{t+j} (eq. 3.18),
and the TD(λ) loss (V_θ(S_t) − G^λ(S_t))² (eq. 3.19). The thesis computes the targets with the frozen
network and recomputes all of them whenever it is updated ("forward view", §3.2.3.1 and its appendix);
`lambda_returns` does that for a whole buffer with the equivalent backward recursion

    G^λ_t = R_t + γ_t [(1 − λ) V(S_{t+1}) + λ G^λ_{t+1}],

where γ_t = 0 after a terminal step. At the last stored step of a trajectory that did not terminate the
series is cut: G^λ_t = R_t + γ V(S_{t+1}) (every later n-step return is replaced by the bootstrap there).
λ = 0 gives the one-step target R_t + γV(S_{t+1}); λ = 1 the Monte-Carlo return (bootstrapped only at a
cut). `lambda_return_direct` evaluates eq. 3.18's sum term by term, for the tests.
"""

from __future__ import annotations

import numpy as np


def _check(rewards, next_values, terminal, last, gamma, lam):
    r = np.asarray(rewards, np.float64)
    v = np.asarray(next_values, np.float64)
    term = np.asarray(terminal, bool)
    end = np.asarray(last, bool)
    if not (r.shape == v.shape == term.shape == end.shape) or r.ndim != 1:
        raise ValueError(
            "rewards, next_values, terminal and last must be 1-D arrays of one length, got shapes "
            f"{r.shape}, {v.shape}, {term.shape}, {end.shape}"
        )
    if len(r) and not (end[-1] or term[-1]):
        raise ValueError("the buffer's final row must end its trajectory (last or terminal must be True)")
    if not 0 <= lam <= 1:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    return r, v, term, end | term


def lambda_returns(rewards, next_values, terminal, last, gamma: float, lam: float) -> np.ndarray:
    """G^λ for every row of a buffer of consecutive trajectories (float64, shape (N,)).

    Row t holds R_t, V(S_{t+1}) (`next_values`, the frozen network's bootstrap value of the next state),
    `terminal` (the episode ended: no bootstrap) and `last` (the last stored step of its trajectory;
    rows of one trajectory are consecutive, in time order)."""
    r, v, term, end = _check(rewards, next_values, terminal, last, gamma, lam)
    g = np.empty_like(r)
    nxt = 0.0
    cont = 1.0 - term.astype(np.float64)
    for t in range(len(r) - 1, -1, -1):
        boot = v[t] if end[t] else (1 - lam) * v[t] + lam * nxt
        nxt = r[t] + gamma * cont[t] * boot
        g[t] = nxt
    return g


def lambda_return_direct(rewards, next_values, terminal, last, gamma: float, lam: float, t: int) -> float:
    """G^λ(S_t) by eq. 3.18's weighted sum of n-step returns, truncated where the trajectory ends: after a
    terminal at step T every G^n with n ≥ T − t + 1 equals the Monte-Carlo return; after a cut they all
    equal the bootstrapped return at the cut (weights summing to 1 either way)."""
    r, v, term, end = _check(rewards, next_values, terminal, last, gamma, lam)
    stop = t
    while not end[stop]:
        stop += 1
    m = stop - t + 1  # n-step returns G^1 .. G^m are distinct; G^n = G^m for n > m

    def g_n(n: int) -> float:
        disc = sum(gamma**j * r[t + j] for j in range(n))
        boot = 0.0 if term[t + n - 1] else gamma**n * v[t + n - 1]
        return disc + boot

    total = sum((1 - lam) * lam ** (n - 1) * g_n(n) for n in range(1, m))
    return float(total + lam ** (m - 1) * g_n(m))
