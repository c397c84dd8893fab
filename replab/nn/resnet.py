"""ResNets of any depth and width (He et al. 2016, the torchvision "v1.5" layout: stride on the 3×3 conv),
with batch norm or per-sample layer norm, and a hook to replace blocks (BoTNet, `replab.nn.botnet`).

Stage names follow torchvision (`conv1`, `bn1`, `layer1`..`layer4`, `fc`) so parameter counts compare
directly: `resnet50()` has 25,557,032 parameters (seed001 §4.3).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

NORMS = ("batch", "layer")
STEMS = ("imagenet", "cifar", "tiered")
BLOCKS = ("bottleneck", "basic")


def make_norm(kind: str, channels: int) -> nn.Module:
    """`batch`: BatchNorm2d. `layer`: GroupNorm(1, C), i.e. layer norm over (C, H, W) of each sample —
    the CPC v2 choice, which never mixes statistics across images or patches (seed001 §1.3)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    raise ValueError(f"norm must be one of {NORMS}, got {kind!r}")


class BasicBlock(nn.Module):
    """3×3 conv → norm → ReLU → 3×3 conv → norm, plus the shortcut, then ReLU.

    (B, C_in, H, W) → (B, C_out, H/s, W/s)."""

    def __init__(
        self,
        in_ch: int,
        width: int,
        out_ch: int,
        stride: int = 1,
        norm: str = "batch",
        zero_init_last: bool = False,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride, 1, bias=False)
        self.bn1 = make_norm(norm, width)
        self.conv2 = nn.Conv2d(width, out_ch, 3, 1, 1, bias=False)
        self.bn2 = make_norm(norm, out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_ch, out_ch, stride, norm)
        if zero_init_last:
            nn.init.zeros_(self.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += idt  # in place (the norm's backward does not need its output): one allocation fewer
        return self.relu(out)


class Bottleneck(nn.Module):
    """1×1 reduce → 3×3 (stride s) → 1×1 expand, norm after each, ReLU, residual.

    (B, C_in, H, W) → (B, C_out, H/s, W/s)."""

    def __init__(
        self,
        in_ch: int,
        width: int,
        out_ch: int,
        stride: int = 1,
        norm: str = "batch",
        zero_init_last: bool = False,
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = make_norm(norm, width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = make_norm(norm, width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = make_norm(norm, out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(in_ch, out_ch, stride, norm)
        if zero_init_last:
            nn.init.zeros_(self.bn3.weight)

    def forward(self, x: Tensor) -> Tensor:
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += idt  # in place (the norm's backward does not need its output): one allocation fewer
        return self.relu(out)


def _shortcut(in_ch: int, out_ch: int, stride: int, norm: str) -> nn.Module | None:
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), make_norm(norm, out_ch))


BlockFactory = Callable[..., "nn.Module | None"]
"""(stage, index, in_ch, width, out_ch, stride, in_hw, norm) -> a block, or None for the default block."""


class ResNet(nn.Module):
    """A ResNet: stem → `len(layers)` stages → global mean pool → optional linear head.

    layers: blocks per stage, e.g. (3, 4, 6, 3) for R50. widths: bottleneck widths per stage (the output
    has `expansion` × width channels: 4 for bottleneck, 1 for basic). strides: per stage (c2..c5 = 1,2,2,2).
    stem: `imagenet` (7×7/2 conv + 3×3/2 max pool), `cifar` (3×3 conv, stride `stem_stride`, no pool) or
    `tiered` (three 3×3 convs, 24/32/stem_channels, as timm's `botnet26t`, + max pool).
    num_classes=0 leaves out the head: `forward` then returns the pooled features (B, C).
    image_size (H, W): needed by blocks whose shape depends on the input size (BoT's position tables).
    block_factory: see `BlockFactory`; BoTNet uses it to put MHSA blocks where it wants them.
    """

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        widths: Sequence[int] = (64, 128, 256, 512),
        block: str = "bottleneck",
        in_channels: int = 3,
        num_classes: int = 1000,
        stem: str = "imagenet",
        stem_channels: int = 64,
        stem_stride: int = 2,
        strides: Sequence[int] | None = None,
        norm: str = "batch",
        zero_init_last: bool = False,
        image_size: tuple[int, int] | None = None,
        block_factory: BlockFactory | None = None,
    ):
        super().__init__()
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {BLOCKS}, got {block!r}")
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        strides = tuple(strides) if strides is not None else (1,) + (2,) * (len(layers) - 1)
        if not (len(layers) == len(widths) == len(strides)) or not layers:
            raise ValueError(
                f"layers, widths and strides need one entry per stage, got {layers}, {widths}, {strides}"
            )
        if any(n < 1 for n in layers) or any(w < 1 for w in widths) or any(s not in (1, 2) for s in strides):
            raise ValueError(
                f"need blocks >= 1, widths >= 1 and strides in (1, 2); got {layers}, {widths}, {strides}"
            )
        if in_channels < 1 or stem_channels < 1 or num_classes < 0:
            raise ValueError(
                f"bad in_channels/stem_channels/num_classes {in_channels}/{stem_channels}/{num_classes}"
            )
        expansion = 4 if block == "bottleneck" else 1
        cls = Bottleneck if block == "bottleneck" else BasicBlock
        hw = tuple(image_size) if image_size is not None else None

        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 7, 2, 3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(3, 2, 1)
            hw = _down(_down(hw, 2), 2)
        elif stem == "tiered":
            self.conv1 = nn.Sequential(
                nn.Conv2d(in_channels, 24, 3, 2, 1, bias=False),
                make_norm(norm, 24),
                nn.ReLU(inplace=True),
                nn.Conv2d(24, 32, 3, 1, 1, bias=False),
                make_norm(norm, 32),
                nn.ReLU(inplace=True),
                nn.Conv2d(32, stem_channels, 3, 1, 1, bias=False),
            )
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            hw = _down(_down(hw, 2), 2)
        else:
            self.conv1 = nn.Conv2d(in_channels, stem_channels, 3, stem_stride, 1, bias=False)
            self.maxpool = nn.Identity()
            hw = _down(hw, stem_stride)
        self.bn1 = make_norm(norm, stem_channels)
        self.relu = nn.ReLU(inplace=True)

        in_ch = stem_channels
        self.stage_names = []
        for s, (n, width, stride) in enumerate(zip(layers, widths, strides)):
            blocks = []
            for i in range(n):
                st = stride if i == 0 else 1
                out_ch = width * expansion
                blk = block_factory(s, i, in_ch, width, out_ch, st, hw, norm) if block_factory else None
                blocks.append(blk if blk is not None else cls(in_ch, width, out_ch, st, norm, zero_init_last))
                in_ch, hw = out_ch, _down(hw, st)
            name = f"layer{s + 1}"
            self.add_module(name, nn.Sequential(*blocks))
            self.stage_names.append(name)
        self.out_channels = in_ch
        self.feature_size = hw
        self.fc = nn.Linear(in_ch, num_classes) if num_classes else None

    def forward_features(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) → the last stage's feature map (B, C_out, H/32, W/32) (for the ImageNet layout)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for name in self.stage_names:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, H, W) → logits (B, num_classes), or pooled features (B, C_out) when num_classes=0."""
        x = torch.flatten(self.forward_features(x).mean((2, 3)), 1)
        return self.fc(x) if self.fc is not None else x


def _down(hw, stride: int):
    """Spatial size after a 3×3/1×1 conv or pool of `stride` with 'same' padding (ceil division)."""
    if hw is None or stride == 1:
        return hw
    return tuple((s + stride - 1) // stride for s in hw)


def resnet(depth: int, **kw) -> ResNet:
    """The ResNet of the paper's depth: 18/34 (basic) or 26/50/101/152/200 (bottleneck)."""
    table = {
        18: ((2, 2, 2, 2), "basic"),
        34: ((3, 4, 6, 3), "basic"),
        26: ((2, 2, 2, 2), "bottleneck"),
        50: ((3, 4, 6, 3), "bottleneck"),
        101: ((3, 4, 23, 3), "bottleneck"),
        152: ((3, 8, 36, 3), "bottleneck"),
        200: ((3, 24, 36, 3), "bottleneck"),
    }
    if depth not in table:
        raise ValueError(f"depth must be one of {sorted(table)}, got {depth}")
    layers, block = table[depth]
    return ResNet(layers=layers, block=block, **kw)
