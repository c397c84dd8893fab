"""Batched pixel augmentations: RAD's ten and DrQ's shift (seed001 §3, anchors §1.2–1.4).

Every function takes a batch (B, C·T, H, W) of T stacked frames (uint8 or float, CPU or CUDA), a
`torch.Generator` and `frames=T`, draws one set of parameters per sample shared by its T frames, and returns
a new batch (with `return_params=True`, also the drawn parameters; `params=` replays them). See docs/augment.md.
"""

from .color import color_jitter, hsv_to_rgb, random_grayscale, rgb_to_hsv
from .compose import REGISTRY, Augment, Compose, from_spec, no_aug
from .conv import random_conv
from .crop import center_crop, center_translate, random_crop, random_shift, random_translate, random_window
from .cutout import random_cutout, random_cutout_color
from .geometric import random_flip, random_rotate

__all__ = [
    "REGISTRY",
    "Augment",
    "Compose",
    "center_crop",
    "center_translate",
    "color_jitter",
    "from_spec",
    "hsv_to_rgb",
    "no_aug",
    "random_conv",
    "random_crop",
    "random_cutout",
    "random_cutout_color",
    "random_flip",
    "random_grayscale",
    "random_rotate",
    "random_shift",
    "random_translate",
    "random_window",
    "rgb_to_hsv",
]
