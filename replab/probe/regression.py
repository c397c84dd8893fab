"""Regression probes: the held-out R² of a ridge regression fitted on frozen features.

Used to ask whether a representation linearly encodes continuous quantities (positions, velocities,
goals: CURL Figs. 3.9/3.11, seed001 §2.7 Track C). Closed form, float64, deterministic.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

DEFAULT_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


class RidgeProbe(NamedTuple):
    r2: torch.Tensor
    """(T,) held-out coefficient of determination per target (1 perfect, 0 = the training mean, < 0 worse)."""
    l2: float
    """The penalty used (fixed, or chosen on the validation split)."""
    weight: torch.Tensor
    """(D + 1, T) coefficients on the standardised features, the intercept last."""


def _fit(x: torch.Tensor, y: torch.Tensor, l2: float) -> torch.Tensor:
    """argmin_w mean‖y − [x, 1] w‖² + l2 ‖w[:-1]‖² (the intercept is not penalised), (D + 1, T)."""
    n, d = x.shape
    xm, ym = x.mean(0), y.mean(0)
    xc, yc = x - xm, y - ym
    gram = xc.T @ xc + l2 * n * torch.eye(d, dtype=x.dtype, device=x.device)
    w = torch.linalg.solve(gram, xc.T @ yc)
    return torch.cat([w, (ym - xm @ w)[None]], 0)


def _predict(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return x @ w[:-1] + w[-1]


def r2_score(y: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
    """(T,) R² = 1 − SS_res / SS_tot per column of y (N, T); a constant column gives −inf or nan."""
    ss_res = ((y - pred) ** 2).sum(0)
    ss_tot = ((y - y.mean(0)) ** 2).sum(0)
    return 1 - ss_res / ss_tot


def ridge_probe(
    train_feats: torch.Tensor,
    train_y: torch.Tensor,
    test_feats: torch.Tensor,
    test_y: torch.Tensor,
    *,
    l2: float | None = None,
    grid: tuple[float, ...] = DEFAULT_GRID,
    val_fraction: float = 0.2,
) -> RidgeProbe:
    """Held-out R² per target of a ridge probe from features (N, ...) to targets (N,) or (N, T).

    Features are flattened and standardised with the training split's mean and std. The penalty is
    `l2` (per sample: the loss is the mean squared error + l2‖w‖²) when given; otherwise each value of
    `grid` is fitted on the first 1 − `val_fraction` of the training split and scored (mean R²) on the
    rest, and the best is refitted on the whole training split. The test split is used once, for the score.
    """
    if l2 is not None and l2 < 0:
        raise ValueError(f"l2 must be >= 0 or None, got {l2}")
    if l2 is None and (not grid or min(grid) < 0):
        raise ValueError(f"grid must be a non-empty tuple of penalties >= 0, got {grid}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    xtr = train_feats.detach().reshape(train_feats.shape[0], -1).double()
    xte = test_feats.detach().reshape(test_feats.shape[0], -1).double().to(xtr.device)
    ytr = train_y.detach().double().to(xtr.device)
    yte = test_y.detach().double().to(xtr.device)
    ytr = ytr[:, None] if ytr.ndim == 1 else ytr
    yte = yte[:, None] if yte.ndim == 1 else yte
    if xtr.shape[0] != ytr.shape[0] or xte.shape[0] != yte.shape[0]:
        raise ValueError(
            f"features and targets disagree in length: {xtr.shape[0]} vs {ytr.shape[0]}, "
            f"{xte.shape[0]} vs {yte.shape[0]}"
        )
    if xtr.shape[1] != xte.shape[1] or ytr.shape[1] != yte.shape[1]:
        raise ValueError(f"train and test widths differ: {tuple(xtr.shape)} vs {tuple(xte.shape)}")
    n_fit = int(round((1 - val_fraction) * len(xtr)))
    if l2 is None and not 2 <= n_fit < len(xtr):
        raise ValueError(f"too few training rows ({len(xtr)}) for a validation split of {val_fraction}")
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-8
    ztr, zte = (xtr - mu) / sd, (xte - mu) / sd
    if l2 is None:
        scores = [
            r2_score(ytr[n_fit:], _predict(ztr[n_fit:], _fit(ztr[:n_fit], ytr[:n_fit], lam))) for lam in grid
        ]
        l2 = float(grid[int(torch.stack([s.mean() for s in scores]).argmax())])
    w = _fit(ztr, ytr, l2)
    return RidgeProbe(r2_score(yte, _predict(zte, w)), float(l2), w)
