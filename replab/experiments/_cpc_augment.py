"""Augmentations of the CPC experiment, built on `replab.augment` (one draw per sample).

- `classifier_augment`: a random `crop`×`crop` crop of each image (CPC v2: random 260 crop of 300).
- `patch_augment`: CPC v2 §2.6 per-patch augmentation, every patch independently: spatial jitter (pad 1,
  random crop back), colour jitter, and, for RGB, colour dropping (keep one random channel, §2.4 "RC").
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

try:  # the augmentation package lands separately (issue: batched augmentations)
    from replab import augment as _aug
except ImportError:  # pragma: no cover - only until replab.augment exists
    _aug = None


def classifier_augment(x: Tensor, crop: int, generator: torch.Generator) -> Tensor:
    """(B, C, S, S) → (B, C, crop, crop), an independent random crop per image."""
    if _aug is None:
        o = (x.shape[-1] - crop) // 2
        return x[..., o : o + crop, o : o + crop]
    return _aug.random_crop(x, crop, generator=generator)


def color_drop(x: Tensor, generator: torch.Generator) -> Tensor:
    """Keep one random channel of each RGB sample and zero the other two (CPC v2 §2.4)."""
    keep = torch.randint(0, x.shape[1], (x.shape[0],), generator=generator, device="cpu").to(x.device)
    mask = torch.nn.functional.one_hot(keep, x.shape[1]).to(x.dtype)[:, :, None, None]
    return x * mask


def patch_augment(channels: int, drop_colour: bool, generator: torch.Generator) -> Callable[[Tensor], Tensor]:
    """The per-patch augmentation (B·G, C, p, p) → same shape, one independent draw per patch."""

    def fn(patches: Tensor) -> Tensor:
        if _aug is not None:
            p = patches.shape[-1]
            padded = torch.nn.functional.pad(patches, (1, 1, 1, 1), mode="replicate")
            patches = _aug.random_crop(padded, p, generator=generator)  # ±1 px spatial jitter
            if channels == 3:
                patches = _aug.color_jitter(patches, generator=generator)
        if drop_colour and channels == 3:
            patches = color_drop(patches, generator)
        return patches

    return fn
