"""The trajectory reservoir D of CARML (Algorithm 8 line 11, seed003 §C.2.3): reservoir sampling (Vitter's
Algorithm R) keeps a uniform sample of `capacity` of all trajectories ever offered."""

from __future__ import annotations

import numpy as np


class Reservoir:
    """Fixed-capacity uniform sample of trajectories; each trajectory is a dict of arrays with the time axis
    first (e.g. obs (T, 3, 15, 15), state (T, 3), z ())."""

    def __init__(self, capacity: int, seed: int = 0):
        if capacity < 1:
            raise ValueError(f"reservoir capacity must be >= 1, got {capacity}")
        self.capacity, self.seen, self.items = capacity, 0, []
        self.rng = np.random.default_rng(seed)

    def add(self, batch: dict) -> None:
        """Offer every trajectory of `batch` (dict of arrays with the trajectory axis first)."""
        n = len(next(iter(batch.values())))
        for i in range(n):
            item = {k: v[i] for k, v in batch.items()}
            if len(self.items) < self.capacity:
                self.items.append(item)
            else:
                j = self.rng.integers(0, self.seen + 1)  # keep with probability capacity / (seen + 1)
                if j < self.capacity:
                    self.items[j] = item
            self.seen += 1

    def __len__(self) -> int:
        return len(self.items)

    def stacked(self, key: str) -> np.ndarray:
        """One field of every kept trajectory, stacked (N, ...)."""
        return np.stack([it[key] for it in self.items])
