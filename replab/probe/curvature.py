"""Curvature of the loss landscape: the top Hessian eigenvalue (sharpness) by power iteration.

Lyle et al. 2023 ("Understanding plasticity in neural networks", seed002 §5.2) tie plasticity loss to
changes in curvature, measured by the Hessian's top eigenvalue; the reduced plan (§5.6) asks for 20 power
iterations on a 256-example batch with Hessian-vector products by double backpropagation.
"""

from __future__ import annotations

import torch
from torch import nn

from replab.probe.guard import LossFn, preserved, trainable


def hessian_top_eigenvalue(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    iters: int = 20,
    tol: float = 1e-4,
    train_mode: bool = True,
    generator: torch.Generator | None = None,
) -> float:
    """Largest-magnitude eigenvalue of ∇²_θ loss_fn(model(x), y) by power iteration (seed002 §5.6: 20 its).

    Each iteration is one Hessian-vector product (double backprop), so the Hessian is never formed. The
    start vector is drawn from `generator` (fixed seed 0 if None), so the result is reproducible; the
    iteration stops early once the Rayleigh quotient changes by less than `tol` relative. Returns the
    Rayleigh quotient vᵀHv of the final unit vector (signed: at a trained network's minimum the top
    eigenvalue is positive and this is the sharpness λ_max).

    Only parameters with `requires_grad` are differentiated. The model is run in training mode (the
    landscape the optimiser sees) unless `train_mode=False`; mode, buffers (BatchNorm statistics) and
    the global RNG are restored, and no `.grad` is touched.
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    with preserved(model, train_mode):
        params = trainable(model)
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        v = [torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params]
        v = _normalise(v)
        eig = float("nan")
        for i in range(iters):
            dot = sum((g * u).sum() for g, u in zip(grads, v))
            hv = torch.autograd.grad(dot, params, retain_graph=i < iters - 1)
            new = float(sum((h * u).sum() for h, u in zip(hv, v)))
            norm = _norm(hv)
            converged = abs(new - eig) <= tol * abs(new) if eig == eig else False
            eig = new
            if norm == 0 or converged:
                break
            v = [h / norm for h in hv]
    return eig


def _norm(vs) -> float:
    return float(torch.sqrt(sum((t.detach().to(torch.float64) ** 2).sum() for t in vs)))


def _normalise(vs: list[torch.Tensor]) -> list[torch.Tensor]:
    n = _norm(vs)
    return [t / n for t in vs]
