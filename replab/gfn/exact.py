"""Exact sampling distribution of a policy on the hyper-grid by dynamic programming (seed004 §S4.3).

u(s0) = 1; u(s') = Σ_{parents} u(s) π(a|s) in topological order (coordinate sum); then the probability
of ending in cell x is u(x) π(stop|x) for an interior cell and the arrival probability u(x) for a
forced-terminal cell (a coordinate at H-1). Used for the exact L1 of thesis §5.3.4.
"""

from __future__ import annotations

import torch

from replab.gfn.hypergrid import HyperGrid
from replab.gfn.sampler import exploration_log_probs


def policy_table(
    env: HyperGrid, logits_fn, temperature: float = 1.0, epsilon: float = 0.0, batch: int = 8192
) -> torch.Tensor:
    """log π(a|s) `(H^n, n+1)` float64 for every cell (rows of terminal cells are meaningless).

    `logits_fn(states (B, D)) -> (B, n+1)` gives unnormalised logits (log-flows for flow matching);
    `temperature` κ multiplies them and `epsilon` mixes in the uniform policy, as in `sample_trajectories`.
    """
    cells = env.cells()
    states = torch.cat([cells, torch.zeros(len(cells), 1, dtype=torch.long)], dim=1)
    mask = env.forward_mask(states)
    mask[~mask.any(-1)] = True  # terminal cells: rows are unused, keep them finite
    out = []
    with torch.no_grad():
        for i in range(0, len(states), batch):
            logits = logits_fn(states[i : i + batch]).double()
            out.append(exploration_log_probs(logits, mask[i : i + batch], temperature, epsilon))
    return torch.cat(out)


def _levels(env: HyperGrid) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """Cells grouped by coordinate sum, and each cell's parent indices `(H^n, n)` with validity mask."""
    key = "_dp_levels"
    if key not in env._cache:
        cells = env.cells()
        strides = env.H ** torch.arange(env.n - 1, -1, -1)
        flat = env.flat_index(cells)
        parent_idx = flat[:, None] - strides[None, :]  # parent via increment of coordinate i
        interior = env.interior()
        valid = (cells > 0) & interior[parent_idx.clamp_min(0)]
        parent_idx = torch.where(valid, parent_idx, torch.zeros_like(parent_idx))
        level = cells.sum(-1)
        levels = [torch.nonzero(level == k).squeeze(1) for k in range(1, int(level.max()) + 1)]
        env._cache[key] = (levels, parent_idx, valid)
    return env._cache[key]


def sampling_distribution(env: HyperGrid, log_policy: torch.Tensor) -> torch.Tensor:
    """The exact probability `(H^n,)` float64 that the policy `log_policy (H^n, n+1)` ends in each cell."""
    if log_policy.shape != (env.H**env.n, env.n_actions):
        raise ValueError(
            f"log_policy must have shape {(env.H**env.n, env.n_actions)}, got {tuple(log_policy.shape)}"
        )
    levels, parent_idx, valid = _levels(env)
    pi = log_policy.double().exp()
    # probability of the edge parent --(increment i)--> cell, for every cell and slot i
    edge = pi[parent_idx, torch.arange(env.n)[None, :]] * valid
    u = torch.zeros(env.H**env.n, dtype=torch.float64)
    u[0] = 1.0
    for idx in levels:
        u[idx] = (u[parent_idx[idx]] * edge[idx]).sum(-1)
    interior = env.interior()
    return torch.where(interior, u * pi[:, env.n], u) * env.reachable()
