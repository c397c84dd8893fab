"""Linear recurrences h_t = a_t ⊙ h_{t-1} + b_t: a parallel (associative) scan and the sequential step.

The LRU (Orvieto et al. 2023, §2 and App. A) computes its hidden states with `jax.lax.associative_scan` on
the pairs (a_t, b_t) and the operator (a_i, b_i) ∘ (a_j, b_j) = (a_j a_i, a_j b_i + b_j). PyTorch has no
associative scan usable in training (pytorch#95408), so `linear_scan` implements two groupings of that
operator: `method="odd_even"`, the recursion `associative_scan` uses (combine neighbouring pairs, scan the
half-length sequence recursively, fill in the even positions; work O(L), depth O(log L)), and the default
`method="chunked"` (chunks of ≈ √L steps scanned in place all at once, then the chunk-end states scanned
recursively and broadcast back; work O(L), depth O(√L log L), fewer and larger whole-tensor ops: faster on
CPU, docs/benchmarks.md § lru). Both have a hand-written adjoint (the reverse scan). `sequential_scan` is the
reference loop and `scan_step` the O(1)-per-token inference step; tests prove them equal.

Shapes: sequences are (..., L, N) with time on dim -2. The coefficient `a` is either time-varying (same
shape as `b`) or time-invariant: a vector (N,) (the LRU's diagonal λ) or, in `linear_scan_dense`, a
matrix (N, N) (the dense linear RNN of the paper's ablation, LRU §3.1). Real and complex dtypes work.
"""

from __future__ import annotations

import math

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


def linear_scan(
    a: Tensor, b: Tensor, h0: Tensor | None = None, method: str = "chunked", chunk: int = 0
) -> Tensor:
    """All states of h_t = a_t ⊙ h_{t-1} + b_t by a parallel scan.

    `b` is (..., L, N), real or complex; `a` is (N,) (time-invariant, e.g. the LRU's λ) or has `b`'s shape
    (time-varying). `h0` (..., N) is an optional initial state. Returns (..., L, N), equal to
    `sequential_scan` up to floating-point rounding.

    `method="chunked"` (default, the faster on CPU, `docs/lru.md`) splits time into chunks of `chunk` steps
    (0: automatic, ≈ √L), runs the recurrence inside all chunks at once, scans the chunk-end states
    recursively (coefficient a^T) and adds each chunk's carried-in state times a^(t+1): the same associative
    operator regrouped, depth O(T · log_T L). `method="odd_even"` is the odd–even recursion of
    `jax.lax.associative_scan` (what the paper uses), depth O(log L).
    """
    _check(a, b)
    if method not in ("chunked", "odd_even"):
        raise ValueError(f"method must be 'chunked' or 'odd_even', got '{method}'")
    if chunk < 0 or chunk == 1:
        raise ValueError(f"chunk must be 0 (automatic) or >= 2, got {chunk}")
    if h0 is not None:  # fold the initial state into the first input: h_0 = a_0 h0 + b_0
        a0 = a[..., 0, :] if a.dim() == b.dim() else a
        b = torch.cat([(b[..., :1, :] + (a0 * h0).unsqueeze(-2)), b[..., 1:, :]], dim=-2)
    return _LinearScan.apply(a, b, method, chunk)


class _LinearScan(torch.autograd.Function):
    """The scan with its adjoint written out: the gradient of a linear recurrence is the reverse scan
    g_t = ∂L/∂h_t + conj(a_{t+1}) g_{t+1}, so the backward pass costs one more scan (instead of
    autograd's many strided-slice backwards), with ∂L/∂b_t = g_t and ∂L/∂a = conj(h_{t-1}) g_t."""

    @staticmethod
    def forward(ctx, a: Tensor, b: Tensor, method: str, chunk: int) -> Tensor:
        h = _scan(a, b, method, chunk)
        ctx.save_for_backward(a, h)
        ctx.b_complex, ctx.method, ctx.chunk = b.is_complex(), method, chunk
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor):
        a, h = ctx.saved_tensors
        varying = a.dim() == h.dim()
        if varying:  # the coefficient that multiplies h_t is a_{t+1}; nothing follows the last step
            a_next = torch.cat([a[..., 1:, :], torch.zeros_like(a[..., :1, :])], dim=-2)
            g = _scan(a_next.conj_physical(), grad_h, ctx.method, ctx.chunk, reverse=True)
        else:  # (a lazily conjugated tensor would send every in-place step down a slow path)
            g = _scan(a.conj_physical(), grad_h, ctx.method, ctx.chunk, reverse=True)
        grad_a = grad_b = None
        if ctx.needs_input_grad[0]:  # ∂L/∂a_t = conj(h_{t-1}) g_t, h_{-1} = 0
            if varying:
                h_prev = torch.cat([torch.zeros_like(h[..., :1, :]), h[..., :-1, :]], dim=-2)
                grad_a = h_prev.conj() * g
            else:  # summed over time and batch, without a shifted copy of h
                grad_a = _dot_conj(h[..., :-1, :], g[..., 1:, :])
            if not a.is_complex():
                grad_a = grad_a.real
        if ctx.needs_input_grad[1]:
            grad_b = g if ctx.b_complex else g.real
        return grad_a, grad_b, None, None


