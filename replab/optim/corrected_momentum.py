"""Staleness-corrected momentum for TD learning (seed004 §S3; Bengio, Precup, Pineau 2021) and its baselines.

Three optimizers of one flat parameter vector θ (`OracleMomentum`: the parameters of its one param group, in
order; `CorrectedMomentum` and its subclass `DampenedMomentum`: those of all their param groups, concatenated
in order):

- `DampenedMomentum` (§S3.2 eq. 4.2–4.3): μ_t = βμ_{t−1} + (1−β)g_t, θ_t = θ_{t−1} − αμ_t, with μ_0 = 0,
  so the first buffer is (1−β)g (the reference code's "FixedSGD", not PyTorch's SGD, which starts at g).
- `CorrectedMomentum` (§S3.2 eq. 4.16–4.19): μ̂_t = μ_t − η_t with the Taylor correction η, recursively:
      η_t = βη_{t−1} + αβ ζ_{t−1}^T μ̂_{t−1}     (old ζ and μ̂, so η is updated first: §S3.7 pitfall 1)
      ζ_t = βζ_{t−1} + (1−β)Z_t
      μ_t = βμ_{t−1} + (1−β)g_t
      θ_t = θ_{t−1} − α μ̂_t
  `correction="full"` keeps ζ as an n×n matrix, `"diag"` its diagonal (3n memory), `"none"` gives the
  dampened baseline. Per-layer correction (§S3.2 "Per-layer correction", thesis Fig 4.15): param groups may
  set their own `correction`; the full ζ is then the |F|×|F| block over the union F of the "full" groups'
  parameters (cross-layer terms included, as [REF-CODE] `OptChain` gives one SCMSGD the selected layers),
  the "diag" groups keep a diagonal ζ, and a "none" group is plain dampened momentum (η = 0 there). Groups
  must list the parameters in the order of the per-example terms' columns (the model's order; checked
  when the terms carry `params`, as `td_terms` does) and share lr, β, β₂, ε. `layer_groups` builds them. `adaptive=True` is the Atari variant "μ̂/√(∇² + ε)" (§S3.2): v_t = β₂v + (1−β₂)g²,
  θ ← θ − α/(1−β^t) · μ̂/(√(v/(1−β₂^t)) + ε) [REF-CODE: β₂ = 0.999, ε = 1e-8]; η keeps the spec's α
  (choice: the spec gives no preconditioned correction).
- `OracleMomentum` (§S3.2 eq. 4.6): μ*_t = (1−β) Σ_{i=t−h+1}^{t} β^{t−i} ∇_{θ_t}J_i(θ_t), recomputing the
  last h = ⌈2/(1−β)⌉ minibatches' losses (their TD targets included) at the current θ every step.

For TD(0) with V_θ and a minibatch of m transitions, `td_terms` gives what the corrected step needs beyond
the semi-gradient, from per-example gradients (`torch.func.vmap` of `grad`, §S3.2 "per-example outer
products"): a_i = ∇V(s_i) − γ_i∇V(s′_i) (the gradient through V(s′): §S3.7 pitfall 2) and b_i = ∇V(s_i),
so Z = mean_i a_i b_iᵀ (Z_jk = a_j b_k, hence ZᵀΔ = b (aᵀΔ)) and Z_diag = mean_i a_i ⊙ b_i; it writes
g = mean_i δ_i b_i (the semi-gradient of ½δ², target detached) into `.grad`.

    opt = CorrectedMomentum(net.parameters(), lr=0.1, beta=0.9)
    opt.step(lambda: td_terms(net, s, r, s_next, discount))
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap

CORRECTIONS = ("full", "diag", "none")


@dataclass
class TDTerms:
    """One TD(0) minibatch's quantities for the corrected step (all detached)."""

    loss: Tensor
    """mean_i ½δ_i², the semi-gradient loss"""
    delta: Tensor
    """(m,) TD errors δ_i = V(s_i) − r_i − γ_i V(s′_i)"""
    a: Tensor
    """(m, n) ∇V(s_i) − γ_i ∇V(s′_i)"""
    b: Tensor
    """(m, n) ∇V(s_i)"""
    params: tuple | None = None
    """the parameters the columns of a, b belong to, in order (None: not checked)"""


