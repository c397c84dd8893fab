"""k-NN label propagation through a video with a learned embedding (seed003 B.2.7, B.9).

Given per-frame feature maps (T, d, h, w) and the first frame's labels, predict the labels of every later
frame. For target frame t the context is the first frame's nodes (ground-truth labels, kept for the whole
video) plus the nodes of the previous m frames (the model's own soft predictions, fed back, not argmaxed),
with the start padded by repeating frame 0 (B.2.7.3). Affinities (q_t · q_s)/τ over all context nodes
jointly; source nodes of the m short-term frames farther than `radius` feature cells from the target node
are masked (the first frame is not, as in the reference code, B.2.7.4); the top-k affinities over the whole
context are kept, softmaxed and used to average the source labels (B.2.7.5). Masks are upsampled bilinearly
and argmaxed (B.2.7.6).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MASKED = -1e10


def _grid(h: int, w: int, device) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack([yy.flatten(), xx.flatten()], -1).float()  # (N, 2)


def propagate_labels(
    feats: torch.Tensor,
    first_labels: torch.Tensor,
    *,
    tau: float = 0.07,
    k: int = 10,
    m: int = 20,
    radius: float = 12.0,
) -> torch.Tensor:
    """Soft labels of every frame at feature resolution.

    feats (T, d, h, w), ℓ2-normalised per location here (B.9); first_labels (C, h, w) soft labels of
    frame 0. Returns (T, C, h, w); index 0 is first_labels itself."""
    if feats.dim() != 4:
        raise ValueError(f"feats must be (T, d, h, w), got shape {tuple(feats.shape)}")
    t_len, _, h, w = feats.shape
    if first_labels.dim() != 3 or first_labels.shape[1:] != (h, w):
        raise ValueError(
            f"first_labels must be (C, {h}, {w}) at feature resolution, got {tuple(first_labels.shape)}"
        )
    if tau <= 0 or k < 1 or m < 0 or radius <= 0:
        raise ValueError(
            f"need tau > 0, k >= 1, m >= 0, radius > 0; got tau={tau}, k={k}, m={m}, radius={radius}"
        )
    q = F.normalize(feats.flatten(2).transpose(1, 2), dim=-1)  # (T, N, d)
    labels = [first_labels.flatten(1).t().to(q.dtype)]  # (N, C) per frame
    mask = context_mask(h, w, m, radius, feats.device)
    for t in range(1, t_len):
        labels.append(propagate_frame(q, labels, t, mask, tau=tau, k=k, m=m))
    return torch.stack([lab.t().reshape(-1, h, w) for lab in labels])


def context_mask(h: int, w: int, m: int, radius: float, device=None) -> torch.Tensor:
    """(N target, (1+m)N source) bool: True where a source node is masked — farther than `radius` cells
    from the target, in the m short-term frames only (never in the first frame, B.2.7.4 [REF])."""
    n = h * w
    pos = _grid(h, w, device)
    far = torch.cdist(pos, pos) > radius
    return torch.cat([torch.zeros(n, n, dtype=torch.bool, device=device), far.repeat(1, m)], dim=1)


def propagate_frame(
    q: torch.Tensor, labels: list[torch.Tensor], t: int, mask: torch.Tensor, *, tau: float, k: int, m: int
) -> torch.Tensor:
    """Soft labels (N, C) of frame t from q (≥ t+1, N, d) ℓ2-normalised node features and the soft labels
    (N, C) of frames 0..t−1: context = frame 0 + the m previous frames (start padded with frame 0), joint
    top-k of the masked affinities, softmax, weighted average (B.2.7.3–5)."""
    ctx = [max(s, 0) for s in range(t - m, t)]  # previous m frames, start padded with frame 0
    src_q = torch.cat([q[0]] + [q[s] for s in ctx], dim=0)  # ((1+m)N, d)
    src_l = torch.cat([labels[0]] + [labels[s] for s in ctx], dim=0)  # ((1+m)N, C)
    aff = (q[t] @ src_q.t() / tau).masked_fill(mask, MASKED)  # (N, (1+m)N)
    top, idx = aff.topk(min(k, aff.shape[1]), dim=1)  # jointly over the whole context (B.2.7.5)
    weights = top.softmax(dim=1)  # (N, k)
    return torch.einsum("nk,nkc->nc", weights, src_l[idx])


def labels_from_mask(mask: torch.Tensor, n_classes: int, size: tuple[int, int]) -> torch.Tensor:
    """One-hot label map of an integer mask (H, W) bilinearly resized to feature resolution: (C, h, w)."""
    onehot = F.one_hot(mask.long(), n_classes).permute(2, 0, 1).float()
    return F.interpolate(onehot[None], size=size, mode="bilinear", align_corners=False)[0]


def propagate_mask(
    feats: torch.Tensor,
    first_mask: torch.Tensor,
    n_classes: int | None = None,
    **kwargs,
) -> torch.Tensor:
    """Integer masks (T, H, W) of every frame from the first frame's mask (H, W), background = 0 (B.2.7):
    downsample the one-hot labels, propagate, upsample the soft labels bilinearly, argmax."""
    n_classes = int(first_mask.max()) + 1 if n_classes is None else n_classes
    h, w = feats.shape[-2:]
    soft = propagate_labels(feats, labels_from_mask(first_mask, n_classes, (h, w)).to(feats.dtype), **kwargs)
    up = F.interpolate(soft, size=tuple(first_mask.shape), mode="bilinear", align_corners=False)
    out = up.argmax(dim=1)
    out[0] = first_mask
    return out
