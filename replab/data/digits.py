"""scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes): no download needed."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from replab.data.split import Split, stratified_split


def load_digits(size: int = 8, test_fraction: float = 0.3, seed: int = 0) -> Split:
    """The digits as (N, 1, size, size) images, standardised with the training split's pixel statistics.

    `size` > 8 upsamples bilinearly (for conv nets that pool). The split is stratified (seed002 §1.6: 70/30).
    """
    from sklearn.datasets import load_digits as sk_load_digits

    data = sk_load_digits()
    x = data.images.astype(np.float32)[:, None] / 16.0
    y = data.target.astype(np.int64)
    tr, te = stratified_split(x, y, test_fraction, np.random.default_rng(seed))
    xt = torch.from_numpy(x)
    if size != 8:
        xt = F.interpolate(xt, size=(size, size), mode="bilinear", align_corners=False)
    mean, std = xt[tr].mean(), xt[tr].std()
    xt = (xt - mean) / std
    yt = torch.from_numpy(y)
    return Split(xt[tr], yt[tr], xt[te], yt[te])
