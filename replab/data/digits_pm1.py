"""scikit-learn's 8×8 digits scaled to [−1, 1] for diffusion models (seed003 A.7 (a): x = pix / 8 − 1)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def load_digits_pm1(size: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as (N, 1, size, size) float32 in [−1, 1] and labels (N,) int64. `size` > 8
    upsamples bilinearly (values stay in [−1, 1])."""
    from sklearn.datasets import load_digits

    if size < 8:
        raise ValueError(f"size must be >= 8, got {size}")
    data = load_digits()
    x = torch.from_numpy(data.images.astype(np.float32)[:, None] / 8.0 - 1.0)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(-1, 1)
    return x, torch.from_numpy(data.target.astype(np.int64))
