"""The hyper-grid of seed004 §S4.3 (thesis §5.3.1): an n-dimensional grid of side H built by increments.

A state row is `(k_1, ..., k_n, stopped)` with integer coordinates k_i in [0, H-1] and a flag that marks
the terminal node "s then stop" (distinct from the interior node s, seed004 §S4.8). Actions 0..n-1
increment one coordinate, action n stops. Reaching a coordinate H-1 ends the trajectory (forced
termination, [REF-CODE] convention of seed004 §S4.3). Terminal states are never parents, so a cell with
two or more coordinates at H-1 is unreachable and excluded from the target distribution.

The reward of cell x = -1 + 2k/(H-1) (seed004 §S4.3, thesis §5.3.1) is
R(x) = R0 + R1 Π_i 1(0.5 < |x_i|) + R2 Π_i 1(0.6 < |x_i| < 0.8).
"""

from __future__ import annotations

import torch

from replab.gfn.env import DAGEnv


class HyperGrid(DAGEnv):
    """`HyperGrid(n, H, R0, R1=0.5, R2=2)`: the DAG environment plus exact enumeration helpers.

    Cells are numbered `flat = Σ_i k_i H^(n-1-i)` (row-major) in `cells()`, `reachable()`,
    `true_distribution()` and `mode_mask()`, all of shape `(H^n, ...)`.

    `forced_termination=False` is the torchgfn variant (no forced end: an increment is masked at H-1 and
    every cell is reachable by stop); the default True is the thesis's environment.
    """

    def __init__(
        self,
        n: int = 4,
        H: int = 8,
        R0: float = 0.1,
        R1: float = 0.5,
        R2: float = 2.0,
        forced_termination: bool = True,
    ):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n (dimensions) must be an integer >= 1, got {n!r}")
        if not isinstance(H, int) or H < 2:
            raise ValueError(f"H (side length) must be an integer >= 2, got {H!r}")
        if H**n > 2**24:
            raise ValueError(f"H**n must be <= 2**24 for exact enumeration, got {H}**{n} = {H**n}")
        if not R0 > 0:
            raise ValueError(f"R0 must be > 0 (flows must be positive, seed004 §S4.2), got {R0}")
        if R1 < 0 or R2 < 0:
            raise ValueError(f"R1 and R2 must be >= 0, got R1={R1}, R2={R2}")
        self.n, self.H, self.R0, self.R1, self.R2 = n, H, float(R0), float(R1), float(R2)
        self.forced_termination = bool(forced_termination)
        self.n_actions = n + 1
        self.state_dim = n + 1
        self.n_parent_slots = n + 1  # slot a holds the parent whose action a leads here
        self._cache: dict[str, torch.Tensor] = {}
        self._terminal_row = torch.tensor([H - 1] * n + [1])
        self._one_hot = torch.eye(H)
        self._unit_rows = torch.eye(n + 1, dtype=torch.long)
        self._all_actions = torch.ones(n + 1, dtype=torch.bool)

    def __repr__(self) -> str:
        return (
            f"HyperGrid(n={self.n}, H={self.H}, R0={self.R0}, R1={self.R1}, R2={self.R2}, "
            f"forced_termination={self.forced_termination})"
        )

    # -- the DAG contract -------------------------------------------------------------------------------
    def initial(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.n + 1, dtype=torch.long)

    def is_terminal(self, states: torch.Tensor) -> torch.Tensor:
        if not self.forced_termination:
            return states[:, self.n] == 1
        # stopped, or some coordinate at H-1 (coordinates never exceed H-1): one comparison with the row
        # (H-1, ..., H-1, 1)
        return (states == self._terminal_row).any(-1)

    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        # With forced termination every increment of a non-terminal state is allowed: its coordinates
        # are < H-1, so an increment lands at most on H-1. Without, increments stop at H-1.
        alive = ~self.is_terminal(states)
        mask = alive[:, None] & self._all_actions  # (B, n+1), a new tensor
        if not self.forced_termination:
            mask[:, : self.n] &= states[:, : self.n] < self.H - 1
        return mask

    def step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        # action a adds the unit vector e_a; index n is the stop flag, so stop sets it to 1
        return states + self._unit_rows.index_select(0, actions)

    def parents(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n, B = self.n, states.shape[0]
        coords = states[:, :n]
        stopped = states[:, n] == 1
        eye = torch.eye(n + 1, n, dtype=torch.long)  # row n is zero: the stop slot keeps the coordinates
        parent_coords = coords[:, None, :] - eye[None]  # (B, n+1, n)
        parents = torch.cat([parent_coords, torch.zeros(B, n + 1, 1, dtype=torch.long)], dim=-1)
        # increment slot i exists when k_i > 0 and the parent is not terminal (max < H-1), and the
        # state was not reached by stop; the stop slot exists only for stopped states.
        inc_ok = parent_coords.min(-1).values >= 0
        if self.forced_termination:
            inc_ok &= parent_coords.max(-1).values < self.H - 1
        mask = torch.cat([inc_ok[:, :n] & ~stopped[:, None], stopped[:, None]], dim=1)
        parents = parents.clamp_min(0)
        actions = torch.arange(n + 1).expand(B, -1)
        return parents, actions, mask

    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        return self.reward_of_cells(states[:, : self.n]).log()

    def features(self, states: torch.Tensor) -> torch.Tensor:
        """One-hot per coordinate, `(B, n*H)` ([REF-CODE], seed004 §S4.4)."""
        return self._one_hot[states[:, : self.n]].reshape(states.shape[0], self.n * self.H)

    # -- coordinates and rewards -------------------------------------------------------------------------
    def to_x(self, coords: torch.Tensor) -> torch.Tensor:
        """Cell coordinates in [-1, 1]^n: x = -1 + 2k/(H-1) (seed004 §S4.3)."""
        return -1.0 + 2.0 * coords.double() / (self.H - 1)

    def _bands(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(every 0.5 < |x_i|, every 0.6 < |x_i| < 0.8) decided in integers: |x| = |2k − H + 1| / (H − 1), so
        0.5 < |x| ⟺ 2|2k − H + 1| > H − 1 and 0.6 < |x| < 0.8 ⟺ 3(H − 1) < 5|2k − H + 1| < 4(H − 1). Floats
        would round 0.6 up or down at the band edges (H ≡ 1 mod 5: x = ±0.6 exactly), making the reward
        asymmetric under x → −x."""
        d, m = (2 * coords.long() - (self.H - 1)).abs(), self.H - 1
        return (2 * d > m).all(-1), ((5 * d > 3 * m) & (5 * d < 4 * m)).all(-1)

    def reward_of_cells(self, coords: torch.Tensor) -> torch.Tensor:
        """R(x) `(B,)` float64 for integer coordinates `(B, n)` (thesis §5.3.1)."""
        r1, r2 = self._bands(coords)
        return self.R0 + self.R1 * r1.double() + self.R2 * r2.double()

    def flat_index(self, coords: torch.Tensor) -> torch.Tensor:
        """Row-major cell number `(B,)` of coordinates `(B, n)`."""
        weights = self.H ** torch.arange(self.n - 1, -1, -1)
        return (coords[:, : self.n] * weights).sum(-1)

    # -- exact enumeration ------------------------------------------------------------------------------
    def cells(self) -> torch.Tensor:
        """All H^n cells as coordinates `(H^n, n)`, in flat-index order."""
        if "cells" not in self._cache:
            grids = torch.meshgrid(*[torch.arange(self.H)] * self.n, indexing="ij")
            self._cache["cells"] = torch.stack([g.reshape(-1) for g in grids], dim=-1)
        return self._cache["cells"]

    def reachable(self) -> torch.Tensor:
        """`(H^n,)` bool: cells that some trajectory ends in (s0, or with a non-terminal parent)."""
        if "reachable" not in self._cache:
            cells = self.cells()
            states = torch.cat([cells, torch.zeros(len(cells), 1, dtype=torch.long)], dim=1)
            has_parent = self.parents(states)[2].any(-1)
            self._cache["reachable"] = has_parent | (cells.sum(-1) == 0)
        return self._cache["reachable"]

    def interior(self) -> torch.Tensor:
        """`(H^n,)` bool: non-terminal cells, where a policy acts (with forced termination: all k_i < H-1)."""
        if not self.forced_termination:
            return torch.ones(self.H**self.n, dtype=torch.bool)
        return self.cells().max(-1).values < self.H - 1

    def rewards(self) -> torch.Tensor:
        """R of every cell `(H^n,)` float64 (unreachable cells included)."""
        return self.reward_of_cells(self.cells())

    def log_Z(self) -> float:
        """log of the exact partition function Z = Σ_{reachable x} R(x)."""
        return float(self.rewards()[self.reachable()].sum().log())

    def true_distribution(self) -> torch.Tensor:
        """p(x) = R(x)/Z over reachable cells, 0 elsewhere, `(H^n,)` float64 (seed004 §S4.3)."""
        r = self.rewards() * self.reachable()
        return r / r.sum()

    def mode_mask(self) -> torch.Tensor:
        """`(H^n,)` bool: the mode cells, where every 0.6 < |x_i| < 0.8 (seed004 §S4.3): 2^n of them when one
        coordinate value per side falls in the band (H = 8), more for larger H (4^n at H = 18)."""
        return self._bands(self.cells())[1] & self.reachable()
