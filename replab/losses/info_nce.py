"""InfoNCE: one definition for instance positives (SimCLR/MoCo/CURL), label positives (SupCon) and
SemPPL's pseudo-label positives.

Anchor i is scored against every candidate j (the rows of `k`, then of `queue`) with

    s_ij = q_i · W · k_j / τ         (`weight` W: CURL's bilinear form; None: the dot product)

and, with `normalize=True`, q and k are first L2-normalised (cosine similarity, SimCLR/SemPPL's φ).
Positives P(i) are k_i (instance mode, `labels=None`) or every candidate with the same label. Each
positive competes with the negatives of its anchor (seed002 §6.2, the SemPPL form):

    ℓ_i = mean_{p ∈ P(i)} −log[ exp s_ip / (exp s_ip + Σ_{n ∈ N(i)} exp s_in) ]

(`denominator="all"` puts every candidate in the denominator instead: SupCon's L_out). With one positive
per anchor both forms are the usual softmax cross-entropy −log softmax(s_i)_p (CPC v2 §2.6, CURL eq. 3.1,
SimCLR's NT-Xent). The loss is the mean of ℓ_i over anchors that have at least one positive.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

DENOMINATORS = ("negatives", "all")


def info_nce(
    q: Tensor,
    k: Tensor,
    *,
    labels: Tensor | None = None,
    k_labels: Tensor | None = None,
    weight: Tensor | None = None,
    temperature: float = 1.0,
    normalize: bool = False,
    queue: Tensor | None = None,
    queue_labels: Tensor | None = None,
    exclude_self: bool = False,
    denominator: str = "negatives",
) -> Tensor:
    """The InfoNCE loss of anchors `q` (N, D) against candidates `k` (M, D) and an optional `queue` (K, D).

    - `labels=None`: instance positives, k_i for q_i (needs M == N); queue entries are all negatives
      (MoCo's memory queue).
    - `labels` (N,) int: positives are candidates with the same label; `k_labels` (M,) defaults to `labels`,
      `queue_labels` (K,) default to −1. A label < 0 on a candidate means "unknown": always a negative.
    - `exclude_self`: q and k are the same N samples (SimCLR's 2N-view batch): candidate i is removed
      from anchor i's positives and negatives.
    - `weight` (D, D): bilinear similarity q W kᵀ (CURL); gradients flow into it.
    Returns a scalar tensor.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if denominator not in DENOMINATORS:
        raise ValueError(f"denominator must be one of {DENOMINATORS}, got {denominator!r}")
    if q.dim() != 2 or k.dim() != 2 or q.shape[1] != k.shape[1]:
        raise ValueError(f"q and k must be (N, D) and (M, D), got {tuple(q.shape)} and {tuple(k.shape)}")
    n, m = q.shape[0], k.shape[0]
    if normalize:
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        queue = F.normalize(queue, dim=1) if queue is not None else None
    cand = k if queue is None else torch.cat([k, queue.to(k.dtype)], 0)
    qw = q if weight is None else q @ weight
    logits = (qw @ cand.T) / temperature  # (N, M + K)

    if labels is None:
        if m != n:
            raise ValueError(f"instance positives need as many candidates as anchors, got N={n}, M={m}")
        target = torch.arange(n, device=q.device)
        if exclude_self:
            raise ValueError("exclude_self needs labels (with instance positives the positive is the self)")
        return F.cross_entropy(logits, target)

    if labels.shape != (n,):
        raise ValueError(f"labels must be (N,) = ({n},), got {tuple(labels.shape)}")
    k_labels = labels if k_labels is None else k_labels
    if k_labels.shape != (m,):
        raise ValueError(f"k_labels must be (M,) = ({m},), got {tuple(k_labels.shape)}")
    if queue is not None:
        if queue_labels is None:
            queue_labels = torch.full((queue.shape[0],), -1, dtype=labels.dtype, device=labels.device)
        k_labels = torch.cat([k_labels, queue_labels.to(labels.dtype)])
    valid = torch.ones_like(logits, dtype=torch.bool)
    if exclude_self:
        if m != n:
            raise ValueError(f"exclude_self needs q and k of the same samples, got N={n}, M={m}")
        valid[:, :n].fill_diagonal_(False)
    pos = (labels[:, None] == k_labels[None, :]) & (k_labels[None, :] >= 0) & valid
    return _multi_positive(logits, pos, valid, denominator)


def _multi_positive(logits: Tensor, pos: Tensor, valid: Tensor, denominator: str) -> Tensor:
    """Mean over anchors with a positive of the mean over positives of −log p(positive)."""
    has_pos = pos.any(1)
    if not bool(has_pos.any()):
        raise ValueError("no anchor has a positive: check labels / k_labels / queue_labels")
    neg_inf = torch.finfo(logits.dtype).min
    if denominator == "all":
        lse = torch.logsumexp(logits.masked_fill(~valid, neg_inf), 1, keepdim=True)  # (N, 1)
        per_pos = lse - logits
    else:
        neg = valid & ~pos
        neg_lse = torch.logsumexp(logits.masked_fill(~neg, neg_inf), 1, keepdim=True)
        # An anchor with no negative has neg_lse = −inf-like; logaddexp then gives the positive alone.
        per_pos = torch.logaddexp(logits, neg_lse) - logits
    per_anchor = (per_pos * pos).sum(1) / pos.sum(1).clamp(min=1)
    return per_anchor[has_pos].mean()


def nt_xent(z0: Tensor, z1: Tensor, temperature: float = 0.5) -> Tensor:
    """SimCLR's NT-Xent over two views (N, D) each: every one of the 2N embeddings is an anchor, its other
    view the positive and the remaining 2N − 2 the negatives, with cosine similarity / τ.

    Equal to `info_nce(z, z, labels=ids, normalize=True, exclude_self=True)` with z = [z0; z1] and
    ids = [0..N−1, 0..N−1]; written as one cross-entropy because each anchor has exactly one positive.
    """
    if z0.shape != z1.shape or z0.dim() != 2:
        raise ValueError(
            f"z0 and z1 must be (N, D) of the same shape, got {tuple(z0.shape)} and {tuple(z1.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    n = z0.shape[0]
    z = F.normalize(torch.cat([z0, z1], 0), dim=1)
    logits = (z @ z.T) / temperature
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    target = torch.arange(2 * n, device=z.device).roll(n)  # i ↔ i + N
    return F.cross_entropy(logits, target)
