"""Augmentations of the CPC experiment.

`replab.augment` (RAD's batched augmentations) had not landed when this experiment was written, so the
pipeline here is reduced and says so in its report: `classifier_augment` takes the centre crop (the thesis
takes a random 260 crop of 300, seed001 §1.2), and `patch_augment` applies only CPC v2's colour dropping
(keep one random channel of each patch, §2.4 "RC"; RGB data only). Spatial jitter, colour jitter and the
AutoAugment/elastic primitives of §2.6 are missing; wire them in from `replab.augment` when it exists.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

AUGMENTATION_NOTE = (
    "centre crops and per-patch colour dropping only (replab.augment had not landed: no random "
    "crop, spatial jitter or colour jitter)"
)


def classifier_augment(x: Tensor, crop: int, generator: torch.Generator) -> Tensor:
    """(B, C, S, S) → (B, C, crop, crop): the centre crop (see the module note)."""
    o = (x.shape[-1] - crop) // 2
    return x[..., o : o + crop, o : o + crop]


def color_drop(x: Tensor, generator: torch.Generator) -> Tensor:
    """Keep one random channel of each sample (B, C, H, W) and zero the others (CPC v2 §2.4)."""
    keep = torch.randint(0, x.shape[1], (x.shape[0],), generator=generator).to(x.device)
    mask = torch.nn.functional.one_hot(keep, x.shape[1]).to(x.dtype)[:, :, None, None]
    return x * mask


def patch_augment(channels: int, drop_colour: bool, generator: torch.Generator) -> Callable[[Tensor], Tensor]:
    """The per-patch augmentation (B·G, C, p, p) → same shape, an independent draw per patch."""

    def fn(patches: Tensor) -> Tensor:
        if drop_colour and channels == 3:
            patches = color_drop(patches, generator)
        return patches

    return fn
