"""Interference between examples, batches and TD transitions (seed004 §S2.2, Bengio 2022 §3.2).

Gradient (loss) interference between two objectives sharing θ is ρ_AB = ∇_θJ_Aᵀ ∇_θJ_B (eq. 3.6): an SGD
step of size α on B changes the loss at A by J_θ′(A) − J_θ(A) ≈ −α ρ_AB (eq. 3.7–3.11), so ρ > 0 is
constructive and ρ < 0 destructive. Function interference ρ̄_uv = ∇_θf(u)ᵀ ∇_θf(v) (eq. 3.13) uses the
network's output instead of the loss; for a multi-output network f(u) is the max over outputs (§S2.2,
"the confidence of the argmax class"; pass `output=` to choose another scalar). §S2.7: compare RL with SL
by ρ̄, not ρ (the RL loss moves with the policy), and correlate log ρ̄ with the gap.

How this differs from `replab.probe.gradients.gradient_interference`: that one is the health Monitor's
scalar summary (mean |cos| or top-eigenvalue fraction) of the *cosine* matrix of per-example loss
gradients (Lyle et al. 2023), computed one example at a time. The functions here return the raw,
unnormalised inner products (the thesis's ρ and ρ̄, whose magnitude is the point: log ρ̄ is correlated
with the gap), between examples, between batches and between TD transitions, with per-example gradients
by `torch.func.vmap(grad)`.

All functions leave the model unchanged: eval mode by default (mode, buffers and RNG restored), no
`.grad` touched; matrices are returned in float64 (the products are formed in the model's dtype).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import grad, vmap

from replab.probe.gradients import functional_form, per_example_gradients
from replab.probe.guard import LossFn, preserved, trainable

OutputFn = Callable[[Tensor], Tensor]


def max_output(out: Tensor) -> Tensor:
    """The scalar of one example's output used for function interference (§S2.2): the output itself for
    a single-output network, else its max over outputs (the argmax's value/confidence)."""
    return out.reshape(-1).max() if out.numel() > 1 else out.reshape(())


def _flat(g: dict[str, Tensor], names: list[str], n: int) -> Tensor:
    return torch.cat([g[k].reshape(n, -1) for k in names], 1)


def per_example_loss_gradients(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, *, train_mode: bool = False
) -> Tensor:
    """(N, P) matrix whose row i is ∇_θ loss_fn(model(x[i:i+1]), y[i:i+1]), flattened in the order of
    the trainable parameters: `replab.probe.gradients.per_example_gradients` by `vmap(grad)`."""
    return per_example_gradients(model, loss_fn, x, y, train_mode=train_mode, method="vmap")


def per_example_output_gradients(
    model: nn.Module, x: Tensor, *, output: OutputFn = max_output, train_mode: bool = False
) -> tuple[Tensor, Tensor]:
    """(f (N,), ∇_θf (N, P)) with f(x_i) = output(model(x[i:i+1])), by `vmap(grad)`."""
    with preserved(model, train_mode):
        names, params, call = functional_form(model)

        def f(p, xi):
            v = output(call(p, xi.unsqueeze(0)))
            return v, v

        g, values = vmap(grad(f, has_aux=True), in_dims=(None, 0))(params, x)
        return values.detach(), _flat(g, names, x.shape[0])


def _gram(a: Tensor, b: Tensor | None = None) -> Tensor:
    a = a.to(torch.float64)
    return a @ (a if b is None else b.to(torch.float64)).T


def gradient_interference_matrix(
    model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor, *, train_mode: bool = False
) -> Tensor:
    """(N, N) float64 ρ_ij = ∇J(x_i, y_i)ᵀ ∇J(x_j, y_j) (eq. 3.6), symmetric; ρ_ii = ‖∇J_i‖²."""
    return _gram(per_example_loss_gradients(model, loss_fn, x, y, train_mode=train_mode))


def pairwise_gradient_interference(
    model: nn.Module, loss_fn: LossFn, xa: Tensor, ya: Tensor, xb: Tensor, yb: Tensor, *, train_mode=False
) -> Tensor:
    """(N_a, N_b) float64 ρ between every example of set A and every example of set B."""
    ga = per_example_loss_gradients(model, loss_fn, xa, ya, train_mode=train_mode)
    gb = per_example_loss_gradients(model, loss_fn, xb, yb, train_mode=train_mode)
    return _gram(ga, gb)


def batch_gradient_interference(
    model: nn.Module, loss_fn: LossFn, batches: Sequence[tuple[Tensor, Tensor]], *, train_mode: bool = False
) -> Tensor:
    """(K, K) float64 ρ between minibatches: row k is ∇_θ loss_fn(model(x_k), y_k) of the whole batch k
    (its mean loss when `loss_fn` averages), so ρ_kl predicts the loss change at batch k after an SGD step
    on batch l. Batches are evaluated as given (with `train_mode=True`, batch statistics apply)."""
    with preserved(model, train_mode):
        params = trainable(model)
        rows = []
        for x, y in batches:
            gs = torch.autograd.grad(loss_fn(model(x), y), params)
            rows.append(torch.cat([g.reshape(-1) for g in gs]))
    return _gram(torch.stack(rows))


def function_interference_matrix(
    model: nn.Module, x: Tensor, xb: Tensor | None = None, *, output: OutputFn = max_output, train_mode=False
) -> Tensor:
    """(N, N) (or (N, N_b) against `xb`) float64 ρ̄_ij = ∇f(x_i)ᵀ ∇f(x_j) (eq. 3.13), f = `output` of the
    network's output (default: max over outputs, §S2.2)."""
    _, ga = per_example_output_gradients(model, x, output=output, train_mode=train_mode)
    if xb is None:
        return _gram(ga)
    _, gb = per_example_output_gradients(model, xb, output=output, train_mode=train_mode)
    return _gram(ga, gb)


def mean_pairwise(rho: Tensor) -> float:
    """Aggregate interference (§S2.2): the mean of a square matrix over pairs i ≠ j."""
    if rho.dim() != 2 or rho.shape[0] != rho.shape[1] or rho.shape[0] < 2:
        raise ValueError(f"rho must be a square (N, N) matrix with N >= 2, got shape {tuple(rho.shape)}")
    off = ~torch.eye(rho.shape[0], dtype=torch.bool, device=rho.device)
    return float(rho[off].to(torch.float64).mean())


def function_interference_step(
    model: nn.Module,
    loss_fn: LossFn,
    x: Tensor,
    y: Tensor,
    x_probe: Tensor,
    lr: float,
    *,
    output: OutputFn = max_output,
    train_mode: bool = False,
) -> dict[str, Tensor]:
    """The change of f at each probe input after one SGD step of size `lr` on loss_fn(model(x), y).

    Returns float64 `measured` = f_θ′(x′) − f_θ(x′) with θ′ = θ − lr ∇J(x, y), computed on a functional
    copy of the parameters (the model is not stepped), and `first_order` = −lr ∇f(x′)ᵀ∇J(x, y) (eq.
    3.7–3.11 with f in place of J). They agree up to O(lr²); exactly for a model linear in θ.
    """
    with preserved(model, train_mode):
        names, params, call = functional_form(model)
        gj = grad(lambda p: loss_fn(call(p, x), y))(params)
        stepped = {k: params[k] - lr * gj[k] for k in names}
        before = torch.stack([output(call(params, xi.unsqueeze(0))) for xi in x_probe])
        after = torch.stack([output(call(stepped, xi.unsqueeze(0))) for xi in x_probe])
    _, gf = per_example_output_gradients(model, x_probe, output=output, train_mode=train_mode)
    flat_j = torch.cat([gj[k].reshape(-1) for k in names]).to(torch.float64)
    return {
        "measured": (after - before).detach().to(torch.float64),
        "first_order": -lr * (gf.to(torch.float64) @ flat_j),
    }


def td_gradients(
    model: nn.Module, s: Tensor, r: Tensor, s_next: Tensor, discount: Tensor, *, train_mode: bool = False
) -> dict[str, Tensor]:
    """Per-transition TD(0) quantities of a scalar value network (`discount` = γ(1 − done)):

    - `delta` (N,): δ_i = V(s_i) − (r_i + γ_i V(s′_i));
    - `update` (N, P): u_i = δ_i ∇V(s_i), the semi-gradient TD(0) follows (∇V(s′) excluded);
    - `loss_grad` (N, P): ∇_θ ½δ_i² with the target live, δ_i (∇V(s_i) − γ_i ∇V(s′_i)) (∇V(s′) included).
    """
    m = s.shape[0]
    v, g = per_example_output_gradients(model, torch.cat([s, s_next]), output=_scalar, train_mode=train_mode)
    delta = v[:m] - (r + discount * v[m:])
    b, bp = g[:m], g[m:]
    return {
        "delta": delta,
        "update": delta[:, None] * b,
        "loss_grad": delta[:, None] * (b - discount[:, None] * bp),
    }


def _scalar(out: Tensor) -> Tensor:
    if out.numel() != 1:
        raise ValueError(f"TD interference needs a scalar value network, got {out.numel()} outputs")
    return out.reshape(())


def td_interference_matrix(
    model: nn.Module,
    s: Tensor,
    r: Tensor,
    s_next: Tensor,
    discount: Tensor,
    *,
    target: str = "live",
    train_mode: bool = False,
) -> Tensor:
    """(N, N) float64 TD interference between transitions i (row, where the loss is measured) and j
    (column, where the semi-gradient TD(0) step is taken).

    `target="live"` (default; the thesis's QL/"model itself as target" setting, whose ρ′_TD has the
    γ g_A′B term, eq. 3.26): ρ_ij = ∇_θ(½δ_i²)ᵀ u_j with ∇V(s′_i) *included* in the loss gradient, because
    the step on j also moves the bootstrap target V(s′_i). Then ½δ_i² after a step of size α on j changes by
    ≈ −α ρ_ij (the TD gain of §S2.2 to first order). Not symmetric.

    `target="frozen"` (a separate target network, as DQN/DDQN between target updates): ρ_ij = u_iᵀu_j =
    δ_iδ_j ∇V(s_i)ᵀ∇V(s_j), ∇V(s′) *excluded*; symmetric (the §S2.2 sign-variance motivation).

    With γ = 0 both equal regression interference to the targets r.
    """
    if target not in ("live", "frozen"):
        raise ValueError(f"target must be 'live' or 'frozen', got {target!r}")
    t = td_gradients(model, s, r, s_next, discount, train_mode=train_mode)
    rows = t["loss_grad"] if target == "live" else t["update"]
    return _gram(rows, t["update"])


# -- the health Monitor's scalar forms (`replab.probe.monitor.MODEL_PROBES`; issue 23) -------------------
def mean_loss_interference(model: nn.Module, loss_fn: LossFn, x: Tensor, y: Tensor) -> float:
    """Mean ρ_ij over pairs i ≠ j of (x, y) (eq. 3.6, unnormalised)."""
    return mean_pairwise(gradient_interference_matrix(model, loss_fn, x, y))


def mean_function_interference(model: nn.Module, loss_fn, x: Tensor, y=None) -> float:
    """Mean ρ̄_ij over pairs i ≠ j of x (eq. 3.13); the loss and targets are not used."""
    return mean_pairwise(function_interference_matrix(model, x))


def mean_td_interference(
    model: nn.Module, loss_fn, s: Tensor, r: Tensor, s_next: Tensor, discount: Tensor, *, target="live"
) -> float:
    """Mean TD interference ρ_ij over transitions i ≠ j (`td_interference_matrix`); no loss is used."""
    return mean_pairwise(td_interference_matrix(model, s, r, s_next, discount, target=target))
