"""Gradient and weight statistics: norms, per-example gradients and the gradient covariance.

Lyle et al. 2023 (seed002 §5.2) measure interference between inputs with the matrix of pairwise cosine
similarities of per-example gradients: networks that lost plasticity show large, strongly correlated
blocks. They also rule out two simpler explanations — dead units and diverging gradient norms — which is
why the gradient and weight norms are measured beside it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from replab.probe.guard import LossFn, preserved, trainable

SUMMARIES = ("mean_abs_cos", "top_eig_fraction")


def weight_norm(model: nn.Module) -> float:
    """‖θ‖₂ over all parameters of `model` (frozen ones included), in float64; 0 for a model without any
    (e.g. State SAC's identity encoder)."""
    squares = [(p.detach().to(torch.float64) ** 2).sum() for p in model.parameters()]
    return float(torch.sqrt(sum(squares))) if squares else 0.0


def gradient_norm(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *, train_mode: bool = True
) -> float:
    """‖∇_θ loss_fn(model(x), y)‖₂ over the trainable parameters; no `.grad` is touched, the model's
    mode, buffers and the global RNG are restored."""
    with preserved(model, train_mode):
        params = trainable(model)
        grads = torch.autograd.grad(loss_fn(model(x), y), params)
    return float(torch.sqrt(sum((g.to(torch.float64) ** 2).sum() for g in grads)))


METHODS = ("loop", "vmap")


def functional_form(model: nn.Module):
    """(names, params, call) for `torch.func`: the trainable parameters' names and detached values, and
    `call(params, x)` = model(x) with those parameters (frozen ones and buffers as they are)."""
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    frozen = {k: p.detach() for k, p in model.named_parameters() if not p.requires_grad}
    buffers = dict(model.named_buffers())

    def call(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(model, ({**p, **frozen}, buffers), (x,))

    return names, params, call


def per_example_gradients(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    train_mode: bool = False,
    method: str = "loop",
) -> torch.Tensor:
    """(N, P) matrix whose row i is ∇_θ loss_fn(model(x[i:i+1]), y[i:i+1]), flattened over the trainable
    parameters (in the order of `model.parameters()`).

    `method="loop"`: one `autograd.grad` per example (any model); `"vmap"`: one `torch.func.vmap(grad)`
    call over the examples (the interference probes; much faster for many small examples, needs ops
    with batching rules). Eval mode by default: with batch statistics (BatchNorm in training mode) a
    single example's gradient is not defined. Mode, buffers and RNG are restored.
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must have the same number of examples, got {x.shape[0]} and {y.shape[0]}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    with preserved(model, train_mode):
        if method == "vmap":
            names, params, call = functional_form(model)

            def loss(p, xi, yi):
                return loss_fn(call(p, xi.unsqueeze(0)), yi.unsqueeze(0))

            g = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
            return torch.cat([g[k].reshape(x.shape[0], -1) for k in names], 1)
        params = trainable(model)
        rows = []
        for i in range(x.shape[0]):
            grads = torch.autograd.grad(loss_fn(model(x[i : i + 1]), y[i : i + 1]), params)
            rows.append(torch.cat([g.reshape(-1) for g in grads]))
    return torch.stack(rows)


def gradient_covariance(
    model: nn.Module, loss_fn: LossFn, x: torch.Tensor, y: torch.Tensor, *, train_mode: bool = False
) -> torch.Tensor:
    """(N, N) float64 matrix C_ij = cos(g_i, g_j) of the per-example gradients (Lyle et al. 2023 §5.2).

    An example whose gradient is exactly zero (a perfectly fitted example) has an undefined direction;
    its row and column are 0 (its diagonal entry too).
    """
    g = per_example_gradients(model, loss_fn, x, y, train_mode=train_mode).to(torch.float64)
    norms = g.norm(dim=1, keepdim=True)
    unit = torch.where(norms > 0, g / norms.clamp_min(torch.finfo(torch.float64).tiny), torch.zeros_like(g))
    return unit @ unit.T


def covariance_summary(cos: torch.Tensor) -> dict[str, float]:
    """Scalar summaries of a gradient cosine matrix (N, N) [seed002 §5.3 leaves the statistic open (P)]:

    - `mean_abs_cos`: mean |C_ij| over i ≠ j — how strongly per-example gradients interfere (0 for
      orthogonal gradients, 1 when all are (anti-)parallel);
    - `top_eig_fraction`: λ_max(C) / trace(C) — the share of the gradient directions' energy in one
      direction (1/N for orthogonal gradients, 1 for a single shared direction).
    """
    if cos.dim() != 2 or cos.shape[0] != cos.shape[1] or cos.shape[0] < 2:
        raise ValueError(f"cos must be a square (N, N) matrix with N >= 2, got shape {tuple(cos.shape)}")
    c = cos.to(torch.float64)
    n = c.shape[0]
    off = ~torch.eye(n, dtype=torch.bool, device=c.device)
    trace = c.diagonal().sum()
    top = torch.linalg.eigvalsh(c)[-1]
    return {
        "mean_abs_cos": float(c[off].abs().mean()),
        "top_eig_fraction": float(top / trace) if trace > 0 else float("nan"),
    }


def gradient_interference(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    statistic: str = "mean_abs_cos",
    train_mode: bool = False,
) -> float:
    """One summary (`mean_abs_cos` or `top_eig_fraction`) of the gradient covariance, as a float."""
    if statistic not in SUMMARIES:
        raise ValueError(f"statistic must be one of {SUMMARIES}, got {statistic!r}")
    return covariance_summary(gradient_covariance(model, loss_fn, x, y, train_mode=train_mode))[statistic]
