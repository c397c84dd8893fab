"""Distribution metrics on the hyper-grid: L1 to the target, a sliding empirical distribution, modes found.

Empirical L1 (seed004 §S4.3): E_x |p(x) − u(x)| averaged over all reachable cells, with u the
frequencies of the last N visited terminal states ([REF-CODE] uses N = 200k); exact L1 uses the DP
distribution of `replab.gfn.exact`. Modes found: mode cells visited at least once.
"""

from __future__ import annotations

import torch


def l1_distance(p: torch.Tensor, u: torch.Tensor, support: torch.Tensor) -> float:
    """E_x |p(x) − u(x)| over the cells where `support (N,)` is True (thesis §5.3.1)."""
    return float((p[support] - u[support]).abs().mean())


class EmpiricalDistribution:
    """Frequencies of the last `window` visited cells (a ring buffer) and the set of cells ever visited."""

    def __init__(self, n_cells: int, window: int = 200_000):
        if n_cells < 1:
            raise ValueError(f"n_cells must be >= 1, got {n_cells}")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.window = window
        self.counts = torch.zeros(n_cells, dtype=torch.long)
        self.ever = torch.zeros(n_cells, dtype=torch.bool)
        self._ring = torch.zeros(window, dtype=torch.long)
        self._pos = 0
        self.total = 0  # cells added since the start

    def add(self, cells: torch.Tensor) -> None:
        """Record visited cell numbers `(K,)`."""
        cells = cells.reshape(-1).long()
        filled = min(self.total, self.window)  # ring positions [0, filled) hold a cell already
        self.total += len(cells)
        self.ever[cells] = True
        if len(cells) > self.window:
            cells = cells[-self.window :]
        k = len(cells)
        slots = (self._pos + torch.arange(k)) % self.window
        old = self._ring[slots[slots < filled]]
        self.counts.index_add_(0, old, torch.full_like(old, -1))
        self._ring[slots] = cells
        self.counts.index_add_(0, cells, torch.ones_like(cells))
        self._pos = int((self._pos + k) % self.window)

    def frequencies(self) -> torch.Tensor:
        """u(x) `(N,)` float64 over the window (zeros before anything was added)."""
        n = int(self.counts.sum())
        return self.counts.double() / max(n, 1)

    def modes_found(self, mode_mask: torch.Tensor) -> int:
        return int((self.ever & mode_mask).sum())
