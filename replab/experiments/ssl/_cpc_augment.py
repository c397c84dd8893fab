"""Augmentations of the CPC experiment, from `replab.augment` (one independent draw per sample).

- `classifier_augment`: a random `crop`×`crop` window of each image (CPC v2: a random 260 crop of 300).
- `patch_augment`: CPC v2 §2.6's per-patch augmentation, every patch independently: spatial jitter of ±1 px
  (replicate pad + random crop back, the original CPC's patch jitter); for RGB data also Inception-style
  colour jitter with probability 0.8, greyscale with probability 0.25 and colour dropping (keep one random
  channel, §2.4 "RC"). AutoAugment, elastic deformation and shearing (§2.6 steps 1–2) are not included.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from replab.augment import color_jitter, random_crop, random_grayscale, random_shift

AUGMENTATION_NOTE = (
    "random crops; per patch ±1 px jitter, and for RGB colour jitter (p 0.8), greyscale "
    "(p 0.25) and colour dropping (no AutoAugment / elastic / shear)"
)


def classifier_augment(x: Tensor, crop: int, generator: torch.Generator) -> Tensor:
    """(B, C, S, S) → (B, C, crop, crop), an independent random window per image."""
    return random_crop(x, crop, generator=generator)


def color_drop(x: Tensor, generator: torch.Generator) -> Tensor:
    """Keep one random channel of each sample (B, C, H, W) and zero the others (CPC v2 §2.4)."""
    keep = torch.randint(0, x.shape[1], (x.shape[0],), generator=generator).to(x.device)
    mask = torch.nn.functional.one_hot(keep, x.shape[1]).to(x.dtype)[:, :, None, None]
    return x * mask


def patch_augment(channels: int, drop_colour: bool, generator: torch.Generator) -> Callable[[Tensor], Tensor]:
    """The per-patch augmentation (B·G, C, p, p) → same shape, an independent draw per patch."""

    def fn(patches: Tensor) -> Tensor:
        patches = random_shift(patches, 1, generator=generator)
        if channels == 3:
            patches = color_jitter(patches, p=0.8, generator=generator)
            patches = random_grayscale(patches, p=0.25, generator=generator)
            if drop_colour:
                patches = color_drop(patches, generator)
        return patches

    return fn
