"""Train/test splits of labelled images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Split:
    """Images (N, C, H, W) float32 and labels (N,) int64 for train and test."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def classes(self) -> int:
        return int(max(self.train_y.max(), self.test_y.max())) + 1

    def subset(self, classes) -> Split:
        """Keep only the given classes, relabelled 0..k−1 in the given order."""
        mapping = torch.full((self.classes,), -1, dtype=torch.long)
        mapping[torch.as_tensor(list(classes))] = torch.arange(len(classes))
        tr, te = mapping[self.train_y] >= 0, mapping[self.test_y] >= 0
        return Split(self.train_x[tr], mapping[self.train_y[tr]], self.test_x[te], mapping[self.test_y[te]])


def stratified_split(x: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator):
    """Indices (train, test) with the same class proportions in both parts."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(len(idx) * test_fraction))
        test.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
