"""Shared helpers: the exactly consistent flows of a hyper-grid (a known answer for every loss)."""

from __future__ import annotations

import pytest
import torch

from replab.gfn.hypergrid import HyperGrid


def consistent_log_flows(env: HyperGrid) -> torch.Tensor:
    """log F(s, a) `(H^n, n+1)` float64 satisfying the flow conditions exactly (seed004 §S4.2).

    Built backwards with the uniform backward policy: a terminal x has flow R(x), shared equally by its
    parent edges; an interior state's flow is the sum of its out-edges, shared equally by its in-edges.
    Rows of terminal cells are -inf (no actions).
    """
    n, H = env.n, env.H
    cells = env.cells()
    N = len(cells)
    strides = H ** torch.arange(n - 1, -1, -1)
    R = env.rewards()
    interior = env.interior()
    reachable = env.reachable()
    edge = torch.full((N, n + 1), float("-inf"), dtype=torch.float64)
    F = torch.zeros(N, dtype=torch.float64)  # flow through each cell node (interior) or terminal cell
    level = cells.sum(-1)
    for k in range(int(level.max()), -1, -1):
        for c in torch.nonzero(level == k).squeeze(1).tolist():
            if not reachable[c]:
                continue
            if interior[c]:
                edge[c, n] = R[c].log()  # s -> "s then stop" carries R(s)
                F[c] = edge[c].exp().sum()
            else:
                F[c] = R[c]
            parents = [(c - int(strides[i]), i) for i in range(n) if cells[c, i] > 0]
            parents = [(p, i) for p, i in parents if interior[p]]
            for p, i in parents:
                edge[p, i] = (F[c] / len(parents)).log()
    return edge


@pytest.fixture
def flows():
    """The function `consistent_log_flows`, for tests that need exactly consistent flows."""
    return consistent_log_flows
