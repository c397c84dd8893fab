"""Linear recurrences h_t = a_t ⊙ h_{t-1} + b_t: a parallel (associative) scan and the sequential step.

The LRU (Orvieto et al. 2023, §2 and App. A) computes its hidden states with `jax.lax.associative_scan` on
the pairs (a_t, b_t) and the operator (a_i, b_i) ∘ (a_j, b_j) = (a_j a_i, a_j b_i + b_j). PyTorch has no
associative scan usable in training (pytorch#95408), so `linear_scan` implements the odd–even recursion
that `associative_scan` uses: combine neighbouring pairs, scan the half-length sequence recursively, then
fill in the even positions. Work is O(L), depth O(log L), and every level is a handful of whole-tensor
ops, so autograd differentiates it as it is. `sequential_scan` is the reference loop and `scan_step` the
O(1)-per-token inference step; tests prove the three equal.

Shapes: sequences are (..., L, N) with time on dim -2. The coefficient `a` is either time-varying (same
shape as `b`) or time-invariant: a vector (N,) (the LRU's diagonal λ) or, in `linear_scan_dense`, a
matrix (N, N) (the dense linear RNN of the paper's ablation, LRU §3.1). Real and complex dtypes work.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def scan_step(a: Tensor, h: Tensor, b: Tensor) -> Tensor:
    """One step of the recurrence, h' = a ⊙ h + b, for O(1)-per-token inference. Shapes (..., N)."""
    return a * h + b


def sequential_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """Reference loop over time: h_t = a_t ⊙ h_{t-1} + b_t with h_{-1} = h0 (zero by default).

    `b` is (..., L, N); `a` is (N,) (time-invariant) or (..., L, N). Returns all states (..., L, N).
    """
    _check(a, b)
    varying = a.dim() == b.dim()
    h = torch.zeros_like(b[..., 0, :]) if h0 is None else h0.to(b.dtype)
    # unbind once: indexing b[..., t, :] inside the loop would make the backward pass O(L²) (each
    # index's gradient is a full-size zero tensor), an unfair reference for the benchmark
    bs = b.unbind(-2)
    as_ = a.unbind(-2) if varying else [a] * len(bs)
    out = []
    for a_t, b_t in zip(as_, bs):
        h = scan_step(a_t, h, b_t)
        out.append(h)
    return torch.stack(out, dim=-2)


