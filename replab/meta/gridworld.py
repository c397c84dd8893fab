"""The square gridworld of the selectivity experiments (seed004 §S6.3, §S6.6), batch-vectorised in torch.

A 12×12 binary image with a 2×2 square at (x, y) ∈ {0..10}² (121 positions); 4 deterministic moves (up,
down, left, right) clipped at the borders. The stochastic version (§S6.3): with probability p the action is
replaced — half the time by no move (s′ = s), half the time by a uniformly random move.
"""

from __future__ import annotations

import torch

GRID = 12
SQUARE = 2
POSITIONS = GRID - SQUARE + 1  # 11 per axis
MOVES = torch.tensor([[0, -1], [0, 1], [-1, 0], [1, 0]])  # (dx, dy) of up, down, left, right
ACTION_NAMES = ("up", "down", "left", "right")


def render(xy: torch.Tensor) -> torch.Tensor:
    """Images (n, 1, 12, 12) float of the squares with top-left corners `xy` (n, 2) = (x, y)."""
    r = torch.arange(GRID)
    x, y = xy[:, 0, None], xy[:, 1, None]
    cols = (r >= x) & (r < x + SQUARE)
    rows = (r >= y) & (r < y + SQUARE)
    return (rows[:, :, None] & cols[:, None, :]).float()[:, None]


def sample_positions(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """`n` uniformly random square positions (n, 2)."""
    return torch.randint(0, POSITIONS, (n, 2), generator=generator)


def all_positions() -> torch.Tensor:
    """All 121 positions (121, 2), x fastest."""
    y, x = torch.meshgrid(torch.arange(POSITIONS), torch.arange(POSITIONS), indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], 1)


def step(xy: torch.Tensor, actions: torch.Tensor, p: float = 0.0, generator=None) -> torch.Tensor:
    """The next positions after `actions` (n,) in {0..3}; with probability `p` the action is replaced by
    no move or a random move (equally likely)."""
    if not 0 <= p <= 1:
        raise ValueError(f"p (action noise) must be in [0, 1], got {p}")
    a = actions.clone()
    delta = MOVES[a]
    if p > 0:
        noisy = torch.rand(len(a), generator=generator) < p
        stay = noisy & (torch.rand(len(a), generator=generator) < 0.5)
        rand_a = torch.randint(0, 4, (len(a),), generator=generator)
        delta = torch.where((noisy & ~stay)[:, None], MOVES[rand_a], delta)
        delta = torch.where(stay[:, None], torch.zeros_like(delta), delta)
    return (xy + delta).clamp(0, POSITIONS - 1)
