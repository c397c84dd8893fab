"""Contrastive random walk (CRW) cycle loss on palindromes (seed003 Part B, B.2.1–B.2.4, B.9).

Nodes of frame t are ℓ2-normalised embeddings Q_t (N × d). The walker's one-step transition
A_t^{t+1} = softmax_row(Q_t Q_{t+1}ᵀ / τ) (B.2.1, Eq. 3.1); the backward step A_{t+1}^t uses the same
similarities transposed and re-normalised row-wise (B.2.2). The walk along the palindrome t → t+k → t is
A_0^1 … A_{k−1}^k · A_k^{k−1} … A_1^0, row-stochastic matrices right-multiplied in time order (B.2.4,
Algorithm 6 with the order fixed; B.9 "Multiplication order"); its target is the identity (Eq. 3.4), and
the training loss averages the cycle losses of all sub-cycles k = 1..T−1 (B.2.2 [REF]: mean, not sum).

Everything here is batched over clips: node tensors are (B, T, N, d), transitions (B, T−1, N, N).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

DROPPED_LOGIT = -1e10  # B.2.3: dropped edges get a large negative logit before the softmax
LOG_EPS = 1e-20  # B.9: log(W + 1e-20), the product of many softmaxes underflows


def _check_nodes(nodes: torch.Tensor) -> None:
    if nodes.dim() != 4 or nodes.shape[1] < 2:
        raise ValueError(f"nodes must be (B, T, N, d) with T >= 2 frames, got shape {tuple(nodes.shape)}")


def edge_dropout(logits: torch.Tensor, p: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """B.2.3 / B.9: set each logit independently to −1e10 with probability p (before the softmax, so the
    rows stay normalised). p = 0 returns the logits unchanged."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"edge dropout p must be in [0, 1), got {p}")
    if p == 0.0:
        return logits
    dev = generator.device if generator is not None else logits.device  # a CPU generator may drive GPU logits
    drop = torch.rand(logits.shape, generator=generator, device=dev).to(logits.device) < p
    return logits.masked_fill(drop, DROPPED_LOGIT)


