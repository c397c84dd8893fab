"""Trajectory-level Gaussian mixture (seed003 §C.2.4, App. 4.7.1 Eqs. 4.14–4.19), in log space.

q(s, z) = q(s|z) q(z) is a state-level mixture, but the responsibilities are shared by all states of a
trajectory (conditional independence given z):

    log q_ik = log π_k + Σ_t log N(x_t^i; μ_k, Σ_k) − logsumexp_j [log π_j + Σ_t log N(x_t^i; μ_j, Σ_j)]  (4.16)
    μ_k = Σ_i (q_ik/T) Σ_t x_t^i / Σ_i q_ik                                                                (4.17)
    Σ_k = Σ_i (q_ik/T) Σ_t (x_t^i − μ_k)(x_t^i − μ_k)ᵀ / Σ_i q_ik  (+ reg·I)                              (4.18)
    π_k = (1/N) Σ_i q_ik                                                                                   (4.19)

scikit-learn's `GaussianMixture` cannot share responsibilities over a trajectory's states, so EM is written
here; it starts from scikit-learn's k-means on the trajectory means, which is exactly trajectory-level k-means
for equal-length trajectories (Σ_t ‖x_t − μ‖² = Σ_t ‖x_t − x̄‖² + T ‖x̄ − μ‖²: the argmin over μ_k and the
centroid, the mean of the assigned trajectories' states, only depend on x̄).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

COVARIANCES = ("full", "diag")


def trajectory_kmeans(x: np.ndarray, k: int, seed: int = 0, n_init: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Trajectory-level k-means (§C.2.4 [ASSUMP]) of x (N, T, D): (labels (N,), centroids (k, D)). Equivalent
    to scikit-learn's KMeans on the trajectory means (module docstring)."""
    from sklearn.cluster import KMeans

    if x.ndim != 3:
        raise ValueError(f"trajectory features must be (N, T, D), got shape {x.shape}")
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be in [1, {len(x)}] (the number of trajectories), got {k}")
    km = KMeans(k, n_init=n_init, random_state=seed).fit(x.mean(1))
    return km.labels_, km.cluster_centers_


def state_log_prob(x: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """log N(x; μ_k, Σ_k) for states x (..., D) and every component: (..., K). covs (K, D, D)."""
    d = x.shape[-1]
    chol = np.linalg.cholesky(covs)  # (K, D, D)
    flat = x.reshape(-1, d)
    out = np.empty((len(flat), len(means)))
    for k in range(len(means)):
        sol = np.linalg.solve(chol[k], (flat - means[k]).T)  # (D, n): L⁻¹ (x − μ)
        logdet = 2 * np.log(np.diag(chol[k])).sum()
        out[:, k] = -0.5 * ((sol**2).sum(0) + logdet + d * math.log(2 * math.pi))
    return out.reshape(*x.shape[:-1], len(means))


class TrajectoryGMM:
    """EM of the trajectory-level mixture on x (N, T, D). After `fit`: `weights` π (K,), `means` (K, D),
    `covs` (K, D, D) (diagonal ones stored as full)."""

    def __init__(
        self, k: int, covariance: str = "full", reg: float = 1e-3, iters: int = 100, tol: float = 1e-5
    ):
        if covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {COVARIANCES}, got {covariance!r}")
        if k < 1 or reg < 0 or iters < 1:
            raise ValueError(f"need k >= 1, reg >= 0 and iters >= 1, got {k}, {reg}, {iters}")
        self.k, self.covariance, self.reg, self.iters, self.tol = k, covariance, reg, iters, tol

    def responsibilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eq. 4.16 in log space: (log q_ik (N, K), per-trajectory log-likelihood log Σ_k π_k Π_t N (N,))."""
        joint = np.log(self.weights) + state_log_prob(x, self.means, self.covs).sum(1)  # (N, K)
        norm = logsumexp(joint, axis=1)
        return joint - norm[:, None], norm

    def _m_step(self, x: np.ndarray, q: np.ndarray) -> None:
        n, t, d = x.shape
        nk = q.sum(0) + 1e-12
        self.weights = np.clip(nk / n, 1e-12, None)  # Eq. 4.19
        self.weights /= self.weights.sum()
        self.means = np.einsum("ik,itd->kd", q / t, x) / nk[:, None]  # Eq. 4.17
        covs = np.empty((self.k, d, d))
        for k in range(self.k):
            c = x - self.means[k]
            covs[k] = np.einsum("i,itd,ite->de", q[:, k] / t, c, c) / nk[k]  # Eq. 4.18
            if self.covariance == "diag":
                covs[k] = np.diag(np.diag(covs[k]))
            covs[k] += self.reg * np.eye(d)
        self.covs = covs

    def fit(self, x: np.ndarray, labels: np.ndarray | None = None, seed: int = 0) -> TrajectoryGMM:
        """EM from hard labels (default: trajectory-level k-means); stops when the mean log-likelihood per
        trajectory changes by less than `tol`."""
        if x.ndim != 3:
            raise ValueError(f"trajectory features must be (N, T, D), got shape {x.shape}")
        x = x.astype(np.float64)
        if labels is None:
            labels, _ = trajectory_kmeans(x, self.k, seed)
        self._m_step(x, np.eye(self.k)[labels])
        prev = -np.inf
        self.history = []
        for _ in range(self.iters):
            log_q, ll = self.responsibilities(x)
            self.history.append(float(ll.mean()))
            if abs(self.history[-1] - prev) < self.tol * max(1.0, abs(prev)):
                break
            prev = self.history[-1]
            self._m_step(x, np.exp(log_q))
        return self

    def log_prob_states(self, x: np.ndarray) -> np.ndarray:
        """log q(s|z=k) for states x (..., D): (..., K)."""
        return state_log_prob(x.astype(np.float64), self.means, self.covs)
