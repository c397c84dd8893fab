"""The evaluation protocol, separate from training: N episodes, greedy actions (noisy layers in eval
mode) with ε-greedy noise ε (0.0 for noisy Rainbow, 0.05 for DQN, Mnih et al. 2015), on an environment
built for evaluation (Atari: no life-loss terminal). The score of an episode is the environment's
`info["episode_score"]` when it reports one (Atari: the game score over all lives), else the sum of
rewards; rewards are never clipped here.
"""

from __future__ import annotations

import numpy as np


def evaluate(
    agent,
    env,
    episodes: int,
    *,
    epsilon: float = 0.0,
    rng: np.random.Generator | None = None,
    seed: int | None = None,
) -> list[float]:
    """Scores of `episodes` complete episodes of `agent` on `env` (each ends by terminal or time limit)."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    rng = rng if rng is not None else np.random.default_rng(0)
    scores = []
    obs, _ = env.reset(seed=seed)
    for _ in range(episodes):
        total, done = 0.0, False
        while not done:
            if epsilon > 0 and rng.random() < epsilon:
                action = int(rng.integers(env.action_space.n))
            else:
                action = agent.act(obs, explore=False)
            obs, reward, terminated, truncated, info = env.step(action)
            total += float(reward)
            done = terminated or truncated
        scores.append(float(info.get("episode_score", total)))
        obs, _ = env.reset()
    return scores


def random_policy_scores(env, episodes: int, seed: int) -> list[float]:
    """Scores of `episodes` episodes of a uniformly random policy on `env` (the reference a learned agent
    must beat): a uniform integer for a `Discrete` action space, a uniform draw in [low, high] for a `Box`."""
    rng, space = np.random.default_rng(seed), env.action_space

    class Uniform:
        def act(self, obs, *, explore):
            if hasattr(space, "n"):
                return int(rng.integers(space.n))
            return rng.uniform(space.low, space.high).astype(space.dtype)

    return evaluate(Uniform(), env, episodes, seed=seed)
