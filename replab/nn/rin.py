"""Recurrent Interface Networks (Jabri et al. 2023; seed003 A.3): read / compute / write over latents.

The interface X (one token per patch) and a small set of latents Z. Each block reads X into Z with
cross-attention, computes on Z with K self-attention + MLP layers, and writes Z back into X with
cross-attention (A.3.1, Alg. 3). Time and class tokens are appended to the latents (A.3.2). With latent
self-conditioning the previous step's latents warm-start Z through a zero-initialised LayerNorm:
Z = Z_emb + LN₀(Z' + MLP(sg(Z'))) (A.3.2).

`RIN(...)(x_t, t, y=None, prev_latents=None) -> (eps_pred (B, C, H, W), latents (B, num_latents, dim_z))`.
With `frames` > 0 the input is a video (B, T, C, H, W) cut into 3-D patches of patch_t × patch × patch
(A.2.6, A.3.2 "Video tokenization": Conv3d with kernel = stride, a learned positional embedding over
(t, h, w), readout to C · patch_t · patch² values per token); eps_pred is then (B, T, C, H, W).
Set `model.capture_read = True` to keep each block's read attention in `model.read_attention`: a list of
(B, heads, num_latents + cond tokens, tokens) tensors, one per block.
`prev_latents` may be broadcast, e.g. zeros of (1, 1, dim_z) for a bootstrap pass or a first sampling step:
the self-conditioning MLP and LayerNorm then run on one row (the same values as full zeros, tested). The
patch convolution (kernel = stride) runs as one matmul on `patchify_2d` / `patchify_3d` patches with its
own weights, and the readout's depth-to-space as one permutation (both tested against the conv and
`F.pixel_shuffle`).
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head scaled dot-product attention with queries of width `dim_q` and keys/values of width
    `dim_kv` (seed003 A.3.2: cross-attention projects K/V from the other width); output width `dim_q`."""

    def __init__(self, dim_q: int, dim_kv: int, heads: int):
        super().__init__()
        if dim_q % heads:
            raise ValueError(f"query width {dim_q} must be divisible by heads={heads}")
        self.heads = heads
        self.q = nn.Linear(dim_q, dim_q)
        self.kv = nn.Linear(dim_kv, 2 * dim_q)
        self.out = nn.Linear(dim_q, dim_q)

    def forward(self, q: torch.Tensor, kv: torch.Tensor, keep: list | None = None) -> torch.Tensor:
        b, n, d = q.shape
        h = self.heads
        qh = self.q(q).view(b, n, h, d // h).transpose(1, 2)
        k, v = self.kv(kv).view(b, kv.shape[1], 2, h, d // h).permute(2, 0, 3, 1, 4)
        # CPU, keys outnumbering queries (the reads): the explicit path, 0.75-0.94x the CPU time of SDPA's
        # flash kernel forward + backward at the reads of the diffusion family (torch 2.13, one thread;
        # self-attention and writes: 1.06-1.13x, they keep SDPA); the same function (tested)
        if keep is None and not (q.device.type == "cpu" and kv.shape[1] > n):
            o = F.scaled_dot_product_attention(qh, k, v)
        else:  # the explicit path, also to keep the weights (for adaptive-computation maps)
            w = torch.softmax((qh * (1 / math.sqrt(d // h))) @ k.transpose(-1, -2), dim=-1)
            if keep is not None:
                keep.append(w.detach())
            o = w @ v
        return self.out(o.transpose(1, 2).reshape(b, n, d))


def mlp(dim: int, expansion: float = 4) -> nn.Sequential:
    """σ(Z W1 + b1) W2 + b2 with σ = GELU and a ×4 expansion (seed003 A.3.1); the hidden width is
    round(expansion · dim) (a non-integer expansion only for parameter-matched ablations)."""
    hidden = max(1, round(expansion * dim))
    return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class Block(nn.Module):
    """One read → K × compute → write block, pre-LayerNorm everywhere (seed003 A.3.2, Alg. 3)."""

    def __init__(
        self, dim_x: int, dim_z: int, depth: int, heads: int, kv_norm: bool = False, mlp_ratio: float = 4
    ):
        super().__init__()
        self.read_norm, self.read = nn.LayerNorm(dim_z), Attention(dim_z, dim_x, heads)
        self.read_mlp_norm, self.read_mlp = nn.LayerNorm(dim_z), mlp(dim_z, mlp_ratio)
        # [ASSUMP] seed003 A.3.2: Alg. 3 feeds raw x (and z) as K/V; kv_norm LayerNorms them first
        self.read_kv_norm = nn.LayerNorm(dim_x) if kv_norm else nn.Identity()
        self.write_kv_norm = nn.LayerNorm(dim_z) if kv_norm else nn.Identity()
        self.compute = nn.ModuleList(
            nn.ModuleList(
                [
                    nn.LayerNorm(dim_z),
                    Attention(dim_z, dim_z, heads),
                    nn.LayerNorm(dim_z),
                    mlp(dim_z, mlp_ratio),
                ]
            )
            for _ in range(depth)
        )
        self.write_norm, self.write = nn.LayerNorm(dim_x), Attention(dim_x, dim_z, heads)
        self.write_mlp_norm, self.write_mlp = nn.LayerNorm(dim_x), mlp(dim_x, mlp_ratio)

    def forward(self, z, x, keep: list | None = None, write: bool = True):
        z = z + self.read(self.read_norm(z), self.read_kv_norm(x), keep)  # read
        z = z + self.read_mlp(self.read_mlp_norm(z))
        for norm, attn, mlp_norm, ffn in self.compute:  # compute, K layers
            zn = norm(z)
            z = z + attn(zn, zn)
            z = z + ffn(mlp_norm(z))  # seed003 A.3.2 [FIX]: inside the loop
        if not write:  # the latents do not depend on this block's write
            return z, x
        x = x + self.write(self.write_norm(x), self.write_kv_norm(z))  # write
        x = x + self.write_mlp(self.write_mlp_norm(x))
        return z, x


def timestep_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """Sinusoidal features of t · 1000 (seed003 A.3.2 [ASSUMP]), (B,) -> (B, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = (t.float() * scale)[:, None] * freqs[None]
    return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)


def _trunc_normal(*shape: int) -> nn.Parameter:
    p = nn.Parameter(torch.empty(*shape))
    nn.init.trunc_normal_(p, std=0.02, a=-0.04, b=0.04)  # seed003 A.3.2: truncated normal, scale 0.02
    return p


class RIN(nn.Module):
    """The RIN denoiser of seed003 A.3.2 (Alg. 3) for (B, C, H, W) images.

    image_size, channels, patch: input geometry (tokens = (image_size / patch)²); dim_x, dim_z: interface and
    latent widths; num_latents: |Z|; blocks, depth: blocks and K compute layers per block; heads: attention
    heads; num_classes: class tokens (0: unconditional); kv_norm: LayerNorm the K/V side of reads and writes
    (False: Alg. 3's raw x); frames, patch_t: a video RIN on (B, frames, C, H, W) with 3-D patches of
    patch_t × patch × patch (A.2.6; 0 frames: images); mlp_ratio: the expansion of the blocks' MLPs (A.3.1:
    4; the self-conditioning and time MLPs stay ×4). Self-conditioning is used when `prev_latents` is given.
    """

    def __init__(
        self,
        image_size: int = 8,
        channels: int = 1,
        patch: int = 2,
        dim_x: int = 48,
        dim_z: int = 96,
        num_latents: int = 8,
        blocks: int = 2,
        depth: int = 2,
        heads: int = 4,
        num_classes: int = 0,
        kv_norm: bool = False,
        frames: int = 0,
        patch_t: int = 2,
        mlp_ratio: float = 4,
    ):
        super().__init__()
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be > 0 (A.3.1: 4), got {mlp_ratio}")
        if frames < 0 or patch_t < 1:
            raise ValueError(f"need frames >= 0 (0: images) and patch_t >= 1, got {frames}, {patch_t}")
        if frames and frames % patch_t:
            raise ValueError(f"frames {frames} must be divisible by patch_t {patch_t}")
        for name, v in (("image_size", image_size), ("channels", channels), ("patch", patch)):
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if image_size % patch:
            raise ValueError(f"image_size {image_size} must be divisible by patch {patch}")
        for name, v in (("num_latents", num_latents), ("blocks", blocks), ("depth", depth), ("heads", heads)):
            if v < 1:
                raise ValueError(f"{name} must be >= 1, got {v}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        self.image_size, self.channels, self.patch = image_size, channels, patch
        self.num_latents, self.dim_z, self.num_classes = num_latents, dim_z, num_classes
        self.frames, self.patch_t = frames, patch_t
        side = image_size // patch
        self.tokens = side * side * (frames // patch_t if frames else 1)
        # interface: patch tokenisation, LayerNorm, learned positional embedding (Alg. 3); video: Conv3d with
        # kernel = stride = (patch_t, patch, patch) and the embedding over (t, h, w) (A.3.2)
        if frames:
            self.patchify = nn.Conv3d(
                channels, dim_x, (patch_t, patch, patch), stride=(patch_t, patch, patch)
            )
        else:
            self.patchify = nn.Conv2d(channels, dim_x, patch, stride=patch)
        self.patch_norm = nn.LayerNorm(dim_x)
        self.pos_emb = _trunc_normal(1, self.tokens, dim_x)
        self.latents = _trunc_normal(num_latents, dim_z)  # learnable Z_emb
        # conditioning tokens appended to the latents (seed003 A.3.2 [T]; embeddings [ASSUMP])
        self.time_mlp = nn.Sequential(nn.Linear(dim_z, 4 * dim_z), nn.GELU(), nn.Linear(4 * dim_z, dim_z))
        self.class_emb = nn.Embedding(num_classes, dim_z) if num_classes else None
        # latent self-conditioning: Z = Z_emb + LN₀(Z' + MLP(sg(Z'))), LN scale and bias zero-initialised
        self.self_cond_mlp = mlp(dim_z)
        self.self_cond_norm = nn.LayerNorm(dim_z)
        nn.init.zeros_(self.self_cond_norm.weight)
        nn.init.zeros_(self.self_cond_norm.bias)
        self.blocks = nn.ModuleList(
            Block(dim_x, dim_z, depth, heads, kv_norm, mlp_ratio) for _ in range(blocks)
        )
        self.out_norm = nn.LayerNorm(dim_x)
        self.readout = nn.Linear(
            dim_x, channels * (patch_t if frames else 1) * patch * patch
        )  # depth-to-space
        self.capture_read = False
        self.read_attention: list[torch.Tensor] = []

    @property
    def latent_shape(self) -> tuple[int, int]:
        return (self.num_latents, self.dim_z)

    @property
    def data_shape(self) -> tuple[int, ...]:
        """One example's shape: (C, H, W), or (T, C, H, W) for video."""
        img = (self.channels, self.image_size, self.image_size)
        return (self.frames, *img) if self.frames else img

    def embed(self, x, t, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        """What a forward pass computes before the latents enter (Alg. 3): the interface tokens (patches,
        LayerNorm, positional embedding) (B, tokens, dim_x) and the conditioning tokens appended to the
        latents (time, then class) (B, 1 or 2, dim_z). `forward(..., embedded=)` takes them precomputed:
        Algorithm 1's bootstrap pass sees the same x_t, t, y as the training pass and reuses its pair."""
        if self.class_emb is not None and y is None:
            raise ValueError("this RIN is class-conditional (num_classes > 0): pass y")
        b = x.shape[0]
        # the conv with kernel = stride as one matmul on the patches (its weights; no conv kernel call)
        patches = patchify_3d(x, self.patch_t, self.patch) if self.frames else patchify_2d(x, self.patch)
        tok = F.linear(patches, self.patchify.weight.flatten(1), self.patchify.bias)
        tok = self.patch_norm(tok) + self.pos_emb
        t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(b)
        cond = [self.time_mlp(timestep_embedding(t, self.dim_z))[:, None]]
        if self.class_emb is not None:
            cond.append(self.class_emb(y)[:, None])
        return tok, torch.cat(cond, dim=1)

    def forward(self, x, t, y=None, prev_latents=None, latents_only: bool = False, embedded=None):
        """(eps_pred, latents); `latents_only` skips the last write and the readout (eps_pred is None):
        the bootstrap pass of Algorithm 1 uses only the latents. `embedded`: `self.embed(x, t, y)`, computed
        once for passes on the same input (then t and y are not read)."""
        b = x.shape[0]
        if tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(f"RIN expects (B, {', '.join(map(str, self.data_shape))}), got {tuple(x.shape)}")
        tok, cond = self.embed(x, t, y) if embedded is None else embedded
        if tok.shape[0] != b or cond.shape[0] != b:
            bad = ("input", tok) if tok.shape[0] != b else ("time/class", cond)  # the one whose size differs
            raise ValueError(
                f"embedded {bad[0]} tokens are for {bad[1].shape[0]} examples, x has {b}: pass embed(x, t, y) of this x"
            )
        z = self.latents.expand(b, -1, -1)
        if prev_latents is not None:  # seed003 A.3.2, A.8: stop-grad on prev_latents inside the network too
            shape = (b, *self.latent_shape)
            if prev_latents.ndim != 3 or any(n not in (1, m) for n, m in zip(prev_latents.shape, shape)):
                raise ValueError(
                    f"prev_latents must be (B, {self.num_latents}, {self.dim_z}) or broadcast to it "
                    f"(e.g. zeros of (1, 1, {self.dim_z})), got {tuple(prev_latents.shape)}"
                )
            prev = prev_latents.detach()  # a broadcast prev (the zeros of a first pass): computed once
            z = z + self.self_cond_norm(prev + self.self_cond_mlp(prev))
        z = torch.cat([z, cond], dim=1)
        keep = [] if self.capture_read else None
        for i, block in enumerate(self.blocks):
            z, tok = block(z, tok, keep, write=not (latents_only and i == len(self.blocks) - 1))
        self.read_attention = keep or []
        if latents_only:
            return None, z[:, : self.num_latents]
        out = self.readout(self.out_norm(tok))  # (B, tokens, C p²) or (B, tokens, C pt p²)
        if self.frames:
            return unpatchify_3d(out, self.data_shape, self.patch_t, self.patch), z[:, : self.num_latents]
        return unpatchify_2d(out, self.data_shape, self.patch), z[:, : self.num_latents]  # depth-to-space


def patchify_2d(x: torch.Tensor, patch: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, H'·W', C·patch²): tokens in (h, w) order, each token's values in (C, h, w) order —
    the layout of a Conv2d with kernel = stride (weight (out, C, kh, kw)), so the tokeniser is one matmul."""
    b, c, h, w = x.shape
    x = x.reshape(b, c, h // patch, patch, w // patch, patch)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, H', W', C, p, p)
    return x.reshape(b, (h // patch) * (w // patch), c * patch * patch)


def unpatchify_2d(tokens: torch.Tensor, shape: tuple[int, int, int], patch: int) -> torch.Tensor:
    """The inverse of `patchify_2d`, the depth-to-space of the readout (A.3.2; `F.pixel_shuffle` of the
    tokens as channels, in one copy): tokens (B, H'·W', C·patch²) -> (B, C, H, W) for shape = (C, H, W)."""
    c, h, w = shape
    x = tokens.reshape(tokens.shape[0], h // patch, w // patch, c, patch, patch)
    return x.permute(0, 3, 1, 4, 2, 5).reshape(tokens.shape[0], c, h, w)  # (B, C, H', p, W', p)


def patchify_3d(x: torch.Tensor, patch_t: int, patch: int) -> torch.Tensor:
    """(B, T, C, H, W) -> (B, T'·H'·W', C·patch_t·patch²): tokens in (t, h, w) order, each token's values in
    (C, t, h, w) order — the layout of a Conv3d with kernel = stride (weight (out, C, kt, kh, kw))."""
    b, t, c, h, w = x.shape
    if t % patch_t or h % patch or w % patch:
        raise ValueError(
            f"video (T, H, W) = {(t, h, w)} is not divisible by the patch {(patch_t, patch, patch)}"
        )
    x = x.reshape(b, t // patch_t, patch_t, c, h // patch, patch, w // patch, patch)
    x = x.permute(0, 1, 4, 6, 3, 2, 5, 7)  # (B, T', H', W', C, pt, p, p)
    return x.reshape(b, (t // patch_t) * (h // patch) * (w // patch), c * patch_t * patch * patch)


def unpatchify_3d(tokens: torch.Tensor, shape: tuple[int, int, int, int], patch_t: int, patch: int):
    """The inverse of `patchify_3d` (the 3-D depth-to-space of the readout, A.3.2): tokens
    (B, T'·H'·W', C·patch_t·patch²) -> (B, T, C, H, W) for shape = (T, C, H, W)."""
    t, c, h, w = shape
    b = tokens.shape[0]
    x = tokens.reshape(b, t // patch_t, h // patch, w // patch, c, patch_t, patch, patch)
    x = x.permute(0, 1, 5, 4, 2, 6, 3, 7)  # (B, T', pt, C, H', p, W', p)
    return x.reshape(b, t, c, h, w)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def rin_parameters(**kwargs) -> int:
    """The parameter count of RIN(**kwargs) (built once; tens of milliseconds at digits scale)."""
    return count_parameters(RIN(**kwargs))


def matched_mlp_ratio(target: int, *, lo: float = 0.25, hi: float = 16.0, **kwargs) -> float:
    """The blocks' MLP expansion at which RIN(**kwargs) has the parameter count closest to `target`
    (the count grows with the ratio; bisection, then the better side): the parameter-matched layouts of
    the read-write ablation (seed003 A.6, A.7 run 2: "at matched model size"). Raises a ValueError when
    the target lies outside what ratios in [lo, hi] reach. The count at a ratio r is the built model's at
    ×4 with the blocks' MLPs recounted at r (tested against the built model)."""
    defaults = {k: v.default for k, v in inspect.signature(RIN).parameters.items()}
    blocks, depth, dim_x, dim_z = (kwargs.get(k, defaults[k]) for k in ("blocks", "depth", "dim_x", "dim_z"))

    def mlps(r: float) -> int:  # per MLP: d·h + h + h·d + d with h = round(r·d), as `mlp` builds it
        f = lambda d: 2 * d * max(1, round(r * d)) + max(1, round(r * d)) + d  # noqa: E731
        return blocks * ((depth + 1) * f(dim_z) + f(dim_x))  # read + K compute MLPs on Z, write MLP on X

    base = rin_parameters(**{**kwargs, "mlp_ratio": 4}) - mlps(4)
    count = lambda r: base + mlps(r)  # noqa: E731
    if not count(lo) <= target <= count(hi):
        raise ValueError(
            f"no MLP ratio in [{lo}, {hi}] gives {target} parameters for {kwargs} "
            f"({count(lo)}..{count(hi)}): match to another layout or change the widths"
        )
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    return min((lo, hi), key=lambda r: abs(count(r) - target))


class LatentView(nn.Module):
    """A RIN as a function of x_t alone, for probes: the latents after the last block for fixed t and y
    (sliced to the batch), each latent token one row: (B, C, H, W) -> (B · num_latents, dim_z).
    `self_condition`: pass zero previous latents (the first sampling step of a rate > 0 model) or None."""

    def __init__(
        self, rin: RIN, t: torch.Tensor, y: torch.Tensor | None = None, self_condition: bool = False
    ):
        super().__init__()
        self.rin, self.self_condition = rin, self_condition
        self.register_buffer("t", t.detach().clone())
        self.register_buffer("y", None if y is None else y.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        prev = x.new_zeros(n, *self.rin.latent_shape) if self.self_condition else None
        y = None if self.y is None else self.y[:n]
        _, z = self.rin(x, self.t[:n], y, prev_latents=prev)
        return z.reshape(-1, z.shape[-1])
