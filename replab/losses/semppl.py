"""SemPPL: semantic positives via kNN pseudo-labels (Bošnjak et al., ICLR 2023; seed002 §6.2).

The pre-training code is not public; this follows the spec's reconstruction:

- pseudo-labels: each unlabelled example gets the majority label of its k nearest neighbours (cosine) among
  the target embeddings of labelled examples (queue Q_L); labelled examples keep their true label;
- semantic positives: for anchor i, up to `n_pos` entries of a queue Q of (target embedding, (pseudo-)label)
  with the same label (never the anchor's own sample);
- L = L_augm + α·L_sempos, where L_augm is InfoNCE between the online prediction of one view and the
  target projections of the other view over the batch, and each semantic positive p competes with the
  same negatives as L_augm (the other batch targets):
      L_sempos = mean_{i, p∈P(i)} −log[ exp φ(a_i, z_p) / (exp φ(a_i, z_p) + Σ_{j≠i} exp φ(a_i, t_j)) ],
  φ(a, b) = cos(a, b) / τ. ReLICv2's invariance (KL) term is not included.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from replab.losses.info_nce import info_nce


def knn_pseudo_labels(z: Tensor, bank_z: Tensor, bank_labels: Tensor, k: int = 1) -> Tensor:
    """Majority label of the `k` cosine-nearest rows of `bank_z` (M, D) for each row of `z` (N, D).

    Ties between labels are broken by the larger summed similarity. Returns labels (N,) int64.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if bank_z.shape[0] < k:
        raise ValueError(f"the bank holds {bank_z.shape[0]} embeddings, fewer than k={k}")
    sim = F.normalize(z, dim=1) @ F.normalize(bank_z, dim=1).T  # (N, M)
    top_sim, top_idx = sim.topk(k, dim=1)
    top_lab = bank_labels[top_idx]  # (N, k)
    classes = int(bank_labels.max()) + 1
    votes = F.one_hot(top_lab, classes).to(sim.dtype)  # (N, k, C)
    # counts dominate (a difference of one vote is worth 2k+1 > any difference of summed similarities)
    score = votes.sum(1) * (2 * k + 1) + (votes * top_sim[..., None]).sum(1)
    return score.argmax(1)


def sample_semantic_positives(
    labels: Tensor,
    queue_labels: Tensor,
    n_pos: int,
    *,
    ids: Tensor | None = None,
    queue_ids: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Indices (N, n_pos) into the queue of up to `n_pos` entries sharing each anchor's label, uniformly
    without replacement, and a mask (N, n_pos) of which indices are real (an anchor may have fewer).

    Entries with label < 0, anchors with label < 0, and entries with the anchor's own id never pair.
    """
    if n_pos < 1:
        raise ValueError(f"n_pos must be >= 1, got {n_pos}")
    eligible = (
        (labels[:, None] == queue_labels[None, :]) & (queue_labels[None, :] >= 0) & (labels[:, None] >= 0)
    )
    if ids is not None and queue_ids is not None:
        eligible &= ids[:, None] != queue_ids[None, :]
    if queue_labels.numel() == 0:
        empty = torch.zeros(labels.shape[0], n_pos, dtype=torch.long, device=labels.device)
        return empty, empty.bool()
    u = torch.rand(eligible.shape, generator=generator, device=eligible.device)
    u = u.masked_fill(~eligible, -1.0)
    n = min(n_pos, queue_labels.numel())
    score, idx = u.topk(n, dim=1)
    mask = score >= 0
    if n < n_pos:
        pad = n_pos - n
        idx = F.pad(idx, (0, pad))
        mask = F.pad(mask, (0, pad))
    return idx, mask


def semantic_positive_loss(
    anchor: Tensor, target: Tensor, positives: Tensor, mask: Tensor, temperature: float
) -> Tensor:
    """L_sempos for anchors (N, D), batch targets (N, D) and semantic positives (N, P, D) with mask (N, P).

    Zero (with gradient graph kept) when no anchor has a positive.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    a, t, z = F.normalize(anchor, dim=1), F.normalize(target, dim=1), F.normalize(positives, dim=2)
    pos = torch.einsum("nd,npd->np", a, z) / temperature
    neg = (a @ t.T) / temperature
    neg = neg.masked_fill(torch.eye(neg.shape[0], dtype=torch.bool, device=neg.device), float("-inf"))
    neg_lse = torch.logsumexp(neg, 1, keepdim=True)  # the negatives of L_augm: t_j, j ≠ i
    per = torch.logaddexp(pos, neg_lse) - pos
    if not bool(mask.any()):
        return per.sum() * 0.0
    return per[mask].mean()


def semppl_loss(
    anchor: Tensor,
    target: Tensor,
    *,
    labels: Tensor,
    queue_z: Tensor,
    queue_labels: Tensor,
    ids: Tensor | None = None,
    queue_ids: Tensor | None = None,
    n_pos: int = 3,
    alpha: float = 1.0,
    temperature: float = 0.1,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """SemPPL's objective for one ordered pair of views.

    anchor: (N, D) online predictions q(g(f(x^m))); target: (N, D) target projections g_ξ(f_ξ(x^m'))
    (detach them, or compute them under no_grad); labels: (N,) true or pseudo-labels (−1: none);
    queue_z/queue_labels/queue_ids: the queue Q of past target embeddings. Returns (loss, metrics).
    """
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    l_augm = info_nce(anchor, target, temperature=temperature, normalize=True)  # instance positives
    idx, mask = sample_semantic_positives(
        labels, queue_labels, n_pos, ids=ids, queue_ids=queue_ids, generator=generator
    )
    if queue_z.shape[0] == 0:
        positives = anchor.new_zeros(anchor.shape[0], n_pos, anchor.shape[1])
    else:
        positives = queue_z[idx]
    l_sempos = semantic_positive_loss(anchor, target, positives, mask, temperature)
    loss = l_augm + alpha * l_sempos
    metrics = {
        "loss/augm": float(l_augm.detach()),
        "loss/sempos": float(l_sempos.detach()),
        "train/positives_per_anchor": float(mask.sum(1).float().mean()),
    }
    return loss, metrics
