"""Metropolis–Hastings over block trees, the MCMC baseline for molecules (seed004 §S5.6, optional there).

Each chain holds a block tree. A proposal picks uniformly one of the moves available, "add" (a block
action at a slot, uniformly, while fewer than `max_blocks` blocks) or "remove" (a leaf block,
uniformly, while more than one block), and is accepted with the Hastings ratio
min{1, R̂(x') q(x|x') / (R̂(x) q(x'|x))} for the target R̂ = (R/T)^β of the GFlowNet.
"""

from __future__ import annotations

import math

import torch

from replab.gfn.molecules.env import BlockMol, MolEnv, _remove_node


class BlockMCMC:
    def __init__(self, env: MolEnv, n_chains: int = 4, generator: torch.Generator | None = None):
        if n_chains < 1:
            raise ValueError(f"n_chains must be >= 1, got {n_chains}")
        self.env, self.generator = env, generator
        first = torch.randint(env.n_block_actions, (n_chains,), generator=generator)
        self.state = env.step(env.initial(n_chains), first)[:, 0].tolist()
        self.accepted = self.proposed = 0

    def _rand(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.generator))

    def _log_target(self, i: int) -> float:
        bm = self.env.state(i)
        stopped = self.env._register(BlockMol(bm.blocks, bm.bonds, True))
        return float(self.env.log_reward(torch.tensor([[stopped]]))[0])

    def _moves(self, i: int) -> tuple[list[str], list[int]]:
        bm, info = self.env.state(i), self.env.info(i)
        leaves = [n for n in range(len(bm.blocks)) if sum(n in (b[0], b[2]) for b in bm.bonds) == 1]
        moves = []
        if len(bm.blocks) < self.env.max_blocks and info["slots"]:
            moves.append("add")
        if len(bm.blocks) > 1:
            moves.append("remove")
        return moves, leaves

    def _remove(self, i: int, leaf: int) -> int:
        return self.env._register(_remove_node(self.env.state(i), leaf))

    def step(self) -> list[int]:
        """Advance every chain once; return the stopped-state ids of the molecules they are at."""
        env, out = self.env, []
        for c, x in enumerate(self.state):
            moves, leaves = self._moves(x)
            move = moves[self._rand(len(moves))]
            if move == "add":
                n_add = len(env.info(x)["slots"]) * env.n_block_actions
                y = int(env.step(torch.tensor([[x]]), torch.tensor([self._rand(n_add)]))[0, 0])
                log_q_fwd = -math.log(len(moves)) - math.log(n_add)
                back_moves, back_leaves = self._moves(y)
                hits = sum(self._remove(y, leaf) == x for leaf in back_leaves)
                log_q_back = -math.log(len(back_moves)) + math.log(max(hits, 1)) - math.log(len(back_leaves))
            else:
                y = self._remove(x, leaves[self._rand(len(leaves))])
                hits = sum(self._remove(x, leaf) == y for leaf in leaves)
                log_q_fwd = -math.log(len(moves)) + math.log(hits) - math.log(len(leaves))
                back_moves, _ = self._moves(y)
                log_q_back = -math.log(len(back_moves)) - math.log(
                    len(env.info(y)["slots"]) * env.n_block_actions
                )
            log_alpha = self._log_target(y) + log_q_back - self._log_target(x) - log_q_fwd
            u = float(torch.rand(1, generator=self.generator, dtype=torch.float64))
            self.proposed += 1
            if math.log(max(u, 1e-300)) < log_alpha:
                self.state[c] = y
                self.accepted += 1
            bm = env.state(self.state[c])
            out.append(env._register(BlockMol(bm.blocks, bm.bonds, True)))
        return out