def layer_groups(layers, corrected, rest: str = "none") -> list[dict]:
    """Param groups for per-layer correction (§S3.2, Fig 4.15): one group per layer of `layers` (modules in
    the model's order, e.g. an MLP's `nn.Linear`s, bottom first), `correction="full"` for the indices in
    `corrected` and `rest` ("none": plain dampened momentum, or "diag") for the others."""
    layers = list(layers)
    corrected = set(corrected)
    if bad := sorted(i for i in corrected if not 0 <= i < len(layers)):
        raise ValueError(f"layer indices {bad} out of range for {len(layers)} layers (0 = bottom)")
    if rest not in CORRECTIONS:
        raise ValueError(f"rest must be one of {CORRECTIONS}, got {rest!r}")
    return [
        {"params": list(layer.parameters()), "correction": "full" if i in corrected else rest}
        for i, layer in enumerate(layers)
    ]


def per_example_grads(model: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """(values (m,), gradients (m, n)) of a scalar-output `model` at each row of `x`, by one
    `vmap(grad_and_value)` call; the gradients are flattened in the order of `model.parameters()`
    (trainable ones). No mode or RNG guard (this is the optimizer's hot path, not a probe)."""
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())

    def value(p, xi):  # frozen parameters are the module's own (functional_call is not strict)
        return functional_call(model, (p, buffers), (xi.unsqueeze(0),)).reshape(())

    grads, values = vmap(grad_and_value(value), in_dims=(None, 0))(params, x)
    return values, torch.cat([grads[k].reshape(len(x), -1) for k in names], 1)


def _set_grad(model: nn.Module, g: Tensor) -> None:
    params = [p for p in model.parameters() if p.requires_grad]
    for p, gp in zip(params, torch.split(g, [p.numel() for p in params]), strict=True):
        p.grad = gp.view_as(p).clone()


def td_terms(
    model: nn.Module, s: Tensor, r: Tensor, s_next: Tensor, discount: Tensor, *, set_grad: bool = True
) -> TDTerms:
    """TD(0) terms of a minibatch (§S3.2 pseudo-code): `discount` = γⁿ(1 − done) per transition; ∇V(s)
    and ∇V(s′) come from one `vmap` call over the 2m states. With `set_grad`, writes the semi-gradient
    g = mean_i δ_i ∇V(s_i) into the parameters' `.grad`."""
    m = len(s)
    values, grads = per_example_grads(model, torch.cat([s, s_next]))
    v, vp, b, bp = values[:m], values[m:], grads[:m], grads[m:]
    delta = v - (r + discount * vp)
    a = torch.addcmul(b, discount[:, None], bp, value=-1)  # b − γ_i ∇V(s′_i)
    if set_grad:
        _set_grad(model, torch.mv(b.T, delta) / m)
    return TDTerms(loss=0.5 * delta.pow(2).mean(), delta=delta, a=a, b=b, params=_trainable(model))


def _trainable(model: nn.Module) -> tuple:
    return tuple(p for p in model.parameters() if p.requires_grad)


def regression_terms(model: nn.Module, x: Tensor, y: Tensor, *, set_grad: bool = True) -> TDTerms:
    """The supervised case (§S3.2 "Regression"): loss ½(f(x_i) − y_i)², g = mean_i δ_i ∇f(x_i) with
    δ_i = f(x_i) − y_i, and Z_reg = mean_i ∇f_i ∇f_iᵀ (the Gauss–Newton part), i.e. a = b = ∇f(x_i):
    TD(0) with γ = 0 and r = y, without computing a V(s′)."""
    values, b = per_example_grads(model, x)
    delta = values - y
    if set_grad:
        _set_grad(model, torch.mv(b.T, delta) / len(x))
    return TDTerms(loss=0.5 * delta.pow(2).mean(), delta=delta, a=b, b=b, params=_trainable(model))


class _Flat(torch.optim.Optimizer):
    """The parameters seen as one flat vector: one param group's (`CorrectedMomentum` overrides
    `_flat_params` to concatenate all its groups)."""

    def _flat_params(self) -> list[Tensor]:
        if len(self.param_groups) != 1:
            raise ValueError(f"{type(self).__name__} takes one param group, got {len(self.param_groups)}")
        return self.param_groups[0]["params"]

    def _flat_grad(self, params) -> Tensor:
        return torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
        )

    @staticmethod
    def _apply(params, update: Tensor) -> None:
        with torch.no_grad():
            for p, u in zip(params, torch.split(update, [p.numel() for p in params])):
                p.sub_(u.view_as(p))