def linear_scan(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All states of h_t = a_t ⊙ h_{t-1} + b_t by a parallel associative scan (O(log L) depth).

    `b` is (..., L, N), real or complex; `a` is (N,) (time-invariant, e.g. the LRU's λ) or has `b`'s shape
    (time-varying). `h0` (..., N) is an optional initial state. Returns (..., L, N), equal to
    `sequential_scan` up to floating-point rounding.
    """
    _check(a, b)
    if h0 is not None:  # fold the initial state into the first input: h_0 = a_0 h0 + b_0
        a0 = a[..., 0, :] if a.dim() == b.dim() else a
        b = torch.cat([(b[..., :1, :] + (a0 * h0).unsqueeze(-2)), b[..., 1:, :]], dim=-2)
    return _LinearScan.apply(a, b)


class _LinearScan(torch.autograd.Function):
    """The scan with its adjoint written out: the gradient of a linear recurrence is the reverse scan
    g_t = ∂L/∂h_t + conj(a_{t+1}) g_{t+1}, so the backward pass costs one more scan (instead of
    autograd's many strided-slice backwards), with ∂L/∂b_t = g_t and ∂L/∂a = conj(h_{t-1}) g_t."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor) -> Tensor:
        h = _scan(a, b)
        ctx.save_for_backward(a, h)
        ctx.b_complex = b.is_complex()
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor):
        a, h = ctx.saved_tensors
        varying = a.dim() == h.dim()
        if varying:  # the coefficient that multiplies h_t is a_{t+1}; nothing follows the last step
            a_next = torch.cat([a[..., 1:, :], torch.zeros_like(a[..., :1, :])], dim=-2)
            g = _scan(a_next.conj().flip(-2), grad_h.flip(-2)).flip(-2)
        else:
            g = _scan(a.conj(), grad_h.flip(-2)).flip(-2)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:
            h_prev = torch.cat([torch.zeros_like(h[..., :1, :]), h[..., :-1, :]], dim=-2)
            grad_a = h_prev.conj() * g
            if not varying:
                grad_a = grad_a.reshape(-1, a.shape[-1]).sum(0)
            if not a.is_complex():
                grad_a = grad_a.real
        if ctx.needs_input_grad[1]:
            grad_b = g if ctx.b_complex else g.real
        return grad_a, grad_b


def _scan(a: Tensor, b: Tensor) -> Tensor:
    """The forward scan without autograd bookkeeping (dispatch on time-varying vs invariant `a`)."""
    if a.dim() == b.dim():
        return _scan_varying(a, b)
    powers = _powers(a, b.shape[-2], torch.mul)
    return _scan_invariant(lambda h, k: powers[k] * h, powers, b, 0)


def linear_scan_dense(A: Tensor, b: Tensor) -> Tensor:
    """All states of h_t = A h_{t-1} + b_t for a dense time-invariant A (N, N), by the same parallel scan.

    Used for the "linear dense" rung of the LRU ablation (LRU §3.1). `b` is (..., L, N); returns (..., L, N).
    """
    if A.dim() != 2 or A.shape[0] != A.shape[1] or A.shape[0] != b.shape[-1]:
        raise ValueError(f"A must be (N, N) with N = b.shape[-1] = {b.shape[-1]}, got {tuple(A.shape)}")
    powers = _powers(A, b.shape[-2], torch.matmul)
    return _scan_invariant(lambda h, k: h @ powers[k].transpose(0, 1), powers, b, 0)


def sequential_scan_dense(A: Tensor, b: Tensor) -> Tensor:
    """Reference loop for `linear_scan_dense`: h_t = A h_{t-1} + b_t, h_{-1} = 0. Returns (..., L, N)."""
    h = torch.zeros_like(b[..., 0, :])
    out = []
    for b_t in b.unbind(-2):
        h = h @ A.transpose(0, 1) + b_t
        out.append(h)
    return torch.stack(out, dim=-2)


# -- the odd–even recursion ------------------------------------------------------------------------------


def _powers(a: Tensor, length: int, mul) -> list[Tensor]:
    """[a, a², a⁴, ...]: the time-invariant coefficient at each level of the recursion."""
    out = [a]
    while (1 << len(out)) < max(length, 2):
        out.append(mul(out[-1], out[-1]))
    return out


def _interleave(even: Tensor, odd: Tensor) -> Tensor:
    """Merge states at even (0, 2, ...) and odd (1, 3, ...) positions back into one sequence."""
    n_odd = odd.shape[-2]
    pairs = torch.stack([even[..., :n_odd, :], odd], dim=-2)  # (..., L//2, 2, N)
    merged = pairs.reshape(*odd.shape[:-2], 2 * n_odd, odd.shape[-1])
    if even.shape[-2] > n_odd:  # odd length: the last even position has no partner
        merged = torch.cat([merged, even[..., n_odd:, :]], dim=-2)
    return merged


def _scan_invariant(apply, powers: list[Tensor], b: Tensor, level: int) -> Tensor:
    """Scan with a time-invariant coefficient; `apply(h, k)` multiplies h by a^(2^k)."""
    length = b.shape[-2]
    if length == 1:
        return b
    n_pairs = length // 2
    b_even, b_odd = b[..., 0 : 2 * n_pairs : 2, :], b[..., 1 : 2 * n_pairs : 2, :]
    # each pair (2i, 2i+1) combined: (a, b_2i) ∘ (a, b_2i+1) = (a², a b_2i + b_2i+1)
    h_odd = _scan_invariant(apply, powers, apply(b_even, level) + b_odd, level + 1)
    # even positions 2i (i ≥ 1) continue from the state at 2i-1: h_2i = a h_2i-1 + b_2i
    rest = b[..., 2::2, :]
    h_even = torch.cat([b[..., :1, :], apply(h_odd[..., : rest.shape[-2], :], level) + rest], dim=-2)
    return _interleave(h_even, h_odd)


def _scan_varying(a: Tensor, b: Tensor) -> Tensor:
    """Scan with time-varying coefficients a_t (same shape as b)."""
    length = b.shape[-2]
    if length == 1:
        return b
    n = 2 * (length // 2)
    a_even, a_odd = a[..., 0:n:2, :], a[..., 1:n:2, :]
    b_even, b_odd = b[..., 0:n:2, :], b[..., 1:n:2, :]
    h_odd = _scan_varying(a_odd * a_even, a_odd * b_even + b_odd)
    a_rest, b_rest = a[..., 2::2, :], b[..., 2::2, :]
    h_even = torch.cat([b[..., :1, :], a_rest * h_odd[..., : b_rest.shape[-2], :] + b_rest], dim=-2)
    return _interleave(h_even, h_odd)


def _check(a: Tensor, b: Tensor) -> None:
    if b.dim() < 2:
        raise ValueError(f"b must be (..., L, N) with at least 2 dims, got shape {tuple(b.shape)}")
    if b.shape[-2] == 0:
        raise ValueError("b must have at least one time step (L >= 1)")
    if a.dim() == b.dim():
        if a.shape != b.shape:
            raise ValueError(f"time-varying a must have b's shape {tuple(b.shape)}, got {tuple(a.shape)}")
    elif a.shape != b.shape[-1:]:
        raise ValueError(
            f"a must be (N,) = ({b.shape[-1]},) or b's shape {tuple(b.shape)}, got {tuple(a.shape)}"
        )
