"""Rank measures of a batch of representations.

Two different quantities with different sources, kept apart on purpose:
- `srank`: the effective rank of Kumar et al. 2021 ("Implicit under-parameterization"), adopted by the
  offline-RL study of Gulcehre et al. 2022 (seed002 §10.2): cumulative mass of the singular values.
- `numerical_rank`: the tunnel-effect paper's rank (Masarczyk et al. 2023, seed002 §1.2): the number of
  eigenvalues of the feature covariance above a fraction `tol` of the largest.
"""

from __future__ import annotations

import torch


def _flatten(features: torch.Tensor) -> torch.Tensor:
    if features.dim() < 2:
        raise ValueError(f"features must be (N, D) or (N, ...), got shape {tuple(features.shape)}")
    if not torch.isfinite(features).all():
        bad = int((~torch.isfinite(features)).sum())
        raise ValueError(
            f"features contain {bad} NaN or infinite values (has the network diverged? try a smaller lr): "
            "their rank is undefined"
        )
    return features.reshape(features.shape[0], -1)


def srank(features: torch.Tensor, delta: float = 0.01) -> int:
    """srank_δ(Φ) = min{k : Σ_{i≤k} σ_i / Σ_i σ_i ≥ 1 − δ} for features Φ of shape (N, D).

    Singular values of the raw (uncentred) feature matrix, not their squares (Kumar et al. 2021, eq. 1).
    With δ = 0 it is the number of non-zero singular values (up to float64 round-off). All-zero features
    have srank 0.
    """
    if not 0 <= delta < 1:
        raise ValueError(f"delta must be in [0, 1), got {delta}")
    phi = _flatten(features).detach().to(torch.float64)
    s = torch.linalg.svdvals(phi)
    total = s.sum()
    if total <= 0:
        return 0
    if delta == 0:
        return int((s > s[0] * max(phi.shape) * torch.finfo(torch.float64).eps).sum())
    cumulative = torch.cumsum(s, 0) / total
    return int(torch.searchsorted(cumulative, torch.tensor(1 - delta, dtype=torch.float64)).item() + 1)


def covariance_spectrum(
    features: torch.Tensor, max_features: int | None = 8000, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Eigenvalues (descending) of the D'×D' sample covariance of features (N, D), in float64.

    If D > `max_features`, a fixed random subset of `max_features` features is kept first, as in the
    tunnel-effect code (seed002 §1.2 step 2; the subset is drawn from `generator`, so it is reproducible).
    Computed from the N×N Gram matrix of the centred features when N < D', which has the same non-zero
    eigenvalues as the covariance and costs O(N²D') instead of O(D'³).
    """
    h = _flatten(features).detach()
    n, d = h.shape
    if n < 2:
        raise ValueError(f"need at least 2 examples for a covariance, got {n}")
    if max_features is not None and d > max_features:
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        keep = torch.randperm(d, generator=g)[:max_features]
        h = h[:, keep.to(h.device)]
    h = h.to(torch.float64)
    h = h - h.mean(0, keepdim=True)
    gram = h @ h.T if h.shape[0] < h.shape[1] else h.T @ h
    eig = torch.linalg.eigvalsh(gram / (n - 1)).flip(0)
    return eig.clamp_min(0)


def numerical_rank(
    features: torch.Tensor,
    tol: float | None = 1e-3,
    max_features: int | None = 8000,
    generator: torch.Generator | None = None,
) -> int:
    """#{i : λ_i(Σ) > tol·λ_1(Σ)} for the covariance Σ of features (N, D) (tunnel effect, ε = 1e-3).

    `tol=None` reproduces the recovered code's `torch.linalg.matrix_rank(cov)` default tolerance
    (λ_1 · D' · float32 eps), which counts more of the small eigenvalues (seed002 §1.2).
    """
    eig = covariance_spectrum(features, max_features, generator)
    if eig[0] <= 0:
        return 0
    if tol is None:
        d = min(_flatten(features).shape[1], max_features or _flatten(features).shape[1])
        threshold = eig[0] * d * torch.finfo(torch.float32).eps
    else:
        if not 0 < tol < 1:
            raise ValueError(f"tol must be in (0, 1) or None, got {tol}")
        threshold = tol * eig[0]
    return int((eig > threshold).sum())