class CorrectedMomentum(_Flat):
    """Staleness-corrected momentum μ̂ (§S3.2 eq. 4.16–4.19); see the module docstring.

    `step(closure)`: the closure computes the minibatch's gradient into `.grad` and returns a `TDTerms`
    (e.g. `td_terms(...)`), or any object with `a`, `b` (m, n) per-example tensors and `loss`; with
    `correction="none"` it may instead return a loss, or be omitted when `.grad` is already set.
    Param groups may carry their own `correction` (per-layer correction, e.g. from `layer_groups`); the
    state holds μ, η (n), ζ (the |F|×|F| block of the "full" parameters) and ζ_diag (the "diag" ones).
    """

    def __init__(
        self,
        params,
        lr: float,
        beta: float = 0.9,
        *,
        correction: str = "full",
        adaptive: bool = False,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ):
        if correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
        super().__init__(params, dict(lr=lr, beta=beta, beta2=beta2, eps=eps, correction=correction))
        first = self.param_groups[0]
        for i, group in enumerate(self.param_groups):
            if not group["lr"] > 0:
                raise ValueError(f"lr must be > 0, got {group['lr']}")
            if not 0 <= group["beta"] < 1 or not 0 <= group["beta2"] < 1:
                raise ValueError(f"beta and beta2 must be in [0, 1), got {group['beta']}, {group['beta2']}")
            if group["correction"] not in CORRECTIONS:
                raise ValueError(
                    f"param group {i}: correction must be one of {CORRECTIONS}, got {group['correction']!r}"
                )
            for k in ("lr", "beta", "beta2", "eps"):
                if group[k] != first[k]:
                    raise ValueError(
                        f"param group {i}: {k} = {group[k]} differs from group 0's {first[k]}; the "
                        f"corrected step has one {k} (§S3.2): give every group the same"
                    )
        self.adaptive = adaptive  # each group's correction is group["correction"] (the argument: the default)
        self._index = {kind: self._where(kind) for kind in ("full", "diag")}

    def _flat_params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _where(self, kind: str) -> tuple[slice | Tensor, int] | None:
        """(the flat positions of the groups with this correction — a slice when contiguous, so the
        uniform case works on views exactly as a single group does —, their count), None if none."""
        pos, out = 0, []
        for group in self.param_groups:
            size = sum(p.numel() for p in group["params"])
            if group["correction"] == kind:
                out.append(torch.arange(pos, pos + size))
            pos += size
        if not out:
            return None
        idx = torch.cat(out)
        if len(idx) == 0:
            return None
        if int(idx[-1] - idx[0]) + 1 == len(idx):
            return slice(int(idx[0]), int(idx[-1]) + 1), len(idx)
        return idx, len(idx)

    def _state(self, n: int, like: Tensor) -> dict:
        st = self.state["flat"]
        if not st:
            st.update(t=0, mu=like.new_zeros(n), eta=like.new_zeros(n))
            if self._index["full"] is not None:
                k = self._index["full"][1]
                st["zeta"] = like.new_zeros((k, k))
            if self._index["diag"] is not None:
                st["zeta_diag"] = like.new_zeros(self._index["diag"][1])
            if self.adaptive:
                st["v"] = like.new_zeros(n)
        return st

    def _terms(self, out, params, n: int) -> tuple[Tensor, Tensor]:
        if out is None or not hasattr(out, "a"):
            raise ValueError("corrected momentum needs a closure returning the per-example terms a, b")
        a, b = out.a, out.b
        if a.shape != b.shape or a.shape[1] != n:
            raise ValueError(f"a, b must be (m, {n}), got {tuple(a.shape)}, {tuple(b.shape)}")
        cols = getattr(out, "params", None)
        if cols is not None and (len(cols) != len(params) or any(p is not q for p, q in zip(cols, params))):
            raise ValueError(
                "the per-example terms' columns follow the model's parameters in order: list the "
                "optimizer's parameters (param groups) in that order, e.g. with `layer_groups`"
            )
        return a, b

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        out = None
        if closure is not None:
            with torch.enable_grad():
                out = closure()
        params = self._flat_params()
        group = self.param_groups[0]
        alpha, beta = group["lr"], group["beta"]
        g = self._flat_grad(params)
        st = self._state(g.numel(), g)
        st["t"] += 1
        full, diag = self._index["full"], self._index["diag"]
        if full is not None or diag is not None:
            a, b = self._terms(out, params, g.numel())
            # in place: ζ is n × n, and a fresh n² tensor per step (allocation + page faults) cost more
            # than the arithmetic (issue 23's benchmark)
            mu_hat_prev = st["mu"] - st["eta"]  # μ̂_{t−1}
            eta = st["eta"]
            if full is not None:  # η_t = βη + αβ ζ_{t−1}ᵀ μ̂_{t−1}, before ζ and μ (§S3.7)
                at = full[0]
                e = eta[at].mul_(beta).addmv_(st["zeta"].T, mu_hat_prev[at], alpha=alpha * beta)
                if not isinstance(at, slice):  # an index gathers a copy: write it back
                    eta.index_copy_(0, at, e)
                # ζ_t = βζ + (1−β) mean_i a_i b_iᵀ (the mean of per-example outer products)
                st["zeta"].mul_(beta).addmm_(a[:, at].T, b[:, at], alpha=(1 - beta) / len(a))
            if diag is not None:
                at = diag[0]
                e = eta[at].mul_(beta).addcmul_(st["zeta_diag"], mu_hat_prev[at], value=alpha * beta)
                if not isinstance(at, slice):
                    eta.index_copy_(0, at, e)
                st["zeta_diag"].mul_(beta).add_((a[:, at] * b[:, at]).mean(0), alpha=1 - beta)
        st["mu"].mul_(beta).add_(g, alpha=1 - beta)
        mu_hat = st["mu"] - st["eta"]  # η = 0 on the "none" groups: plain dampened momentum there
        if self.adaptive:
            b2, t = group["beta2"], st["t"]
            st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (st["v"] / (1 - b2**t)).sqrt() + group["eps"]
            update = alpha / (1 - beta**t) * mu_hat / denom
        else:
            update = alpha * mu_hat
        self._apply(params, update)
        return getattr(out, "loss", out)


