"""Unit-level health measures: feature norms and dormant units."""

from __future__ import annotations

import torch


def feature_norm(features: torch.Tensor) -> float:
    """Mean L2 norm of the per-example feature vectors of a batch (N, ...)."""
    return float(features.detach().reshape(features.shape[0], -1).to(torch.float64).norm(dim=1).mean())


def unit_scores(activations: torch.Tensor) -> torch.Tensor:
    """Sokar et al. 2023 (ReDo, eq. 1): s_i = E_x|h_i(x)| / ((1/H) Σ_k E_x|h_k(x)|) per unit.

    `activations` is (N, H) for a dense layer or (N, C, ...) for a conv layer, where each channel is a
    unit and its activity is averaged over the spatial positions.
    """
    a = activations.detach().to(torch.float64).abs()
    if a.dim() < 2:
        raise ValueError(f"activations must be (N, H) or (N, C, ...), got shape {tuple(a.shape)}")
    per_unit = a.reshape(a.shape[0], a.shape[1], -1).mean(dim=(0, 2))
    mean = per_unit.mean()
    return per_unit / mean if mean > 0 else torch.zeros_like(per_unit)


def dormant_fraction(activations: torch.Tensor, tau: float = 0.0) -> float:
    """Fraction of τ-dormant units: normalised score s_i ≤ τ (Sokar et al. 2023; τ = 0 counts dead units)."""
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    return float((unit_scores(activations) <= tau).to(torch.float64).mean())
