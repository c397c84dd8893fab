"""Best-return exploration (ClonEx-SAC step 3, seed002 §9): at the start of a task, evaluate every earlier
task head on the new task's environment and copy the best one into the new head."""

from __future__ import annotations

import torch


def head_returns(agent, env, heads: list[int], episodes: int, *, seed: int) -> dict[int, float]:
    """Mean return of `episodes` stochastic episodes (CW `num_test_eps_stochastic`) of each head on `env`,
    every head from the same reset seeds."""
    if episodes < 1 or not heads:
        raise ValueError(f"need episodes >= 1 and at least one head, got {episodes}, {heads}")
    out = {}
    for h in heads:
        with torch.random.fork_rng(
            devices=[]
        ):  # the same action noise for every head; training's RNG untouched
            torch.manual_seed(seed)
            total = 0.0
            for e in range(episodes):
                obs, _ = env.reset(seed=seed + e)
                done = False
                while not done:
                    obs, r, term, trunc, _ = env.step(agent.act(obs, explore=True, head=h))
                    total += float(r)
                    done = term or trunc
        out[h] = total / episodes
    return out


def best_return_head(agent, env, task: int, episodes: int, *, seed: int) -> tuple[int, dict[int, float]]:
    """Best-return exploration (ClonEx step 3): evaluate heads 0 … task − 1 on the new task's `env` and copy
    the best one into head `task`. Returns (the best head, every head's mean return)."""
    if task < 1:
        raise ValueError(f"best-return exploration needs an earlier head: task must be >= 1, got {task}")
    returns = head_returns(agent, env, list(range(task)), episodes, seed=seed)
    best = max(returns, key=lambda h: (returns[h], -h))  # ties: the earliest head
    agent.copy_head(best, task)
    return best, returns
