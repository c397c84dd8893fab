"""The CPC v2 spatial prediction loss (seed001 §1.2, thesis §2.6 pseudo-code), as a pure function.

Given the predictions ẑ = W_k c of a context network at every grid cell and the targets (a 1×1
projection of the patch latents), each prediction from context row i is scored against *every* target
of the minibatch (all locations of all images); the correct one is the same column `offset` rows further
down in the same image. The loss is the softmax cross-entropy averaged over the B·(H − offset)·W
predictions (thesis: "use the mean"). The context network must be causal in H (row i sees rows ≤ i) —
`replab.nn.cpc.PixelCNN` is — and `offset` patches must not overlap the context: see `patch_overlap`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def cpc_labels(batch: int, height: int, width: int, offset: int, device=None) -> Tensor:
    """Index of the correct target for each prediction, in row-major (b, h, w) order of the targets.

    Prediction n = b·H_i·W + h·W + w (H_i = H − offset) has label b·H·W + (h + offset)·W + w
    (the pseudo-code's `b*H*W + (i+1)*W + col` with `col = n % (H_i*W)`).
    """
    if not 1 <= offset < height:
        raise ValueError(f"offset must be in [1, {height - 1}] for a grid of height {height}, got {offset}")
    h_i = height - offset
    n = torch.arange(batch * h_i * width, device=device)
    b, col = n // (h_i * width), n % (h_i * width)
    return b * height * width + offset * width + col


def cpc_loss(preds: Tensor, targets: Tensor, offset: int, *, emb_scale: float = 0.1) -> Tensor:
    """CPC v2 InfoNCE for one prediction offset.

    preds: (B, H, W, D) predictions W_k c_{i,j} from every context cell (rows ≥ H − offset are unused).
    targets: (B, H, W, D) target embeddings. `emb_scale` multiplies the predictions (thesis default 0.1).
    Returns the mean over the B·(H − offset)·W predictions of −log softmax(ẑ·zᵀ)[correct].
    """
    if preds.shape != targets.shape or preds.dim() != 4:
        raise ValueError(
            f"preds and targets must both be (B, H, W, D), got {tuple(preds.shape)} "
            f"and {tuple(targets.shape)}"
        )
    b, h, w, d = targets.shape
    labels = cpc_labels(b, h, w, offset, device=targets.device)
    p = (preds[:, : h - offset] * emb_scale).reshape(-1, d)  # context rows 0..H−offset−1
    logits = p @ targets.reshape(-1, d).T  # (N, B·H·W): every target is a candidate
    return F.cross_entropy(logits, labels)


def patch_overlap(patch: int, stride: int, offset: int) -> int:
    """Pixels by which the target patch `offset` rows down overlaps the lowest context row's patch.

    CPC v2 skips offsets 1 and 2 (80-px patches at stride 36 overlap by 44 and 8 px); 0 means the target
    shares no pixel with any patch the context saw.
    """
    if patch < 1 or stride < 1 or offset < 1:
        raise ValueError(f"patch, stride and offset must be >= 1, got {patch}, {stride}, {offset}")
    return max(0, patch - offset * stride)
