"""BoTNet: a ResNet whose c5 3×3 convs are all2all multi-head self-attention with 2-D relative position
logits (Srinivas et al. 2021; seed001 §4.2, thesis Fig. 5.1/5.4).

MHSA [T + R]: 4 heads; q, k, v are 1×1 convs without bias (init N(0, 0.01²)); split relative tables
r^H (2H−1, d_h) and r^W (2W−1, d_h), shared across heads, init N(0, d_h^−1);
logit_h(i, j) = (q_i/√d_h)·k_j + (q_i/√d_h)·(r^H[x_j − x_i] + r^W[y_j − y_i]); softmax over all H·W keys;
heads concatenated, **no output projection**. In the stride-2 block, MHSA runs at the input resolution and
a 2×2 average pool follows it. The tables are sized for a fixed feature size (the model's `image_size`);
another input size raises an error (timm does the same) rather than silently interpolating.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from replab.nn.resnet import ResNet, make_norm

POSITIONS = ("relative", "absolute", "none")


def rel_to_abs(x: Tensor) -> Tensor:
    """(..., L, 2L−1) logits over relative offsets (index m + L − 1 for offset m = key − query) →
    (..., L, L) logits over absolute key positions, by the pad-and-reshape trick of the official gist."""
    *lead, length, m = x.shape
    if m != 2 * length - 1:
        raise ValueError(f"expected last dim 2L−1 = {2 * length - 1}, got {m}")
    x = torch.nn.functional.pad(x, (0, 1))  # (..., L, 2L)
    x = x.reshape(*lead, length * 2 * length)
    x = torch.nn.functional.pad(x, (0, length - 1))  # (..., 2L² + L − 1)
    x = x.reshape(*lead, length + 1, 2 * length - 1)
    return x[..., :length, length - 1 :]


def relative_logits_1d(q: Tensor, table: Tensor) -> Tensor:
    """q (..., W, d) and a table (2W−1, d) → (..., W, W): q[w] · table[w' − w + W − 1] (one matmul against the
    table, then `rel_to_abs`)."""
    return rel_to_abs(q @ table.t())


class MHSA(nn.Module):
    """All2all multi-head self-attention on a (B, C, H, W) map with `feat_size` = (H, W); output (B, C, H, W).

    content: include the q kᵀ term; position: `relative` (split r^H, r^W), `absolute` (q·(emb_h + emb_w),
    the thesis's qr_abs ablation) or `none`. Table 5.4's variants: (True, relative) is BoTNet,
    (True, none) is "qkᵀ", (False, relative) is "qrᵀ_relative", (True, absolute) is "qkᵀ + qrᵀ_abs".
    """

    def __init__(
        self,
        dim: int,
        feat_size: tuple[int, int],
        heads: int = 4,
        content: bool = True,
        position: str = "relative",
        qkv_std: float = 0.01,
    ):
        super().__init__()
        if heads < 1 or dim % heads:
            raise ValueError(f"dim {dim} must be a positive multiple of heads {heads}")
        if position not in POSITIONS:
            raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
        if not content and position == "none":
            raise ValueError("content=False needs a position term (the logits would be constant)")
        h, w = feat_size
        if h < 1 or w < 1:
            raise ValueError(f"feat_size must be positive, got {feat_size}")
        self.dim, self.heads, self.head_dim, self.feat_size = dim, heads, dim // heads, (h, w)
        self.content, self.position = content, position
        self.q = nn.Conv2d(dim, dim, 1, bias=False)
        self.k = nn.Conv2d(dim, dim, 1, bias=False)
        self.v = nn.Conv2d(dim, dim, 1, bias=False)
        for conv in (self.q, self.k, self.v):
            nn.init.normal_(conv.weight, std=qkv_std)
        std = self.head_dim**-0.5
        if position == "relative":
            self.rel_h = nn.Parameter(torch.randn(2 * h - 1, self.head_dim) * std)
            self.rel_w = nn.Parameter(torch.randn(2 * w - 1, self.head_dim) * std)
        elif position == "absolute":
            self.emb_h = nn.Parameter(torch.randn(h, self.head_dim) * std)
            self.emb_w = nn.Parameter(torch.randn(w, self.head_dim) * std)

    def logits(self, x: Tensor) -> Tensor:
        """Pre-softmax logits (B, heads, H, W, H, W) of query (h, w) for key (h', w')."""
        b, _, h, w = x.shape
        return self._logits(x).reshape(b, self.heads, h, w, h, w)

    def _logits(self, x: Tensor) -> Tensor:
        """(B, C, H, W) → logits (B·heads, H·W, H·W), queries along dim 1 and keys along dim 2.

        Batched matmuls over (B·heads): q kᵀ is added onto the position term by one `baddbmm`, so no zero
        tensor and no extra pass over the (H·W)² logits; q is scaled by d^−½ once, before both terms."""
        b, c, h, w = x.shape
        if (h, w) != self.feat_size:
            raise ValueError(
                f"MHSA built for {self.feat_size} feature maps got {(h, w)}; build the model "
                "with the image_size it will see"
            )
        bn, d, n = b * self.heads, self.head_dim, h * w
        q = (self.q(x) * d**-0.5).reshape(bn, d, n).transpose(1, 2)  # (B·N, HW, d), a view
        pos = None
        if self.position == "relative":
            qh = q.reshape(bn, h, w, d)
            rw = relative_logits_1d(qh, self.rel_w)  # (B·N, H, W, W'): same row, key column w'
            rh = relative_logits_1d(qh.transpose(1, 2), self.rel_h).transpose(1, 2)  # (B·N, H, W, H')
            pos = (rh[..., :, None] + rw[..., None, :]).reshape(bn, n, n)
        elif self.position == "absolute":
            emb = (self.emb_h[:, None, :] + self.emb_w[None, :, :]).reshape(n, d)  # (HW, d)
            pos = q @ emb.t()
        if not self.content:
            return pos
        k = self.k(x).reshape(bn, d, n)
        return torch.bmm(q, k) if pos is None else torch.baddbmm(pos, q, k)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        attn = self._logits(x).softmax(-1)  # (B·N, HW queries, HW keys)
        v = self.v(x).reshape(b * self.heads, self.head_dim, h * w)
        # out[:, :, i] = Σ_j attn[i, j] v[:, j]: v attnᵀ is (B·N, d, HW), already the (B, C, H, W) layout
        # with heads folded back into channels (no W_O), so no transpose copy
        return torch.bmm(v, attn.transpose(1, 2)).reshape(b, c, h, w)

    def macs(self, x: Tensor) -> int:
        """Multiply-adds beyond the q/k/v convs (counted as convs) for one sample: q kᵀ and attn·v
        (n²·d each), relative logits n·((2H−1) + (2W−1))·d, absolute n²·d (seed001 §4.3)."""
        h, w = self.feat_size
        n, d = h * w, self.dim
        total = n * n * d  # attn · v
        if self.content:
            total += n * n * d
        if self.position == "relative":
            total += n * ((2 * h - 1) + (2 * w - 1)) * d
        elif self.position == "absolute":
            total += n * n * d
        return total


class BoTBlock(nn.Module):
    """Bottleneck Transformer block: 1×1 conv → BN → ReLU → MHSA → [2×2 avg pool if stride 2] → BN → ReLU →
    1×1 conv → BN (γ = 0 at init) → + shortcut → ReLU.  (B, C_in, H, W) → (B, C_out, H/s, W/s); `feat_size`
    is (H, W) of the input. The shortcut is 1×1 conv (stride s) + BN when the shape changes; the ported
    reference's extra ReLU on it is `shortcut_relu` (off by default: standard ResNet)."""

    def __init__(
        self,
        in_ch: int,
        width: int,
        out_ch: int,
        stride: int,
        feat_size: tuple[int, int],
        heads: int = 4,
        content: bool = True,
        position: str = "relative",
        norm: str = "batch",
        zero_init_last: bool = True,
        shortcut_relu: bool = False,
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if stride == 2 and (feat_size[0] % 2 or feat_size[1] % 2):
            raise ValueError(f"a stride-2 BoT block needs an even feature size, got {feat_size}")
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = make_norm(norm, width)
        self.mhsa = MHSA(width, feat_size, heads, content, position)
        self.pool = nn.AvgPool2d(2, 2) if stride == 2 else nn.Identity()
        self.bn2 = make_norm(norm, width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = make_norm(norm, out_ch)
        if zero_init_last:
            nn.init.zeros_(self.bn3.weight)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            parts = [nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), make_norm(norm, out_ch)]
            self.downsample = nn.Sequential(*parts, *([nn.ReLU()] if shortcut_relu else []))

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.pool(self.mhsa(out))))
        out = self.bn3(self.conv3(out))
        out += idt  # in place: batch norm's backward does not need its output; saves one allocation
        return self.relu(out)