def _dot_conj(h: Tensor, g: Tensor) -> Tensor:
    """Σ conj(h) ⊙ g over all dims but the last: (..., L, N) × (..., L, N) → (N,). `torch.linalg.vecdot`
    conjugates its first argument inside the reduction (no conjugated copy of h, no product tensor):
    ≈ 2× faster in CPU time than the real-pair formulation this replaced."""
    return torch.linalg.vecdot(h, g, dim=-2).reshape(-1, h.shape[-1]).sum(0)


def _scan(a: Tensor, b: Tensor, method: str = "odd_even", chunk: int = 0, reverse: bool = False) -> Tensor:
    """The forward scan without autograd bookkeeping (dispatch on method and time-varying vs invariant);
    `reverse=True` runs h_t = a_t ⊙ h_{t+1} + b_t from the end."""
    if method == "chunked":
        return _scan_chunked(a, b, chunk, reverse)
    if reverse:
        return _scan(a.flip(-2) if a.dim() == b.dim() else a, b.flip(-2)).flip(-2)
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


# -- the chunked scan ------------------------------------------------------------------------------------


def _auto_chunk(length: int) -> int:
    """Chunk length T ≈ √L (within-chunk steps and chunk-carry steps balanced), at least 2."""
    return max(2, int(round(math.sqrt(length))))


def _scan_chunked(a: Tensor, b: Tensor, chunk: int = 0, reverse: bool = False) -> Tensor:
    """Chunked scan: (..., L, N) → (..., L, N); `a` (N,) or b's shape. Same associative operator, regrouped.

    With chunks of T steps, h_{cT+t} = x_{c,t} + P_{c,t} H_{c-1}, where x is the scan inside chunk c from a
    zero state (T in-place steps over all chunks at once), P_{c,t} = a_{cT} ⋯ a_{cT+t} (a^(t+1) when `a` is
    time-invariant) and H_{c-1} the true state at the end of chunk c−1; the H are themselves a linear
    recurrence over chunks (coefficient P_{c,T−1}), scanned recursively. `reverse=True` runs
    h_t = a_t ⊙ h_{t+1} + b_t backwards in time (the adjoint) without flipping the sequence.
    Works in one fresh buffer, (M, C, T, N); never writes into `a` or `b`.
    """
    varying = a.dim() == b.dim()
    if reverse and varying:
        return _scan_chunked(a.flip(-2), b.flip(-2), chunk).flip(-2)
    length, n = b.shape[-2], b.shape[-1]
    t_len = min(chunk or _auto_chunk(length), length)
    n_chunks = -(-length // t_len)
    x = _padded_copy(b, n_chunks * t_len).view(-1, n_chunks, t_len, n)  # (M, C, T, N)
    av = _padded_copy(a, n_chunks * t_len).view(x.shape) if varying else a
    steps = range(t_len - 2, -1, -1) if reverse else range(1, t_len)
    for t in steps:  # the recurrence inside every chunk at once, from a zero state
        prev = t + 1 if reverse else t - 1
        x[:, :, t].addcmul_(x[:, :, prev], av[:, :, t] if varying else av)
    if n_chunks > 1:
        if varying:
            prod = torch.cumprod(av, dim=2)  # (M, C, T, N): P_{c,t}
            ends = _scan_chunked(prod[:, :-1, -1], x[:, :-1, -1], chunk)  # (M, C−1, N): H_0 .. H_{C−2}
            x[:, 1:].addcmul_(prod[:, 1:], ends.unsqueeze(2))
        else:
            powers = torch.cumprod(a.expand(t_len, n), dim=0)  # (T, N): a^(t+1)
            if reverse:  # chunk c continues from the state at the start of chunk c+1: a^(T−t) H_{c+1}
                ends = _scan_chunked(powers[-1], x[:, 1:, 0], chunk, reverse=True)
                x[:, :-1].addcmul_(powers.flip(0), ends.unsqueeze(2))
            else:
                ends = _scan_chunked(powers[-1], x[:, :-1, -1], chunk)
                x[:, 1:].addcmul_(powers, ends.unsqueeze(2))
    return x.view(-1, n_chunks * t_len, n)[:, :length].reshape(b.shape)


def _padded_copy(z: Tensor, length: int) -> Tensor:
    """(..., L, N) → a new contiguous (M, length, N) tensor, zero-padded at the end of time."""
    z = z.reshape(-1, z.shape[-2], z.shape[-1])
    if z.shape[1] == length:
        return z.clone(memory_format=torch.contiguous_format)
    out = z.new_zeros(z.shape[0], length, z.shape[2])
    out[:, : z.shape[1]] = z
    return out


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
