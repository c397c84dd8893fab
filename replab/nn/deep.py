"""Deep plain classifiers for layer-wise studies: an MLP and a VGG-style CNN of configurable depth.

Each hidden block is a named child `layer01`, `layer02`, ... whose output is the post-activation
representation probed by the tunnel-effect study (seed002 §1.2); the linear classifier is `head`.
"""

from __future__ import annotations

from torch import nn


def layer_names(depth: int) -> list[str]:
    return [f"layer{i:02d}" for i in range(1, depth + 1)]


def _check(depth: int, width: int) -> None:
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")


class DeepMLP(nn.Sequential):
    """Flatten → `depth` × [Linear(width) → BatchNorm1d → ReLU] → Linear(classes).  Input (B, ...)."""

    def __init__(
        self, in_features: int, classes: int, depth: int = 12, width: int = 128, batch_norm: bool = True
    ):
        _check(depth, width)
        blocks: dict[str, nn.Module] = {"flatten": nn.Flatten()}
        d = in_features
        for name in layer_names(depth):
            parts = [nn.Linear(d, width)] + ([nn.BatchNorm1d(width)] if batch_norm else []) + [nn.ReLU()]
            blocks[name] = nn.Sequential(*parts)
            d = width
        blocks["head"] = nn.Linear(width, classes)
        super().__init__(_ordered(blocks))
        self.depth = depth


class DeepCNN(nn.Sequential):
    """VGG-style: `depth` × [Conv3×3(width) → BatchNorm2d → ReLU], a 2×2 max-pool closing each of the
    first `pools` of (pools + 1) equal stages (VGG's pattern), then global average pooling → Linear.

    Input (B, C, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        classes: int,
        depth: int = 12,
        width: int = 32,
        pools: int = 2,
        batch_norm: bool = True,
    ):
        _check(depth, width)
        if not 0 <= pools < depth:
            raise ValueError(f"pools must be in [0, depth), got {pools} with depth {depth}")
        stage = -(-depth // (pools + 1))  # ceil: layers per stage
        blocks: dict[str, nn.Module] = {}
        c = in_channels
        for i, name in enumerate(layer_names(depth), start=1):
            parts = [nn.Conv2d(c, width, 3, padding=1, bias=not batch_norm)]
            parts += ([nn.BatchNorm2d(width)] if batch_norm else []) + [nn.ReLU()]
            if i % stage == 0 and i // stage <= pools:
                parts.append(nn.MaxPool2d(2))
            blocks[name] = nn.Sequential(*parts)
            c = width
        blocks["pool"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        blocks["head"] = nn.Linear(width, classes)
        super().__init__(_ordered(blocks))
        self.depth = depth


def _ordered(blocks: dict[str, nn.Module]):
    from collections import OrderedDict

    return OrderedDict(blocks)