class DampenedMomentum(CorrectedMomentum):
    """The baseline μ (§S3.2 eq. 4.2–4.3): (1−β)-dampened momentum with μ_0 = 0."""

    def __init__(self, params, lr: float, beta: float = 0.9):
        super().__init__(params, lr, beta, correction="none")


class OracleMomentum(_Flat):
    """The oracle μ* (§S3.2 eq. 4.6): the discounted sum of the last `horizon` minibatches' gradients, all
    recomputed at the current θ (targets too). `step(closure, batch)`: `closure(batch)` returns that
    minibatch's loss at the current parameters (e.g. the semi-gradient ½δ² with the target detached); the
    newest batch is remembered, the oldest beyond `horizon` (default ⌈2/(1−β)⌉) forgotten. With
    `batched=True`, `closure(batches)` instead returns the (K,) losses of the K remembered minibatches in
    one go (e.g. one forward over them concatenated: far fewer calls at small minibatches)."""

    def __init__(self, params, lr: float, beta: float = 0.9, *, horizon: int | None = None):
        if not lr > 0 or not 0 <= beta < 1:
            raise ValueError(f"need lr > 0 and beta in [0, 1), got {lr}, {beta}")
        self.horizon = horizon if horizon is not None else math.ceil(round(2 / (1 - beta), 9))
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        super().__init__(params, dict(lr=lr, beta=beta))
        self.batches: deque = deque(maxlen=self.horizon)

    def step(self, closure: Callable, batch=None, *, batched: bool = False):
        params = self._flat_params()
        group = self.param_groups[0]
        alpha, beta = group["lr"], group["beta"]
        self.batches.append(batch)
        k = len(self.batches)
        for p in params:
            p.grad = None
        with torch.enable_grad():
            if batched:
                losses = closure(list(self.batches))
                if losses.shape != (k,):
                    raise ValueError(
                        f"a batched closure must return ({k},) losses, got {tuple(losses.shape)}"
                    )
            else:
                losses = torch.stack([closure(b) for b in self.batches])
            weights = (1 - beta) * beta ** torch.arange(k - 1, -1, -1, dtype=losses.dtype)  # β^(t−i)
            (weights * losses).sum().backward()
        self._apply(params, alpha * self._flat_grad(params))
        return losses[-1].detach()
