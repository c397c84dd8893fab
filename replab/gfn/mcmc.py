"""Metropolis–Hastings MCMC on the hyper-grid, the thesis's MCMC baseline (seed004 §S4.2, §S4.3).

The chain may decrement coordinates so that it is ergodic, and has no stop action (thesis §5.3.1). The
proposal picks one of the 2n moves ±1 along one coordinate uniformly, clipped to the grid ([REF-CODE]),
which is symmetric, so x' is accepted with probability min{1, R(x')/R(x)} (accept when R(x')/R(x) > U).
Cells that no GFlowNet trajectory can end in (seed004 §S4.3) have zero target mass: proposals there are
rejected, so the stationary distribution is exactly p = R/Z on the reachable cells.
"""

from __future__ import annotations

import torch

from replab.gfn.hypergrid import HyperGrid


class MetropolisHastings:
    """`n_chains` parallel chains started at s0 = (0, ..., 0).

    `step()` advances every chain once and returns the cells `(n_chains,)` they are in afterwards. With
    `count_rejected=True` (the thesis's MH: x_{t+1} = x_t on rejection) every step is a visited state;
    with False only accepted moves are returned as visited, as the [REF-CODE] counts them.
    """

    def __init__(
        self,
        env: HyperGrid,
        n_chains: int = 16,
        count_rejected: bool = True,
        generator: torch.Generator | None = None,
    ):
        if n_chains < 1:
            raise ValueError(f"n_chains must be >= 1, got {n_chains}")
        self.env, self.generator, self.count_rejected = env, generator, count_rejected
        self.state = torch.zeros(n_chains, env.n, dtype=torch.long)
        self.log_r = env.rewards().log()
        self.reachable = env.reachable()
        self.accepted = 0
        self.proposed = 0

    def step(self) -> torch.Tensor:
        env, C = self.env, len(self.state)
        move = torch.randint(2 * env.n, (C,), generator=self.generator)
        dim, sign = move % env.n, 1 - 2 * (move // env.n)
        proposal = self.state.clone()
        rows = torch.arange(C)
        proposal[rows, dim] = (proposal[rows, dim] + sign).clamp(0, env.H - 1)
        cur, new = env.flat_index(self.state), env.flat_index(proposal)
        log_ratio = self.log_r[new] - self.log_r[cur]
        u = torch.rand(C, generator=self.generator, dtype=torch.float64)
        accept = (u.log() < log_ratio) & self.reachable[new]
        self.state = torch.where(accept[:, None], proposal, self.state)
        self.accepted += int(accept.sum())
        self.proposed += C
        cells = env.flat_index(self.state)
        return cells if self.count_rejected else cells[accept]

    def state_dict(self) -> dict:
        return {
            "state": self.state,
            "accepted": self.accepted,
            "proposed": self.proposed,
            "generator": None if self.generator is None else self.generator.get_state(),
        }

    def load_state_dict(self, d: dict) -> None:
        self.state, self.accepted, self.proposed = d["state"], d["accepted"], d["proposed"]
        if self.generator is not None:
            self.generator.set_state(d["generator"])
