"""One reproducible evaluation of an agent: a function of its network and one seed only.

Each evaluation builds a fresh environment instance and draws its environment seed and its ε-greedy
generator from its own `seed`, so two evaluations of an unchanged network with the same seed return the
same scores, whatever ran in between.

Why a fresh instance (issue 19): MinAtar's `Environment` keeps its sticky-action memory `last_action`
across `reset()`, a seeded reset included, so on one shared instance the first step of an evaluation
repeats (with probability `sticky_action_prob`) the action the previous evaluation ended on. In the
5-seed `plasticity-injection` run this made space_invaders/baseline/s4 return 7.5 just before T and
7.75 just after, with no intervention (the eval instance held `last_action` 4 before and 5 after;
with either value fixed both evaluations agree). Why one generator per evaluation: a generator shared
by successive evaluations gives each one ε-noise that depends on how many draws the earlier ones took
(episode lengths differ between conditions), so the conditions of a seed would not share their
evaluation noise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from replab import seeding
from replab.rl.evaluate import evaluate, random_policy_scores


def seeded_evaluation(agent, make_env: Callable, episodes: int, *, epsilon: float, seed: int) -> list[float]:
    """Scores of `episodes` episodes of `agent` (greedy, ε-greedy noise `epsilon`) on a fresh
    `make_env()`, the environment seeded and the ε generator drawn from `seed` alone."""
    env = make_env()
    try:
        return evaluate(
            agent,
            env,
            episodes,
            epsilon=epsilon,
            rng=np.random.default_rng(seeding.derive_seed(seed, "epsilon")),
            seed=seeding.derive_seed(seed, "env") % 2**31,
        )
    finally:
        env.close()


def seeded_random_scores(make_env: Callable, episodes: int, seed: int) -> list[float]:
    """Scores of a uniform random policy with the same protocol (fresh environment, seeds from `seed`)."""
    env = make_env()
    try:
        return random_policy_scores(env, episodes, seeding.derive_seed(seed, "random") % 2**31)
    finally:
        env.close()


def curve_evaluator(make_env: Callable, episodes: int, epsilon: float, seed: int) -> Callable:
    """`evaluate_fn(agent)` for `rl.loop.train`'s learning curve: its k-th call is `seeded_evaluation` with
    seed `derive_seed(seed, f"eval/{k}")`, the same in every condition that shares `seed`."""
    calls = 0

    def evaluate_fn(agent) -> list[float]:
        nonlocal calls
        calls += 1
        return seeded_evaluation(agent, make_env, episodes, epsilon=epsilon,
                                 seed=seeding.derive_seed(seed, f"eval/{calls}"))  # fmt: skip

    return evaluate_fn
