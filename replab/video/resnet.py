"""The thesis's modified ResNet-18 encoder for the CRW (seed003 B.3, Table 3.4), without torchvision.

conv1 7×7/2 → maxpool 3×3/2 → res1 (64, stride 1) → res2 (128, stride 2) → res3 (256, stride 1) →
res4 (512, stride 1): the strides of res3 and res4 changed from 2 to 1, so the output stride is 8. Two
BasicBlocks per stage, batch norm, ReLU; reflect padding in every convolution ([REF] the reference
"scratch" model; `padding_mode="zeros"` is the torchvision default). Training nodes: res4 → average pool →
linear (128) → ℓ2 (B.3); test-time features: the res3 map (B.2.7.1 [REF]: layer4 removed for evaluation).
`width` scales every stage (64 is the thesis's; smaller widths for CPU runs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(cin: int, cout: int, k: int, stride: int, padding_mode: str) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, padding_mode=padding_mode)


class BasicBlock(nn.Module):
    """Two 3×3 convs with batch norm, a residual connection (1×1 conv + BN when the shape changes)."""

    def __init__(self, cin: int, cout: int, stride: int, padding_mode: str):
        super().__init__()
        self.conv1, self.bn1 = _conv(cin, cout, 3, stride, padding_mode), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = _conv(cout, cout, 3, 1, padding_mode), nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ResNet18Encoder(nn.Module):
    """Table 3.4's ResNet-18 (res3/res4 stride 1). `forward(patches)` -> ℓ2 node embeddings (B, embed_dim);
    `feature_map(frames)` -> res3 features (B, 4·width, H/8, W/8)."""

    STAGES = ((1, 1), (2, 2), (4, 1), (8, 1))  # (channel multiple of width, stride) of res1..res4

    def __init__(
        self, width: int = 64, embed_dim: int = 128, channels: int = 3, padding_mode: str = "reflect"
    ):
        super().__init__()
        if width < 1 or embed_dim < 1:
            raise ValueError(f"width and embed_dim must be >= 1, got {width}, {embed_dim}")
        if padding_mode not in ("reflect", "zeros"):
            raise ValueError(f"padding_mode must be 'reflect' or 'zeros', got '{padding_mode}'")
        self.stem = nn.Sequential(
            _conv(channels, width, 7, 2, padding_mode),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.MaxPool2d(3, 2, 1),
        )
        stages, cin = [], width
        for mult, stride in self.STAGES:
            cout = mult * width
            stages.append(
                nn.Sequential(
                    BasicBlock(cin, cout, stride, padding_mode), BasicBlock(cout, cout, 1, padding_mode)
                )
            )
            cin = cout
        self.res1, self.res2, self.res3, self.res4 = stages
        self.head = nn.Linear(cin, embed_dim)
        self.stride = 8

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> res3 features (B, 4·width, ⌈H/8⌉, ⌈W/8⌉), the test-time nodes (B.2.7.1)."""
        return self.res3(self.res2(self.res1(self.stem(x))))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, 3, p, p) patches -> (B, embed_dim) ℓ2-normalised node embeddings (res4, pool, linear)."""
        return F.normalize(self.head(self.res4(self.feature_map(patches)).mean(dim=(-2, -1))), dim=-1)
