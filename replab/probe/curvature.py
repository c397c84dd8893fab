"""Curvature of the loss landscape: the top Hessian eigenvalue (sharpness) by power iteration.

Lyle et al. 2023 ("Understanding plasticity in neural networks", seed002 §5.2) tie plasticity loss to
changes in curvature, measured by the Hessian's top eigenvalue; the reduced plan (§5.6) asks for 20 power
iterations on a 256-example batch with Hessian-vector products by double backpropagation.
"""

from __future__ import annotations

import torch
from torch import nn

from replab.probe.guard import LossFn, preserved, trainable

WHICH = ("largest", "magnitude")


def hessian_top_eigenvalue(
    model: nn.Module,
    loss_fn: LossFn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    iters: int = 20,
    tol: float = 1e-4,
    which: str = "largest",
    train_mode: bool = True,
    generator: torch.Generator | None = None,
) -> float:
    """Top eigenvalue of the Hessian ∇²_θ loss_fn(model(x), y) by power iteration (seed002 §5.6: 20 its).

    Each iteration is one Hessian-vector product (double backprop), so the Hessian is never formed.
    Power iteration finds the eigenvalue of largest magnitude, λ_m. Away from a minimum (e.g. on a new
    task's loss) the Hessian is indefinite and λ_m may be negative; with `which="largest"` (default: the
    sharpness λ_max) a second run on the shifted H − λ_m·I (all eigenvalues ≥ 0, top one λ_max − λ_m)
    recovers λ_max; `which="magnitude"` returns λ_m. Start vectors come from `generator` (fixed seed 0 if
    None), so results are reproducible; a run stops early once the Rayleigh quotient changes by less than
    `tol` relative, and returns the Rayleigh quotient of its last unit vector.

    Only parameters with `requires_grad` are differentiated. The model is run in training mode (the
    landscape the optimiser sees) unless `train_mode=False`; mode, buffers (BatchNorm statistics) and
    the global RNG are restored, and no `.grad` is touched.
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    if tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    if which not in WHICH:
        raise ValueError(f"which must be one of {WHICH}, got {which!r}")
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    with preserved(model, train_mode):
        params = trainable(model)
        loss = loss_fn(model(x), y)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        eig = _power(grads, params, iters, tol, gen, shift=0.0)
        if which == "largest" and eig < 0:
            eig = _power(grads, params, iters, tol, gen, shift=eig) + eig
    return eig


def _power(grads, params, iters: int, tol: float, gen: torch.Generator, shift: float) -> float:
    """Largest-magnitude eigenvalue of H − shift·I (the graph of `grads` is kept for further runs)."""
    v = _normalise([torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device) for p in params])
    eig = float("nan")
    for _ in range(iters):
        dot = sum((g * u).sum() for g, u in zip(grads, v))
        hv = [h - shift * u for h, u in zip(torch.autograd.grad(dot, params, retain_graph=True), v)]
        new = float(sum((h * u).sum() for h, u in zip(hv, v)))
        norm = _norm(hv)
        converged = eig == eig and abs(new - eig) <= tol * abs(new)
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