def transition_matrices(
    nodes: torch.Tensor,
    tau: float,
    *,
    edge_drop: float = 0.0,
    generator: torch.Generator | None = None,
    normalize: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward and backward one-step transitions of a clip batch (B.2.1, B.2.2).

    nodes (B, T, N, d) -> (fwd, bwd), each (B, T−1, N, N): fwd[:, t] = A_t^{t+1}, bwd[:, t] = A_{t+1}^t.
    One affinity tensor S_t = Q_t Q_{t+1}ᵀ serves both directions; edge-dropout masks are sampled
    independently for every matrix and direction (B.2.3). Every row sums to 1.

    Computed time-major (each A_t one contiguous (B, N, N) block, what the walk multiplies); the returned
    tensors are (B, T−1, N, N) views of it, and the dropout masks are drawn batch-major (B, T−1, N, N) as
    `edge_dropout` draws them, so the random stream does not depend on the layout."""
    _check_nodes(nodes)
    if tau <= 0:
        raise ValueError(f"temperature tau must be > 0, got {tau}")
    if not 0.0 <= edge_drop < 1.0:
        raise ValueError(f"edge dropout p must be in [0, 1), got {edge_drop}")
    q = F.normalize(nodes, dim=-1) if normalize else nodes
    q = q.transpose(0, 1)  # (T, B, N, d)
    logits = (q[:-1] @ q[1:].transpose(-1, -2)) / tau  # (T−1, B, N, N): S_t = Q_t Q_{t+1}ᵀ

    def drop(x: torch.Tensor) -> torch.Tensor:
        if edge_drop == 0.0:
            return x
        dev = generator.device if generator is not None else x.device
        shape = (x.shape[1], x.shape[0], *x.shape[2:])
        mask = torch.rand(shape, generator=generator, device=dev).to(x.device).transpose(0, 1) < edge_drop
        return x.masked_fill(mask, DROPPED_LOGIT)

    fwd = drop(logits).softmax(dim=-1)
    bwd = drop(logits.transpose(-1, -2).contiguous()).softmax(dim=-1)
    return fwd.transpose(0, 1), bwd.transpose(0, 1)


def palindrome_walks(fwd: torch.Tensor, bwd: torch.Tensor) -> list[torch.Tensor]:
    """Round-trip matrices of every sub-cycle: walks[k−1] = Ā_0^k Ā_k^0 (B, N, N) for k = 1..T−1.

    Algorithm 6 recomputes each walk from scratch (O(T²) products); here the forward prefix
    P_k = P_{k−1} A_{k−1}^k and the backward suffix R_k = A_k^{k−1} R_{k−1} are extended by one matrix
    per k, so walk k = P_k R_k costs three products — the same matrices in the same order (matrix products
    are associative), only grouped differently."""
    if fwd.shape != bwd.shape or fwd.dim() != 4:
        raise ValueError(
            f"fwd and bwd must both be (B, T−1, N, N), got {tuple(fwd.shape)} and {tuple(bwd.shape)}"
        )
    walks = []
    prefix, suffix = fwd[:, 0], bwd[:, 0]
    walks.append(prefix @ suffix)
    for k in range(1, fwd.shape[1]):
        prefix = prefix @ fwd[:, k]  # right-multiply in time order: A_0^1 … A_k^{k+1}
        suffix = bwd[:, k] @ suffix  # A_{k+1}^k … A_1^0
        walks.append(prefix @ suffix)
    return walks


def palindrome_return_probabilities(
    fwd: torch.Tensor, bwd: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The diagonals of every sub-cycle's round trip, (B, T−1, N): P(X_2k = i | X_0 = i) for k = 1..T−1,
    and the last round-trip matrix Ā_0^{T−1} Ā_{T−1}^0 (B, N, N), computed without gradient.

    The cycle loss against the identity (Eq. 3.4) reads only the diagonal of each walk, so walk k's
    diagonal is taken as (P_k ⊙ R_kᵀ) summed over the inner index, O(N²), instead of forming P_k R_k,
    O(N³): the same numbers as `palindrome_walks` (products grouped differently), 2(T−1) products instead
    of 3(T−1) (Algorithm 6: (T−1)²)."""
    if fwd.shape != bwd.shape or fwd.dim() != 4:
        raise ValueError(
            f"fwd and bwd must both be (B, T−1, N, N), got {tuple(fwd.shape)} and {tuple(bwd.shape)}"
        )
    fwd_t = fwd.transpose(0, 1).contiguous().unbind(0)  # time-major (a no-op for transition_matrices'
    bwd_t = bwd.transpose(0, 1).contiguous().unbind(0)  # output): each A_t a contiguous (B, N, N) batch
    prefix, suffix = fwd_t[0], bwd_t[0]
    diags = [(prefix * suffix.transpose(-1, -2)).sum(-1)]
    for k in range(1, len(fwd_t)):
        prefix = prefix @ fwd_t[k]  # A_0^1 … A_k^{k+1}
        suffix = bwd_t[k] @ suffix  # A_{k+1}^k … A_1^0
        diags.append((prefix * suffix.transpose(-1, -2)).sum(-1))
    with torch.no_grad():
        last = prefix @ suffix
    return torch.stack(diags, dim=1), last


def cycle_loss_of_walk(walk: torch.Tensor) -> torch.Tensor:
    """Eq. 3.4: cross-entropy of the round-trip matrix (B, N, N) against the identity, mean over nodes."""
    n = walk.shape[-1]
    target = torch.arange(n, device=walk.device).repeat(walk.shape[0])
    return F.nll_loss(torch.log(walk + LOG_EPS).flatten(0, 1), target)


def crw_loss(
    nodes: torch.Tensor,
    tau: float = 0.07,
    *,
    edge_drop: float = 0.0,
    generator: torch.Generator | None = None,
    normalize: bool = True,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The CRW training loss of a clip batch (Algorithm 6): mean over sub-cycles k = 1..T−1 of the cycle
    loss of the palindrome 0 → k → 0 (B.2.2), with edge dropout on the logits (B.2.3, training only).

    nodes (B, T, N, d) embeddings (ℓ2-normalised here unless normalize=False). Returns the scalar loss and
    flat metrics: `loss/crw_k{k}` per sub-cycle and `train/crw_acc`, the fraction of nodes whose longest
    round trip returns most probably to itself. The walks' diagonals come from
    `palindrome_return_probabilities` (equal to `cycle_loss_of_walk` of each `palindrome_walks` matrix)."""
    fwd, bwd = transition_matrices(nodes, tau, edge_drop=edge_drop, generator=generator, normalize=normalize)
    diags, last = palindrome_return_probabilities(fwd, bwd)
    losses = -torch.log(diags + LOG_EPS).mean(dim=(0, 2))  # per k: Eq. 3.4, mean over clips and nodes
    loss = losses.mean()
    n = last.shape[-1]
    acc = (last.argmax(-1) == torch.arange(n, device=nodes.device)).float().mean()
    metrics = {f"loss/crw_k{k + 1}": float(v.detach()) for k, v in enumerate(losses)}
    metrics["train/crw_acc"] = float(acc)
    return loss, metrics
