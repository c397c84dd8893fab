"""A sum tree over priorities with vectorised updates and stratified sampling (Schaul et al. 2016, §3.3).

Leaves hold priorities p_i ≥ 0; internal nodes hold sums, so sampling i with probability p_i / Σp is a
root-to-leaf descent. All operations take index arrays and run level by level in numpy (no Python loop
over the batch).
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Priorities of `capacity` slots (all 0 at start)."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.depth = int(np.ceil(np.log2(max(capacity, 2))))
        self.leaves = 1 << self.depth
        self.nodes = np.zeros(2 * self.leaves, np.float64)  # node 1 is the root; leaves at [leaves, 2·leaves)

    @property
    def total(self) -> float:
        return float(self.nodes[1])

    def get(self, index) -> np.ndarray:
        return self.nodes[self.leaves + np.asarray(index)]

    def set(self, index, priority) -> None:
        """Set the priorities of slots `index` (an index repeated keeps its last value)."""
        index = np.asarray(index, np.int64).reshape(-1)
        priority = np.broadcast_to(np.asarray(priority, np.float64), index.shape)
        if np.any(priority < 0) or not np.all(np.isfinite(priority)):
            raise ValueError("priorities must be finite and >= 0")
        node = self.leaves + index
        self.nodes[node] = priority
        nodes = self.nodes
        for _ in range(self.depth):  # every leaf is at the same depth: one pass per level up to the root
            node = node >> 1  # a repeated parent is recomputed from the same children: the same value
            nodes[node] = nodes[2 * node] + nodes[2 * node + 1]

    def find(self, values: np.ndarray) -> np.ndarray:
        """Slots whose cumulative-priority interval contains each value in [0, total)."""
        values = np.array(values, np.float64)
        node = np.ones(values.shape, np.int64)
        nodes = self.nodes
        for _ in range(self.depth):
            left = 2 * node
            left_sum = nodes[left]
            go_right = values >= left_sum
            values -= left_sum * go_right  # x − 0.0 = x exactly where the descent goes left
            node = left + go_right
        return node - self.leaves

    def sample_stratified(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """`batch` slots, one from each of `batch` equal strata of the total priority (Schaul et al. §B.2.1).

        Only slots of positive priority can be drawn (float round-off is guarded against)."""
        total = self.total
        if total <= 0:
            raise ValueError("cannot sample: every priority is 0")
        u = (np.arange(batch) + rng.random(batch)) * (total / batch)
        idx = self.find(np.minimum(u, np.nextafter(total, 0)))
        bad = self.get(idx) <= 0  # round-off at a boundary: fall back to the nearest positive leaf
        if bad.any():
            positive = np.flatnonzero(self.nodes[self.leaves : self.leaves + self.capacity] > 0)
            pos = np.searchsorted(positive, idx[bad]).clip(0, len(positive) - 1)
            idx[bad] = positive[pos]
        return idx
