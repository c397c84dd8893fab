"""Continuous-time noise schedules γ(t), t ∈ [0, 1], γ decreasing from ≈1 to ≈0 (seed003 A.2.1, A.2.4).

`x_t = sqrt(γ(t)) x_0 + sqrt(1 − γ(t)) ε`; `noisy` adds input scaling (A.2.1, Chen 2023). Every function
takes and returns tensors (any shape), so the same code serves training (one t per example) and sampling.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Schedule = Callable[[torch.Tensor], torch.Tensor]
SCHEDULES = ("cosine", "sigmoid", "linear")


def gamma_cosine(t: torch.Tensor, ns: float = 0.0002, ds: float = 0.00025) -> torch.Tensor:
    """seed003 A.2.4 (Alg. 4): cos(((t + ns) / (1 + ds)) π/2)²; γ(0) ≈ 1 − 1e-7, γ(1) ≈ 6e-9."""
    return torch.cos(((t + ns) / (1 + ds)) * math.pi / 2) ** 2


def gamma_sigmoid(
    t: torch.Tensor, start: float = -3.0, end: float = 3.0, tau: float = 1.0, clip_min: float = 1e-9
) -> torch.Tensor:
    """seed003 A.2.4 (Alg. 4) with the thesis's typo fixed: v_end = sigmoid(end / τ) (the text has
    sigmoid(start / τ), which makes the denominator 0). The thesis uses τ = 0.9 (App. 2.6.2)."""
    if not end > start:
        raise ValueError(f"sigmoid schedule: need end > start, got start={start}, end={end}")
    if not tau > 0:
        raise ValueError(f"sigmoid schedule: tau must be > 0, got {tau}")
    v_start = 1 / (1 + math.exp(-start / tau))
    v_end = 1 / (1 + math.exp(-end / tau))  # seed003 A.2.4 [FIX]: `end`, not `start`
    out = (-torch.sigmoid((t * (end - start) + start) / tau) + v_end) / (v_end - v_start)
    return out.clamp(clip_min, 1.0)


def gamma_linear(t: torch.Tensor, clip_min: float = 1e-9) -> torch.Tensor:
    """γ(t) = 1 − t, clipped to [clip_min, 1] (the simplest monotone schedule; a baseline, not the thesis's)."""
    return (1 - t).clamp(clip_min, 1.0)


def make_schedule(name: str, *, start: float = -3.0, end: float = 3.0, tau: float = 0.9) -> Schedule:
    """The schedule `name` (cosine, sigmoid, linear) as a function of t; sigmoid takes start, end, τ."""
    if name == "cosine":
        return gamma_cosine
    if name == "sigmoid":
        gamma_sigmoid(torch.zeros(1), start, end, tau)  # validate the arguments now, not mid-training
        return lambda t: gamma_sigmoid(t, start, end, tau)
    if name == "linear":
        return gamma_linear
    raise ValueError(f"unknown noise schedule '{name}', choose from {SCHEDULES}")


def noisy(x0: torch.Tensor, eps: torch.Tensor, gamma: torch.Tensor, input_scale: float = 1.0) -> torch.Tensor:
    """The network's input: sqrt(γ) b x0 + sqrt(1 − γ) ε, divided by its standard deviation
    sqrt(b²γ + 1 − γ) when b ≠ 1 (seed003 A.2.1, input scaling; b = 1 is the plain forward process).
    `gamma` broadcasts against x0 (e.g. (B, 1, 1, 1))."""
    x_t = gamma.sqrt() * input_scale * x0 + (1 - gamma).sqrt() * eps
    if input_scale != 1.0:
        x_t = x_t / (input_scale**2 * gamma + 1 - gamma).sqrt()
    return x_t
