"""CPC v2's patch grid, masked context network ("pixelCNN") and four-direction prediction head
(seed001 §1.2, thesis §2.6).

`patchify` cuts images into a grid of overlapping patches; an encoder (any module mapping (P, C, p, p) to
(P, D), e.g. a small `replab.nn.resnet.ResNet` with global pooling) turns each patch into one vector; `CPCHead` reads the
latent grid (B, D, H, W) and returns the summed `cpc_loss` over prediction offsets and directions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from replab.losses.cpc import cpc_loss, patch_overlap


def patchify(images: Tensor, patch: int, stride: int) -> Tensor:
    """Images (B, C, H, W) → patches (B, Gh, Gw, C, patch, patch), Gh = (H − patch) // stride + 1."""
    if patch < 1 or stride < 1:
        raise ValueError(f"patch and stride must be >= 1, got {patch}, {stride}")
    b, c, h, w = images.shape
    if h < patch or w < patch:
        raise ValueError(f"images {h}×{w} are smaller than the patch {patch}")
    p = images.unfold(2, patch, stride).unfold(3, patch, stride)  # (B, C, Gh, Gw, p, p)
    return p.permute(0, 2, 3, 1, 4, 5).contiguous()


class PixelCNN(nn.Module):
    """The thesis's masked context network: `blocks` residual blocks, each
    1×1 conv → ReLU → (1,3) conv (same) → pad one row on top → (2,1) conv (valid) → ReLU → 1×1 conv,
    added to the input, and a final ReLU. Output row i depends on input rows ≤ i only.

    Input and output (B, D, H, W).
    """

    def __init__(self, dim: int, hidden: int = 256, blocks: int = 5):
        super().__init__()
        if dim < 1 or hidden < 1 or blocks < 1:
            raise ValueError(f"dim, hidden and blocks must be >= 1, got {dim}, {hidden}, {blocks}")
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {
                    "reduce": nn.Conv2d(dim, hidden, 1),
                    "row": nn.Conv2d(hidden, hidden, (1, 3), padding=(0, 1)),  # mixes within a row
                    "down": nn.Conv2d(hidden, hidden, (2, 1)),  # row i sees rows i−1 and i
                    "expand": nn.Conv2d(hidden, dim, 1),
                }
            )
            for _ in range(blocks)
        )

    def forward(self, latents: Tensor) -> Tensor:
        cres = latents
        for blk in self.blocks:
            c = F.relu(blk["reduce"](cres))
            c = blk["row"](c)
            c = F.pad(c, (0, 0, 1, 0))  # one row of zeros at the top of H
            c = F.relu(blk["down"](c))
            cres = cres + blk["expand"](c)
        return F.relu(cres)


class CPCHead(nn.Module):
    """Context networks, target projection and prediction convs of CPC v2, with the loss in `forward`.

    `steps_to_ignore=2, steps_to_predict=3` train the single offset k = 3 rows ahead (thesis defaults).
    `directions=4` rotates the latent grid by 0°/90°/180°/270° (top-down, right-left, bottom-up, left-right),
    each with its own PixelCNN and prediction convs; `separate_targets` gives each direction its own
    target projection too (spec: optional). With `patch`/`stride` given, offsets whose target patch would
    overlap the context are refused unless `allow_overlap=True`.
    """

    def __init__(
        self,
        latent_dim: int,
        target_dim: int = 64,
        hidden: int = 256,
        blocks: int = 5,
        steps_to_ignore: int = 2,
        steps_to_predict: int = 3,
        emb_scale: float = 0.1,
        directions: int = 4,
        separate_targets: bool = False,
        patch: int | None = None,
        stride: int | None = None,
        allow_overlap: bool = False,
    ):
        super().__init__()
        if not 0 <= steps_to_ignore < steps_to_predict:
            raise ValueError(
                f"need 0 <= steps_to_ignore < steps_to_predict, got {steps_to_ignore}, {steps_to_predict}"
            )
        if directions not in (1, 2, 4):
            raise ValueError(f"directions must be 1 (top-down), 2 (+bottom-up) or 4, got {directions}")
        if emb_scale <= 0:
            raise ValueError(f"emb_scale must be > 0, got {emb_scale}")
        self.offsets = [i + 1 for i in range(steps_to_ignore, steps_to_predict)]
        if patch is not None and stride is not None and not allow_overlap:
            for k in self.offsets:
                if patch_overlap(patch, stride, k) > 0:
                    raise ValueError(
                        f"offset {k} with patch {patch} and stride {stride} scores a target that "
                        f"overlaps the context by {patch_overlap(patch, stride, k)} px; raise "
                        "steps_to_ignore or pass allow_overlap=True"
                    )
        self.emb_scale, self.directions = emb_scale, directions
        # rotation counts: 0 top-down, 2 bottom-up, 1 and 3 the horizontal directions
        self.rotations = {1: [0], 2: [0, 2], 4: [0, 2, 1, 3]}[directions]
        self.context = nn.ModuleList(PixelCNN(latent_dim, hidden, blocks) for _ in self.rotations)
        n_targets = len(self.rotations) if separate_targets else 1
        self.targets = nn.ModuleList(nn.Conv2d(latent_dim, target_dim, 1) for _ in range(n_targets))
        self.preds = nn.ModuleList(
            nn.ModuleList(nn.Conv2d(latent_dim, target_dim, 1) for _ in self.offsets) for _ in self.rotations
        )

    def forward(self, latents: Tensor) -> tuple[Tensor, dict[str, float]]:
        """latents (B, D, H, W) → (summed loss over directions and offsets, per-direction losses)."""
        total, metrics = latents.new_zeros(()), {}
        for d, rot in enumerate(self.rotations):
            z = torch.rot90(latents, rot, dims=(2, 3)) if rot else latents
            if z.shape[2] <= max(self.offsets):
                raise ValueError(f"grid height {z.shape[2]} too small for offset {max(self.offsets)}")
            context = self.context[d](z)
            targets = self.targets[d if len(self.targets) > 1 else 0](z).permute(0, 2, 3, 1)  # (B, H, W, T)
            loss_d = latents.new_zeros(())
            for k, conv in zip(self.offsets, self.preds[d]):
                loss_d = loss_d + cpc_loss(
                    conv(context).permute(0, 2, 3, 1), targets, k, emb_scale=self.emb_scale
                )
            metrics[f"loss/cpc_rot{rot * 90}"] = float(loss_d.detach())
            total = total + loss_d
        return total, metrics
