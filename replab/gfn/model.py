"""The flow / policy network of the hyper-grid: an MLP on one-hot coordinates (seed004 §S4.4, [REF-CODE])."""

from __future__ import annotations

import torch
from torch import nn


def mlp(
    in_dim: int, out_dim: int, hidden: int = 256, n_layers: int = 2, slope: float = 0.01
) -> nn.Sequential:
    """in_dim → hidden (×n_layers, LeakyReLU(slope)) → out_dim; e.g. 32 → 256 → 256 → 5 (seed004 §S4.7)."""
    if in_dim < 1 or out_dim < 1:
        raise ValueError(f"in_dim and out_dim must be >= 1, got {in_dim}, {out_dim}")
    if hidden < 1:
        raise ValueError(f"hidden must be >= 1, got {hidden}")
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}")
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(n_layers):
        layers += [nn.Linear(d, hidden), nn.LeakyReLU(slope)]
        d = hidden
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def ema_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """θ'_t = τ θ'_{t−1} + (1 − τ) θ_t (thesis §5.3.4, Lillicrap et al. 2016)."""
    with torch.no_grad():
        for pt, po in zip(target.parameters(), online.parameters(), strict=True):
            pt.mul_(tau).add_(po, alpha=1 - tau)
