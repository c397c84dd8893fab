"""Video object segmentation metrics (DAVIS): J (region IoU), F (boundary F-measure) and J&F.

Masks are boolean (H, W) per object; multi-object integer masks are split into one boolean mask per object
id (background 0). As in DAVIS, an empty prediction of an empty object scores 1, and the first frame (whose
mask is given) is left out of the video means.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def region_j(pred: torch.Tensor, gt: torch.Tensor) -> float:
    """Jaccard index |pred ∩ gt| / |pred ∪ gt| of two boolean masks; 1 when both are empty."""
    pred, gt = pred.bool(), gt.bool()
    union = (pred | gt).sum().item()
    return 1.0 if union == 0 else (pred & gt).sum().item() / union


def boundary(mask: torch.Tensor) -> torch.Tensor:
    """Boundary pixels of a boolean mask: pixels of the mask with a 4-neighbour outside it (the image
    border counts as outside)."""
    m = mask.bool()[None, None].float()
    eroded = -F.max_pool2d(-F.pad(m, (1, 1, 1, 1), value=0.0), 3, stride=1, padding=0)
    return (m.bool() & ~eroded.bool())[0, 0]


def _dilate(mask: torch.Tensor, r: int) -> torch.Tensor:
    if r == 0:
        return mask.bool()
    m = mask.bool()[None, None].float()
    return F.max_pool2d(m, 2 * r + 1, stride=1, padding=r)[0, 0].bool()


def default_tolerance(shape: tuple[int, int]) -> int:
    """DAVIS's boundary tolerance: 0.008 of the image diagonal, rounded up (in pixels)."""
    return math.ceil(0.008 * math.hypot(*shape))


def boundary_f(pred: torch.Tensor, gt: torch.Tensor, tolerance: int | None = None) -> float:
    """Boundary F-measure: precision = fraction of predicted boundary pixels within `tolerance` pixels
    (Chebyshev distance, a square dilation) of the true boundary, recall the converse, F = 2PR/(P+R).
    1 when both boundaries are empty, 0 when exactly one is."""
    tol = default_tolerance(tuple(gt.shape)) if tolerance is None else tolerance
    if tol < 0:
        raise ValueError(f"tolerance must be >= 0 pixels, got {tol}")
    bp, bg = boundary(pred), boundary(gt)
    n_p, n_g = bp.sum().item(), bg.sum().item()
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0
    precision = (bp & _dilate(bg, tol)).sum().item() / n_p
    recall = (bg & _dilate(bp, tol)).sum().item() / n_g
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def j_and_f(pred: torch.Tensor, gt: torch.Tensor, tolerance: int | None = None) -> dict[str, float]:
    """Mean J, mean F and J&F = (J + F)/2 of integer masks (T, H, W) over objects (ids > 0 of the first
    ground-truth frame) and frames 1..T−1, and J_recall: the fraction of those (object, frame) pairs with
    IoU > 0.5 (DAVIS's J-recall; every object has the same frames, so it is the mean of the per-object
    recalls)."""
    if pred.shape != gt.shape or gt.dim() != 3 or gt.shape[0] < 2:
        raise ValueError(
            f"pred and gt must be equal (T >= 2, H, W) masks, got {tuple(pred.shape)}, {tuple(gt.shape)}"
        )
    objects = [int(o) for o in gt[0].unique() if o > 0]
    if not objects:
        raise ValueError("the first ground-truth frame has no object (ids > 0)")
    js, fs = [], []
    for o in objects:
        for t in range(1, gt.shape[0]):
            js.append(region_j(pred[t] == o, gt[t] == o))
            fs.append(boundary_f(pred[t] == o, gt[t] == o, tolerance))
    j, f = sum(js) / len(js), sum(fs) / len(fs)
    return {"J": j, "F": f, "J&F": (j + f) / 2, "J_recall": sum(v > 0.5 for v in js) / len(js)}