def botnet(
    layers: Sequence[int] = (3, 4, 6, 3),
    image_size: tuple[int, int] = (224, 224),
    pattern: Sequence[str] | None = None,
    heads: int = 4,
    content: bool = True,
    position: str = "relative",
    stride1: bool = False,
    shortcut_relu: bool = False,
    **kw,
) -> ResNet:
    """A BoTNet: `ResNet(layers, ...)` with MHSA blocks where `pattern` has an 'm' (one string per stage,
    one letter per block: 'c' conv bottleneck, 'm' BoT block). Default: every block of the last stage
    (BoT50 for layers (3, 4, 6, 3)). stride1=True is BoTNet-S1 (no downsampling in c5). Other keywords go
    to `ResNet` (widths, stem, num_classes, norm, ...)."""
    if pattern is None:
        pattern = ["c" * n for n in layers[:-1]] + ["m" * layers[-1]]
    if len(pattern) != len(layers) or any(len(p) != n for p, n in zip(pattern, layers)):
        raise ValueError(f"pattern {pattern} must have one letter per block of layers {tuple(layers)}")
    if any(ch not in "cm" for p in pattern for ch in p):
        raise ValueError(f"pattern letters must be 'c' or 'm', got {pattern}")
    if stride1:
        kw["strides"] = (1,) + (2,) * (len(layers) - 2) + (1,)

    def factory(stage, index, in_ch, width, out_ch, stride, hw, norm):
        if pattern[stage][index] != "m":
            return None
        if hw is None:
            raise ValueError("BoT blocks need the model's image_size")
        return BoTBlock(
            in_ch, width, out_ch, stride, hw, heads, content, position, norm, shortcut_relu=shortcut_relu
        )

    return ResNet(layers=layers, image_size=tuple(image_size), block_factory=factory, **kw)


def botnet_depth(depth: int, image_size: tuple[int, int] = (224, 224), **kw) -> ResNet:
    """BoT26/50/101/152/200: the ResNet of that depth with all c5 blocks replaced (Table 5.5)."""
    table = {26: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3), 200: (3, 24, 36, 3)}
    if depth not in table:
        raise ValueError(f"BoTNet depth must be one of {sorted(table)}, got {depth}")
    return botnet(table[depth], image_size=image_size, **kw)
