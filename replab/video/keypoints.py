"""Keypoint propagation and PCK (seed003 B.2.7 for pose, Table 3.2): point tracks through a video.

Each keypoint of the first frame becomes one label channel (B.2.7.2: "each keypoint is a one-hot channel"),
here splatted bilinearly onto the four feature cells around it [ASSUMP: a one-hot at feature resolution
cannot place a point between cells; the bilinear weights average back to the exact point]. The channels
are propagated like masks (`propagate_labels`: first frame + m fed-back soft frames, radius, joint top-k),
and a keypoint's position in frame t is the weighted average of the `readout_k` largest locations of its
propagated heatmap (B.2.7.6 [REF]: top-3). PCK@α counts a predicted point as correct when it lies within
α · (the object's size) of the truth (JHMDB protocol [REF, UVC]: α of the larger side of the bounding box).

Coordinates are (y, x) in continuous pixels: pixel i spans [i, i+1) (its centre is i + 0.5, as in
`replab.data.sprite_videos`); feature cell j of a stride-s map is centred at (j + 0.5)·s.
"""

from __future__ import annotations

import torch

from replab.video.propagate import propagate_labels


def _check_points(points: torch.Tensor, name: str) -> None:
    if points.dim() < 2 or points.shape[-1] != 2:
        raise ValueError(f"{name} must be (..., K, 2) (y, x) pixel coordinates, got {tuple(points.shape)}")


def keypoint_heatmaps(points: torch.Tensor, size: tuple[int, int], stride: float) -> torch.Tensor:
    """(K, 2) pixel points -> (K, h, w) heatmaps at feature resolution: each point's unit mass split
    bilinearly over the four cells around it (points nearer the border than half a cell are clamped to
    the outermost cell centres)."""
    _check_points(points, "points")
    if stride <= 0:
        raise ValueError(f"stride must be > 0 (pixels per feature cell), got {stride}")
    h, w = size
    k = points.shape[0]
    u = (points[:, 0] / stride - 0.5).clamp(0, h - 1)  # cell coordinates (cell centres at integers)
    v = (points[:, 1] / stride - 0.5).clamp(0, w - 1)
    y0, x0 = u.floor().long().clamp(max=max(h - 2, 0)), v.floor().long().clamp(max=max(w - 2, 0))
    fy, fx = u - y0, v - x0
    out = torch.zeros(k, h, w, dtype=points.dtype)
    rows = torch.arange(k)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            yy, xx = (y0 + dy).clamp(max=h - 1), (x0 + dx).clamp(max=w - 1)
            out.index_put_((rows, yy, xx), wy * wx, accumulate=True)
    return out


def heatmap_positions(heatmaps: torch.Tensor, stride: float, readout_k: int = 3) -> torch.Tensor:
    """(..., K, h, w) heatmaps -> (..., K, 2) pixel points: the average of the cell centres of the
    `readout_k` largest values of each map, weighted by those values (B.2.7.6 [REF]: top-3)."""
    if readout_k < 1:
        raise ValueError(f"readout_k must be >= 1, got {readout_k}")
    h, w = heatmaps.shape[-2:]
    flat = heatmaps.flatten(-2)
    top, idx = flat.topk(min(readout_k, h * w), dim=-1)
    wts = top.clamp(min=0)
    wts = wts / wts.sum(-1, keepdim=True).clamp(min=1e-12)
    cy = ((idx // w).to(heatmaps.dtype) + 0.5) * stride
    cx = ((idx % w).to(heatmaps.dtype) + 0.5) * stride
    return torch.stack([(wts * cy).sum(-1), (wts * cx).sum(-1)], dim=-1)


def propagate_keypoints(
    feats: torch.Tensor,
    first_points: torch.Tensor,
    stride: float,
    *,
    readout_k: int = 3,
    **kwargs,
) -> torch.Tensor:
    """Points (T, K, 2) of every frame from the first frame's points (K, 2): heatmaps at feature
    resolution, `propagate_labels(feats, ..., **kwargs)` (tau, k, m, radius), top-`readout_k` readout.
    Frame 0 is the given points."""
    if feats.dim() != 4:
        raise ValueError(f"feats must be (T, d, h, w), got shape {tuple(feats.shape)}")
    heat = keypoint_heatmaps(first_points.to(feats.dtype), tuple(feats.shape[-2:]), stride)
    soft = propagate_labels(feats, heat, **kwargs)  # (T, K, h, w)
    out = heatmap_positions(soft, stride, readout_k)
    out[0] = first_points
    return out


def pck(
    pred: torch.Tensor,
    gt: torch.Tensor,
    ref: torch.Tensor | float,
    alpha: float = 0.1,
    visible: torch.Tensor | None = None,
) -> float:
    """PCK@α of points (T, K, 2): the fraction of (frame, keypoint) pairs over frames 1..T−1 (frame 0 is
    given) with ‖pred − gt‖ ≤ α · ref. `ref`: the object size (T, K), or one number. `visible` (T, K)
    bool: only visible pairs count (NaN when none is)."""
    _check_points(pred, "pred")
    if pred.shape != gt.shape or pred.dim() != 3 or pred.shape[0] < 2:
        raise ValueError(
            f"pred and gt must be equal (T >= 2, K, 2), got {tuple(pred.shape)}, {tuple(gt.shape)}"
        )
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    dist = (pred - gt).norm(dim=-1)[1:]
    ref_t = torch.as_tensor(ref, dtype=dist.dtype)
    ref_t = ref_t[1:] if ref_t.dim() == 2 else ref_t
    hit = dist <= alpha * ref_t
    keep = torch.ones_like(hit) if visible is None else visible[1:].bool()
    n = int(keep.sum())
    return float("nan") if n == 0 else float((hit & keep).sum()) / n


def box_size(masks: torch.Tensor) -> torch.Tensor:
    """(..., H, W) bool masks -> (...) the larger side of each mask's bounding box in pixels (0 if empty):
    the PCK reference size."""
    rows, cols = masks.any(-1), masks.any(-2)

    def extent(a: torch.Tensor) -> torch.Tensor:
        idx = torch.arange(a.shape[-1])
        hi = torch.where(a, idx, -1).amax(-1)
        lo = torch.where(a, idx, a.shape[-1]).amin(-1)
        return (hi - lo + 1).clamp(min=0)

    return torch.maximum(extent(rows), extent(cols)).float()
