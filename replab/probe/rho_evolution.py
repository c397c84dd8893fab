"""The evolution of interference after an update, ρ′ (seed004 §S2.2, Bengio 2022 §3.2.4, eq. 3.23–3.26,
3.39–3.40, 3.50, 3.58; Fig 3.17).

ρ′_AB is the derivative with respect to the step size α of the interference between A and B after one
update on B, θ′ = θ − α u_B, taken at α = 0 (the thesis's θ ≈ θ′ assumption, §S2.7):

- any per-example loss J, u_B = ∇J_B, ρ_AB = ∇J_Aᵀ∇J_B (eq. 3.23/3.39–3.40):
  ρ′_AB = −∇_θ(∇J_Bᵀ∇J_A)ᵀ ∇J_B = −(∇J_Bᵀ H_A ∇J_B + ∇J_Aᵀ H_B ∇J_B)   → `rho_prime_autodiff`;
- squared-error regression or TD(0) on a scalar output f, with δ = f(s) − y − γ f(s′), the step the
  semi-gradient u_B = δ_B ∇f_B and ρ_AB = δ_A δ_B g_AB, g_AB = ∇f_Aᵀ∇f_B (= ρ̄, eq. 3.13), split into
  ρ′ = −r₁ − r₂ − r₃ (eq. 3.25–3.26, in the order the thesis writes them):
    r₁ = δ_B² g_AB (g_AB − γ_A g_A′B)
    r₂ = δ_A δ_B g_AB (g_BB − γ_B g_B′B)
    r₃ = δ_A δ_B² ∇f_Bᵀ (H̄_A ∇f_B + H̄_B ∇f_A)        (H̄: the Hessian of f)   → `rho_prime_terms`.
  With `s_next` the target is live (the network's own f(s′) moves with θ: QL, eq. 3.26/3.58); without it
  `y` is a fixed target (regression eq. 3.25/3.50, or TD between target-network updates with y = r + γQ̄)
  and the γ terms vanish.

Our derivation note: §S2.2's copy of eq. 3.25 writes the middle term as 2 δ_Aδ_B g_AB g_BB. Differentiating
δ_A δ_B g_AB gives a factor 1 (dδ_B/dα = −δ_B g_BB), the same factor eq. 3.26 has at γ = 0, and the sum of
the three terms with factor 1 equals the autodiff form eq. 3.40 (tested, float64). We use 1.

Momentum SGD (eq. 3.27–3.30), μ_t = (1 − β)∇J_B + βμ_{t−1}: ρ_μ;AB = ∇_θ′J_A · ((1 − β)∇J_B + βμ_{t−1})
(eq. 3.29) and the thesis's ρ′_μ = −(1 − β)ρ′_AB − β ∇J_Bᵀ H_A μ_{t−1} (eq. 3.30) → `rho_prime_momentum`.
Our derivation note: eq. 3.30 is the derivative of eq. 3.29 (∇J_B taken at θ′ as in ρ′_AB) along the
gradient step θ′ = θ − α∇J_B, not along the momentum step of eq. 3.28, θ′ = θ − α u_B with
u_B = (1 − β)∇J_B + βμ_{t−1}. Along u_B the derivative is
−(1 − β)² ρ′-terms − 2β(1 − β) ∇J_Bᵀ H_A μ − β(1 − β) ∇J_Aᵀ H_B μ − β² μᵀ H_A μ; both are returned (eq. 3.30 as
written by default, the momentum-step form beside it) and both are tested against finite differences.

Hessian-vector products are forward-over-reverse / forward-over-forward `torch.func` transforms: no
Hessian is formed. Cost: N² forward-over-forward passes of one example for N examples (Fig 3.17 uses
N = 32, i.e. 1024 pairs). Matrices are (N, N) float64 indexed [A, B] (A where interference is measured,
B the updated example); the model is left unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import grad, jvp, vmap

from replab.probe.gradients import functional_form
from replab.probe.guard import preserved


def _functional(model: nn.Module):
    """(params, call) with `call(params, x)` = model(x[None]).reshape(-1): one example at a time, for vmap."""
    _, params, batched = functional_form(model)
    return params, lambda p, x: batched(p, x.unsqueeze(0)).reshape(-1)


def _flat(d: dict[str, Tensor], n: int) -> Tensor:
    return torch.cat([v.reshape(n, -1) for v in d.values()], 1).to(torch.float64)


def _hessian_pairs(phi: Callable, params: dict, data: tuple, v: dict) -> tuple[Tensor, Tensor]:
    """For a per-example scalar phi(p, *data_i) and directions v_i (a dict of (N, ...) tensors):
    M[A, B] = v_Bᵀ H_A v_B (forward-over-forward) and the rows W_B = H_B v_B (forward-over-reverse)."""

    def second(p, vb, *da):  # v_Bᵀ H_A v_B: d²/dε² phi(θ + ε v_B, A)
        return jvp(lambda q: jvp(lambda r: phi(r, *da), (q,), (vb,))[1], (p,), (vb,))[1]

    over_a = vmap(second, in_dims=(None, None, *([0] * len(data))))
    m = vmap(lambda vb: over_a(params, vb, *data), in_dims=(0,))(v)  # [B, A]

    def hvp(vb, *db):
        return jvp(grad(lambda q: phi(q, *db)), (params,), (vb,))[1]

    w = vmap(hvp, in_dims=(0, *([0] * len(data))))(v, *data)
    n = data[0].shape[0]
    return m.T.to(torch.float64), _flat(w, n)


def _loss_gradients(model: nn.Module, loss_fn: Callable, x: Tensor, y: Tensor):
    """(params, phi, g): the per-example loss phi(p, x_i, y_i) = loss_fn(model(x_i), y_i) and its
    per-example gradients g (a dict of (N, ...) tensors) by one vmap."""
    if x.shape[0] != y.shape[0] or x.shape[0] < 1:
        raise ValueError(
            f"x and y must hold the same number (>= 1) of examples, got {x.shape[0]}, {y.shape[0]}"
        )
    params, call = _functional(model)

    def phi(p, xi, yi):
        return loss_fn(call(p, xi).unsqueeze(0), yi.unsqueeze(0))

    return params, phi, vmap(grad(phi), in_dims=(None, 0, 0))(params, x, y)


def rho_prime_autodiff(
    model: nn.Module, loss_fn: Callable[[Tensor, Tensor], Tensor], x: Tensor, y: Tensor, *, train_mode=False
) -> dict[str, Tensor]:
    """Eq. 3.40 for any per-example loss `loss_fn(output (1, ...), target (1, ...))`: (N, N) float64
    `rho` = ∇J_Aᵀ∇J_B (eq. 3.6) and `rho_prime` = −∇_θ(∇J_Bᵀ∇J_A)ᵀ∇J_B (SGD step on B)."""
    with preserved(model, train_mode):
        params, phi, g = _loss_gradients(model, loss_fn, x, y)
        m, w = _hessian_pairs(phi, params, (x, y), g)
    gf = _flat(g, x.shape[0])
    return {"rho": gf @ gf.T, "rho_prime": -(m + gf @ w.T)}


def _as_flat(momentum, params: dict) -> dict[str, Tensor]:
    """μ as a dict shaped like `params`, from a flat (P,) tensor or one tensor per trainable parameter."""
    total = sum(v.numel() for v in params.values())
    if isinstance(momentum, Tensor):
        if momentum.dim() != 1 or momentum.numel() != total:
            raise ValueError(
                f"momentum must be a flat tensor of {total} entries (the trainable parameters, in the order "
                f"of model.parameters()), got shape {tuple(momentum.shape)}"
            )
        parts, i = {}, 0
        for k, v in params.items():
            parts[k] = momentum[i : i + v.numel()].reshape(v.shape)
            i += v.numel()
        return {k: t.detach().to(params[k]) for k, t in parts.items()}
    tensors = list(momentum)
    shapes = [tuple(v.shape) for v in params.values()]
    if [tuple(t.shape) for t in tensors] != shapes:
        raise ValueError(
            f"momentum must hold one tensor per trainable parameter with shapes {shapes} (e.g. the "
            f"optimizer's momentum buffers), got {[tuple(t.shape) for t in tensors]}"
        )
    return {k: t.detach().to(v) for (k, v), t in zip(params.items(), tensors)}


def rho_prime_momentum(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    momentum,
    beta: float,
    *,
    train_mode: bool = False,
) -> dict[str, Tensor]:
    """Interference and its evolution under momentum SGD (eq. 3.27–3.30) between every pair (A, B) of N
    examples, for any per-example loss `loss_fn(output (1, ...), target (1, ...))`.

    `momentum`: μ_{t−1} of eq. 3.27 (the (1 − β)-weighted moving average of gradients), a flat (P,) tensor
    or one tensor per trainable parameter; `beta` ∈ [0, 1). `torch.optim.SGD(momentum=β)` (dampening 0)
    keeps b = βb + ∇J, which is μ / (1 − β) when μ starts at 0: pass `(1 − β) · b`.

    Returns (N, N) float64 [A, B]: `rho_mu` (eq. 3.29 at α = 0), `rho_prime_mu` (eq. 3.30 as written),
    `rho_prime_mu_step` (the derivative of eq. 3.29 along the momentum step θ′ = θ − α u_B of eq. 3.28),
    and `rho_prime` (eq. 3.23, plain SGD, for comparison: eq. 3.30's first term over 1 − β)."""
    if not 0 <= beta < 1:
        raise ValueError(f"beta must be in [0, 1) (the momentum factor of eq. 3.27), got {beta}")
    n = x.shape[0]
    with preserved(model, train_mode):
        params, phi, g = _loss_gradients(model, loss_fn, x, y)
        mu = _as_flat(momentum, params)
        t1, w = _hessian_pairs(phi, params, (x, y), g)  # t1[A, B] = g_Bᵀ H_A g_B, w_B = H_B g_B

        def hvp_mu(xi, yi):
            return jvp(grad(lambda q: phi(q, xi, yi)), (params,), (mu,))[1]

        h_mu = _flat(vmap(hvp_mu)(x, y), n)  # row A: H_A μ
    gf, mf = _flat(g, n), torch.cat([v.reshape(-1) for v in mu.values()]).to(torch.float64)
    t2 = gf @ w.T  # g_Aᵀ H_B g_B
    t3 = h_mu @ gf.T  # g_Bᵀ H_A μ
    t4 = (h_mu @ mf)[:, None].expand(n, n)  # μᵀ H_A μ
    t5 = gf @ h_mu.T  # g_Aᵀ H_B μ
    b = float(beta)
    return {
        "rho_mu": (1 - b) * gf @ gf.T + b * (gf @ mf)[:, None].expand(n, n),
        "rho_prime": -(t1 + t2),
        "rho_prime_mu": -(1 - b) * (t1 + t2) - b * t3,
        "rho_prime_mu_step": -((1 - b) ** 2) * (t1 + t2)
        - 2 * b * (1 - b) * t3
        - b * (1 - b) * t5
        - b**2 * t4,
    }


def rho_prime_terms(
    model: nn.Module,
    s: Tensor,
    y: Tensor,
    *,
    select: Tensor | None = None,
    s_next: Tensor | None = None,
    next_select: Tensor | None = None,
    discount: Tensor | None = None,
    train_mode: bool = False,
) -> dict[str, Tensor]:
    """r₁, r₂, r₃ of eq. 3.25–3.26 between every pair (A, B) of N transitions.

    f(s_i) = Σ_k model(s_i)_k select_ik: `select` (N, n_out) picks the output regressed (a one-hot of the
    action taken for a Q-network); None for a single-output network. `y` (N,): the fixed part of the
    target (the regression target, or r + γQ̄(s′) with a frozen/EMA target network). With `s_next` (and
    `discount` (N,) = γ(1 − done), `next_select` for f(s′)), δ_i = f(s_i) − y_i − discount_i f(s′_i) with
    the live network (eq. 3.26); else δ_i = f(s_i) − y_i (eq. 3.25).

    Returns (N, N) float64 `r1`, `r2`, `r3`, `rho_prime` = −r₁ − r₂ − r₃, `rho` = δ_Aδ_B g_AB, `g` = ∇f_Aᵀ∇f_B,
    and `delta` (N,)."""
    n = s.shape[0]
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {tuple(y.shape)}")
    live = s_next is not None
    if live and (discount is None or discount.shape != (n,) or s_next.shape[0] != n):
        raise ValueError(
            f"s_next needs discount of shape ({n},) and {n} next states (the live-target TD form)"
        )
    with preserved(model, train_mode):
        params, call = _functional(model)
        n_out = call(params, s[0]).numel()
        sel = torch.ones(n, 1, dtype=s.dtype) if select is None else select.to(s.dtype)
        if sel.shape != (n, n_out):
            raise ValueError(
                f"select must have shape ({n}, {n_out}) (one weight per output), got {tuple(sel.shape)}"
            )

        def phi(p, xi, wi):
            return (call(p, xi) * wi).sum()

        def f_and_grad(x, w):
            g, f = vmap(grad(lambda p, xi, wi: (phi(p, xi, wi),) * 2, has_aux=True), in_dims=(None, 0, 0))(
                params, x, w
            )
            return f.detach().to(torch.float64), g

        f, gd = f_and_grad(s, sel)
        m, w = _hessian_pairs(phi, params, (s, sel), gd)
        gs = _flat(gd, n)
        delta = f - y.to(torch.float64)
        gam = torch.zeros(n, dtype=torch.float64)
        g_next = torch.zeros(n, n, dtype=torch.float64)  # [A, B]: ∇f(s′_A)ᵀ∇f_B
        if live:
            nsel = sel if next_select is None else next_select.to(s.dtype)
            if nsel.shape != (n, n_out):
                raise ValueError(
                    f"next_select must have shape ({n}, {n_out}) (one weight per output of f(s′)), got "
                    f"{tuple(nsel.shape)}"
                )
            f_next, gnd = f_and_grad(s_next, nsel)
            gam = discount.to(torch.float64)
            delta = delta - gam * f_next
            g_next = _flat(gnd, n) @ gs.T
    g = gs @ gs.T
    dA, dB = delta[:, None], delta[None, :]
    g_bb = g.diagonal()[None, :] - gam[None, :] * g_next.diagonal()[None, :]
    r1 = dB**2 * g * (g - gam[:, None] * g_next)
    r2 = dA * dB * g * g_bb
    r3 = dA * dB**2 * (m + gs @ w.T)
    return {
        "r1": r1,
        "r2": r2,
        "r3": r3,
        "rho_prime": -r1 - r2 - r3,
        "rho": dA * dB * g,
        "g": g,
        "delta": delta,
    }


def positive_share(x: Tensor, *, off_diagonal: bool = True) -> float:
    """The fraction of the entries > 0 (over pairs A ≠ B by default): Fig 3.17 reads the signs of r₁–r₃."""
    if off_diagonal and x.dim() == 2 and x.shape[0] == x.shape[1] and x.shape[0] > 1:
        x = x[~torch.eye(x.shape[0], dtype=torch.bool)]
    return float((x > 0).double().mean())
