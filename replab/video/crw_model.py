"""The CRW encoder, patch nodes with spatial jitter, and one training step (seed003 B.2.4–B.3, B.9).

Training nodes are patches cut from each frame on a grid (size p, stride p/2, Algorithm 7's unfold), each
jittered by its own random resized crop (B.2.5: scale (0.7, 0.9), ratio (0.7, 1.3), via a batched affine
`grid_sample`) and encoded independently — never regions of one pooled feature map (B.9, shortcuts). The
encoder is fully convolutional with reflect padding (B.3 [REF]); a node is the mean of its patch's feature
map through a linear head, ℓ2-normalised. At test time the whole frame's feature map (before the head) is
used, ℓ2-normalised per location (B.2.7.1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from replab.losses.crw import crw_loss


class ConvEncoder(nn.Module):
    """A small fully convolutional encoder (output stride 2): 4 reflect-padded 3×3 convs, the first three
    with batch norm and ReLU (as in the ResNet of B.3), the second of stride 2; `forward` pools patches
    into node embeddings, `feature_map` reads whole frames."""

    def __init__(self, width: int = 32, embed_dim: int = 32, channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(4):
            conv = nn.Conv2d(
                channels if i == 0 else width,
                width,
                3,
                stride=2 if i == 1 else 1,
                padding=1,
                padding_mode="reflect",
            )
            layers += [conv] if i == 3 else [conv, nn.BatchNorm2d(width), nn.ReLU()]  # signed last map
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(width, embed_dim)
        self.stride = 2

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, width, H/2, W/2), the test-time features (B.2.7.1, before the head)."""
        return self.trunk(x)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, 3, p, p) patches -> (B, embed_dim) ℓ2-normalised node embeddings."""
        return F.normalize(self.head(self.trunk(patches).mean(dim=(-2, -1))), dim=-1)


def patch_grid(frames: torch.Tensor, psize: int) -> torch.Tensor:
    """(B, 3, H, W) -> (B, N, 3, psize, psize): patches of stride psize // 2, row-major (Algorithm 7)."""
    b, c = frames.shape[:2]
    cols = F.unfold(frames, psize, stride=psize // 2)  # (B, C·p·p, N)
    return cols.transpose(1, 2).reshape(b, -1, c, psize, psize)


def jitter(patches: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random resized crop of every patch (scale (0.7, 0.9), ratio (0.7, 1.3)), resized back to its size."""
    n, _, h, w = patches.shape
    dev = generator.device if generator is not None else patches.device
    u = torch.rand(n, 4, generator=generator, device=dev).to(patches.device)
    scale = 0.7 + 0.2 * u[:, 0]
    ratio = torch.exp(math.log(0.7) + (math.log(1.3) - math.log(0.7)) * u[:, 1])
    sx = torch.sqrt(scale * ratio).clamp(max=1.0)  # crop width / patch width
    sy = torch.sqrt(scale / ratio).clamp(max=1.0)
    tx, ty = (1 - sx) * (2 * u[:, 2] - 1), (1 - sy) * (2 * u[:, 3] - 1)
    theta = torch.zeros(n, 2, 3, device=patches.device)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, tx, sy, ty
    grid = F.affine_grid(theta.to(patches), [n, patches.shape[1], h, w], align_corners=False)
    return F.grid_sample(patches, grid, align_corners=False)


def clip_nodes(
    encoder: nn.Module, clips: torch.Tensor, psize: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(B, T, 3, H, W) clips -> (B, T, N, d) node embeddings of independently jittered patches."""
    b, t = clips.shape[:2]
    patches = patch_grid(clips.flatten(0, 1), psize)  # (B·T, N, 3, p, p)
    n = patches.shape[1]
    v = encoder(jitter(patches.flatten(0, 1), generator))
    return v.view(b, t, n, -1)


def crw_step(
    encoder: nn.Module,
    opt: torch.optim.Optimizer,
    clips: torch.Tensor,
    *,
    psize: int,
    tau: float,
    edge_drop: float,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One Adam step of Algorithm 6 on a clip batch; returns the loss metrics."""
    nodes = clip_nodes(encoder, clips, psize, generator)
    loss, metrics = crw_loss(nodes, tau, edge_drop=edge_drop, generator=generator)
    opt.zero_grad()
    loss.backward()
    opt.step()
    metrics["loss/crw"] = float(loss.detach())
    return metrics


ENCODERS = ("conv", "resnet18")


def make_encoder(name: str, width: int, embed_dim: int) -> nn.Module:
    """The CRW encoder by name: "conv" (`ConvEncoder`, output stride 2, the CPU default of B.8) or
    "resnet18" (`replab.video.resnet.ResNet18Encoder`, the thesis's Table 3.4, output stride 8; `width`
    is its first stage's channels, 64 in the thesis)."""
    if name == "conv":
        return ConvEncoder(width, embed_dim)
    if name == "resnet18":
        from replab.video.resnet import ResNet18Encoder

        return ResNet18Encoder(width, embed_dim)
    raise ValueError(f"unknown encoder '{name}', choose from {ENCODERS}")
