"""Pixels as nodes → optical flow: a multiscale contrastive random walk (seed003 B.7; Bian et al., CVPR 2022).

Pixel-level attention between two high-resolution frames costs (HW)²; B.7's fix is hierarchical attention,
coarse to fine. Level 0 (coarsest) is full attention, A = softmax_row(Q_1 Q_2ᵀ / τ) (as B.2.1). At each finer
level (twice the resolution) every pixel of frame 1 attends only to a (2r+1)² window of frame 2 centred on
the location the coarser level's walk predicts, upsampled: centre = own position + 2 · upsample(flow_coarse),
rounded. The flow of a level is the expected displacement under its attention (soft-argmax, B.7 [ASSUMP]).

Training: the same palindrome cycle loss (B.2.2, Eq. 3.4) per level on the walk frame 1 → frame 2 → frame 1:
the backward attention is computed the same way from frame 2 (its own coarse-to-fine windows), and the
return probability of pixel i is Σ_k a_{ik} b_{j_k, i}, non-zero only where i lies in j_k's backward window.
The loss is the mean over levels of −log(return probability), mean over pixels.

[ASSUMP] choices (the thesis gives none, B.7 is conceptual): pyramid by 2× average pooling; τ = 0.07 and
window radius r = 2 as defaults; windows that leave the frame are masked (not padded); the window centre is
rounded, so no gradient flows through it; the two-frame walk only (chaining in time is not implemented);
no smoothness regulariser ([16] describes those, not the thesis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from replab.losses.crw import LOG_EPS, edge_dropout

MASKED = float("-inf")  # window entries outside the frame: exactly 0, below edge dropout's −1e10, so a
# row whose in-frame entries were all dropped still sums to 1 over them (the centre is always in the frame)


def _grid(h: int, w: int, device=None, dtype=torch.float32) -> torch.Tensor:
    yy, xx = torch.meshgrid(
        torch.arange(h, device=device, dtype=dtype),
        torch.arange(w, device=device, dtype=dtype),
        indexing="ij",
    )
    return torch.stack([yy, xx], -1)  # (h, w, 2) positions (y, x)


def feature_pyramid(feats: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """(B, d, H, W) -> `levels` maps, coarsest first, each half the previous size (2× average pooling
    [ASSUMP]); the last is `feats` itself. H and W must be divisible by 2^(levels−1)."""
    if feats.dim() != 4 or levels < 1:
        raise ValueError(
            f"need feats (B, d, H, W) and levels >= 1, got {tuple(feats.shape)}, levels={levels}"
        )
    f = 2 ** (levels - 1)
    if feats.shape[-2] % f or feats.shape[-1] % f:
        raise ValueError(f"H, W = {tuple(feats.shape[-2:])} must be divisible by 2^(levels-1) = {f}")
    pyr = [feats]
    for _ in range(levels - 1):
        pyr.append(F.avg_pool2d(pyr[-1], 2))
    return pyr[::-1]


def pixel_descriptors(frames: torch.Tensor, patch: int = 3) -> torch.Tensor:
    """Raw-pixel descriptors: each pixel's patch×patch neighbourhood (reflect padded), mean-subtracted per
    pixel — a baseline descriptor without learning. (B, C, H, W) -> (B, C·patch², H, W)."""
    b, c, h, w = frames.shape
    pad = patch // 2
    x = F.pad(frames, (pad, pad, pad, pad), mode="reflect") if pad else frames
    cols = F.unfold(x, patch).view(b, c * patch * patch, h, w)
    return cols - cols.mean(1, keepdim=True)


def pixel_pyramid(frames: torch.Tensor, levels: int, patch: int = 5) -> list[torch.Tensor]:
    """Raw-pixel descriptors at every level of an image pyramid (2× average pooling of the frames, then
    `pixel_descriptors` per level [ASSUMP: patch 5]), coarsest first: the no-learning baseline."""
    return [pixel_descriptors(x, patch) for x in feature_pyramid(frames, levels)]


@dataclass
class Level:
    """One level of the hierarchical attention from frame a to frame b (positions in that level's pixels).

    weights (B, N, K): attention rows (K = N_b at the coarsest level, (2r+1)² at finer levels);
    index (B, N, K): the frame-b pixel (flat) of each entry; centre (B, N, 2) the window centre (None at the
    full level); flow (B, 2, h, w): the soft-argmax displacement (y, x)."""

    weights: torch.Tensor
    index: torch.Tensor
    centre: torch.Tensor | None
    flow: torch.Tensor
    radius: int | None


def full_attention(fa: torch.Tensor, fb: torch.Tensor, tau: float, edge_drop=0.0, generator=None) -> Level:
    """Full attention (the coarsest level): every pixel of a over every pixel of b, ℓ2-normalised features."""
    b, _, h, w = fa.shape
    qa = F.normalize(fa.flatten(2).transpose(1, 2), dim=-1)  # (B, N, d)
    qb = F.normalize(fb.flatten(2).transpose(1, 2), dim=-1)
    logits = edge_dropout(qa @ qb.transpose(1, 2) / tau, edge_drop, generator)
    weights = logits.softmax(-1)  # (B, N, N)
    pos = _grid(*fb.shape[-2:], fa.device, fa.dtype).view(-1, 2)
    expected = weights @ pos  # (B, N, 2)
    flow = (expected - _grid(h, w, fa.device, fa.dtype).view(-1, 2)).transpose(1, 2).view(b, 2, h, w)
    index = torch.arange(pos.shape[0], device=fa.device).expand(b, h * w, -1)
    return Level(weights, index, None, flow, None)


def window_offsets(radius: int, device=None) -> torch.Tensor:
    """((2r+1)², 2) integer offsets (dy, dx), row-major."""
    r = torch.arange(-radius, radius + 1, device=device)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([dy.flatten(), dx.flatten()], -1)


def local_attention(
    fa: torch.Tensor,
    fb: torch.Tensor,
    coarse_flow: torch.Tensor,
    radius: int,
    tau: float,
    edge_drop: float = 0.0,
    generator=None,
) -> Level:
    """Windowed attention at a finer level: pixel p of a attends to the (2r+1)² pixels of b around
    round(p + 2 · upsample(coarse_flow)(p)); entries outside the frame get weight 0. coarse_flow
    (B, 2, h/2, w/2) is the coarser level's flow (in its pixels)."""
    b, d, h, w = fa.shape
    hb, wb = fb.shape[-2:]
    up = 2 * F.interpolate(coarse_flow, size=(h, w), mode="bilinear", align_corners=False)
    own = _grid(h, w, fa.device, fa.dtype).view(-1, 2)  # (N, 2)
    centre = torch.round(own + up.flatten(2).transpose(1, 2)).detach()  # (B, N, 2), no gradient (rounded)
    centre = torch.stack([centre[..., 0].clamp(0, hb - 1), centre[..., 1].clamp(0, wb - 1)], -1)
    offs = window_offsets(radius, fa.device).to(fa.dtype)  # (K, 2)
    cand = centre[:, :, None, :] + offs  # (B, N, K, 2)
    inside = (cand[..., 0] >= 0) & (cand[..., 0] < hb) & (cand[..., 1] >= 0) & (cand[..., 1] < wb)
    cy, cx = cand[..., 0].clamp(0, hb - 1).long(), cand[..., 1].clamp(0, wb - 1).long()
    index = cy * wb + cx  # (B, N, K)
    qa = F.normalize(fa.flatten(2).transpose(1, 2), dim=-1)  # (B, N, d)
    qb = F.normalize(fb.flatten(2).transpose(1, 2), dim=-1)  # (B, Nb, d)
    k = index.shape[-1]
    gathered = torch.gather(qb, 1, index.view(b, -1, 1).expand(-1, -1, d)).view(b, h * w, k, d)
    logits = (gathered * qa[:, :, None, :]).sum(-1) / tau  # (B, N, K)
    logits = edge_dropout(logits, edge_drop, generator).masked_fill(~inside, MASKED)
    weights = logits.softmax(-1) * inside  # rows over in-frame entries only (the centre is always inside)
    expected = (weights[..., None] * cand).sum(2)  # (B, N, 2)
    flow = (expected - own).transpose(1, 2).reshape(b, 2, h, w)
    return Level(weights, index, centre, flow, radius)


def hierarchical_attention(
    pyr_a: list[torch.Tensor],
    pyr_b: list[torch.Tensor],
    *,
    radius: int = 2,
    tau: float = 0.07,
    edge_drop: float = 0.0,
    generator=None,
) -> list[Level]:
    """Coarse-to-fine attention from frame a to frame b over two pyramids (coarsest first): full at level 0,
    windows of radius r around the upsampled coarser prediction at every finer level (B.7)."""
    if len(pyr_a) != len(pyr_b) or not pyr_a:
        raise ValueError(
            f"the two pyramids need the same number (>= 1) of levels, got {len(pyr_a)}, {len(pyr_b)}"
        )
    if radius < 0 or tau <= 0:
        raise ValueError(f"need radius >= 0 and tau > 0, got radius={radius}, tau={tau}")
    out = [full_attention(pyr_a[0], pyr_b[0], tau, edge_drop, generator)]
    for fa, fb in zip(pyr_a[1:], pyr_b[1:]):
        out.append(local_attention(fa, fb, out[-1].flow, radius, tau, edge_drop, generator))
    return out


def estimate_flow(feats_a: torch.Tensor, feats_b: torch.Tensor, levels: int = 3, **kw) -> torch.Tensor:
    """Flow (B, 2, H, W) (y, x) from a to b at the feature maps' resolution: the finest level's soft-argmax."""
    return hierarchical_attention(feature_pyramid(feats_a, levels), feature_pyramid(feats_b, levels), **kw)[
        -1
    ].flow


def dense_weights(level: Level, n_b: int) -> torch.Tensor:
    """The level's attention as a dense (B, N_a, N_b) matrix (for tests and small maps only)."""
    b, n, _ = level.weights.shape
    dense = torch.zeros(b, n, n_b, dtype=level.weights.dtype, device=level.weights.device)
    return dense.scatter_add(2, level.index, level.weights)


def return_probabilities(fwd: Level, bwd: Level, shape_a: tuple[int, int]) -> torch.Tensor:
    """(B, N_a): P(walk a → b → a returns to its start), Σ_k a_{ik} b_{j_k, i} (B.2.2 diagonal of A B)."""
    if fwd.centre is None:  # full level: diag(A B) = (A ⊙ Bᵀ) summed
        return (fwd.weights * bwd.weights.transpose(1, 2)).sum(-1)
    r = bwd.radius
    b, n, k = fwd.weights.shape
    own = _grid(*shape_a, fwd.weights.device, fwd.weights.dtype).view(1, n, 1, 2)
    c_back = torch.gather(bwd.centre, 1, fwd.index.view(b, -1, 1).expand(-1, -1, 2)).view(b, n, k, 2)
    off = (own - c_back).long()  # where i sits in j_k's backward window
    valid = (off.abs() <= r).all(-1)
    kb = ((off[..., 0] + r) * (2 * r + 1) + (off[..., 1] + r)).clamp(0, (2 * r + 1) ** 2 - 1)
    b_rows = torch.gather(bwd.weights, 1, fwd.index.view(b, -1, 1).expand(-1, -1, bwd.weights.shape[-1]))
    b_ji = torch.gather(b_rows.view(b, n, k, -1), 3, kb[..., None]).squeeze(-1)  # (B, N, K)
    return (fwd.weights * b_ji * valid).sum(-1)


def multiscale_cycle_loss(
    feats_a: torch.Tensor,
    feats_b: torch.Tensor,
    *,
    levels: int = 3,
    radius: int = 2,
    tau: float = 0.07,
    edge_drop: float = 0.0,
    generator=None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The multiscale cycle loss of a frame pair: mean over levels of −log P(return) (Eq. 3.4 per level)
    of the walk a → b → a, both directions hierarchical. Returns the loss and `loss/ms_cycle_l{i}` metrics."""
    pa, pb = feature_pyramid(feats_a, levels), feature_pyramid(feats_b, levels)
    kw = dict(radius=radius, tau=tau, edge_drop=edge_drop, generator=generator)
    fwd, bwd = hierarchical_attention(pa, pb, **kw), hierarchical_attention(pb, pa, **kw)
    per_level = [
        -torch.log(return_probabilities(f, g, tuple(x.shape[-2:])) + LOG_EPS).mean()
        for f, g, x in zip(fwd, bwd, pa)
    ]
    loss = torch.stack(per_level).mean()
    return loss, {f"loss/ms_cycle_l{i}": float(v.detach()) for i, v in enumerate(per_level)}


def attention_entries(size: tuple[int, int], levels: int, radius: int) -> dict[str, int]:
    """Stored attention weights per frame pair: full attention at the finest level, (HW)², vs the hierarchy,
    (HW/4^(L−1))² at the coarsest level plus N_l (2r+1)² at each finer level."""
    h, w = size
    n = [(h // 2 ** (levels - 1 - i)) * (w // 2 ** (levels - 1 - i)) for i in range(levels)]
    return {"full": (h * w) ** 2, "hierarchical": n[0] ** 2 + sum(x * (2 * radius + 1) ** 2 for x in n[1:])}


def end_point_error(
    flow: torch.Tensor, true_flow: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean Euclidean distance between two flow fields (B, 2, H, W) — the end-point error (EPE) — over the
    `valid` pixels (B, H, W) bool if given (those whose match lies inside the other frame)."""
    err = (flow - true_flow).norm(dim=1)
    return err.mean() if valid is None else err[valid].mean()


def flow_valid(true_flow: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool: pixels p whose target p + u(p) lies inside the frame (not moved out of view)."""
    h, w = true_flow.shape[-2:]
    tgt = _grid(h, w, true_flow.device, true_flow.dtype).permute(2, 0, 1) + true_flow
    return (tgt[:, 0] >= 0) & (tgt[:, 0] <= h - 1) & (tgt[:, 1] >= 0) & (tgt[:, 1] <= w - 1)


# ---------------------------------------------------------------------- synthetic pairs with known flow


def _texture_fn(rng: np.random.Generator, waves: int = 24):
    """An analytic random colour texture: a sum of sinusoids of random direction, frequency 0.05–0.4
    cycles/pixel and phase per channel — aperiodic in practice, with detail at every pyramid level."""
    theta = rng.uniform(0, np.pi, waves)
    freq = np.exp(rng.uniform(np.log(0.03), np.log(0.35), waves))
    phase = rng.uniform(0, 2 * np.pi, (3, waves))
    amp = rng.uniform(0.5, 1.0, (3, waves)) / np.sqrt(waves)
    ky, kx = 2 * np.pi * freq * np.sin(theta), 2 * np.pi * freq * np.cos(theta)

    def tex(y: np.ndarray, x: np.ndarray) -> np.ndarray:  # (H, W) positions -> (3, H, W)
        arg = y[..., None] * ky + x[..., None] * kx  # (H, W, waves)
        return (amp[:, None, None] * np.sin(arg[None] + phase[:, None, None])).sum(-1)

    return tex


def make_flow_pairs(
    n: int,
    rng: np.random.Generator,
    *,
    size: int = 32,
    max_shift: float = 4.0,
    smooth: float = 0.0,
    integer: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n frame pairs with known flow: frame 1 is a random analytic texture T(p); frame 2 shows the same
    texture moved by the flow u defined on frame 1, u(p) = t + smooth · (a low-frequency sinusoidal field),
    i.e. frame2(p + u(p)) = frame1(p). Frame 2 is rendered exactly by inverting p ↦ p + u(p) with a
    fixed-point iteration (a contraction: smooth · 2π·0.05 < 1). t is uniform in [−max_shift, max_shift]²,
    rounded when `integer`. Returns frames1, frames2 (n, 3, H, W) in [−1, 1] and flow (n, 2, H, W) (y, x)."""
    if n < 1 or size < 8 or max_shift < 0 or not 0 <= smooth <= 2.0:
        raise ValueError(
            f"need n >= 1, size >= 8, max_shift >= 0, 0 <= smooth <= 2; got {n}, {size}, {max_shift}, {smooth}"
        )
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    f1, f2, fl = [], [], []
    for _ in range(n):
        tex = _texture_fn(rng)
        t = rng.uniform(-max_shift, max_shift, 2)
        if integer:
            t = np.round(t)
        kf = rng.uniform(0.02, 0.05, (2, 2)) * 2 * np.pi  # low-frequency field: u_a = sin(k_a · p + φ_a)
        ph = rng.uniform(0, 2 * np.pi, 2)

        def u(y, x, t=t, kf=kf, ph=ph):
            return np.stack([t[a] + smooth * np.sin(kf[a, 0] * y + kf[a, 1] * x + ph[a]) for a in range(2)])

        py, px = yy.copy(), xx.copy()  # frame 2 at q shows T(p) with p + u(p) = q
        for _ in range(60):
            d = u(py, px)
            py, px = yy - d[0], xx - d[1]
        f1.append(tex(yy, xx))
        f2.append(tex(py, px))
        fl.append(u(yy, xx))
    to = lambda a: torch.from_numpy(np.stack(a).astype(np.float32))  # noqa: E731
    return to(f1).clamp(-1, 1), to(f2).clamp(-1, 1), to(fl)
