"""A heuristic CartPole "expert" and its replay buffer with trajectory indices (seed004 §S2.6b).

The thesis measures TD gains on a buffer D* of a pretrained Rainbow agent acting with ε = 5% (§3.2.2.4);
the reduced plan (§S2.6b) replaces it by a CartPole heuristic: push right iff θ + 0.5·θ̇ > 0, with ε = 5%
uniformly random actions. Transitions come from gymnasium's own `CartPoleEnv` (CartPole-v1 dynamics,
reward 1 per step, termination at |θ| > 12° or |x| > 2.4) with CartPole-v1's 500-step limit.

The buffer keeps, per transition, its trajectory id and position, the next logged action and the
discounted Monte-Carlo return. Our choice (logged in docs/bootstrapping.md): the 500-step time limit is
not visible in the state, so the return of a stored step is computed on the rollout continued for `tail`
further steps (γ^700 ≈ 9e-4 at γ = 0.99) instead of being cut at the limit; only the first `horizon` steps
of each episode are stored, and a stored trajectory that did not terminate ends in a bootstrap state.
"""

from __future__ import annotations

import numpy as np

from replab import seeding
from replab.envs._expert_buffer import collect as collect_buffer

HORIZON = 500
"""CartPole-v1's `max_episode_steps`."""


def expert_action(obs: np.ndarray) -> np.ndarray:
    """The heuristic (§S2.6b): 1 (push right) iff θ + 0.5·θ̇ > 0; obs = (x, ẋ, θ, θ̇), batched or not."""
    obs = np.asarray(obs)
    return (obs[..., 2] + 0.5 * obs[..., 3] > 0).astype(np.int64)


def collect(
    n: int,
    seed: int,
    *,
    epsilon: float = 0.05,
    gamma: float = 0.99,
    horizon: int = HORIZON,
    tail: int = 700,
) -> dict[str, np.ndarray]:
    """`n` transitions of the ε-expert, whole episodes until `n` are stored (the last one cut at `n`).

    Returns numpy arrays, one row per transition t: `obs` (n, 4) float32, `action`, `reward`, `next_obs`,
    `next_action` (the action logged at next_obs: the behaviour's, from the continued rollout when the
    stored trajectory ends without terminating; 0 after a terminal), `terminal` (the episode ended at this
    step: no bootstrap), `last` (the last stored step of its trajectory), `traj` (trajectory id), `pos`
    (index within its trajectory), `returns` (Σ_j γ^j r_{t+j} over the rollout, continued `tail` steps
    beyond `horizon` when it had not terminated). Everything is drawn from `seed` (the env's reset seeds
    and the ε and random-action draws)."""
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    rng = seeding.rng(seed, "cartpole-expert")
    return collect_buffer(
        CartPoleEnv, rng, expert_action, 2, n, epsilon=epsilon, gamma=gamma, horizon=horizon, tail=tail
    )
