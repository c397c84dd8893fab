"""The replay buffer of an ε-expert with trajectory indices and Monte-Carlo returns (seed004 §S2.6b, §S2.3).

Shared by `replab.envs.cartpole_expert` and `replab.envs.minatar_expert`: the episode loop, the tail rule
(logged in docs/bootstrapping.md: the return of a stored step is computed on the rollout continued `tail`
steps beyond the `horizon` stored steps of an episode, instead of being cut at a limit the state does not
show; a stored trajectory that did not terminate ends in a bootstrap state), the next-action rule and the
dtypes of the fields.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

FIELDS = ("obs", "action", "reward", "next_obs", "next_action", "terminal", "last", "traj", "pos", "returns")
"""The buffer's fields, one row per stored transition (see `collect`)."""


def check(n: int, epsilon: float, gamma: float, horizon: int, tail: int) -> None:
    """One-line errors for the arguments of `collect`."""
    if n < 1:
        raise ValueError(f"n must be >= 1 transitions, got {n}")
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must be in (0, 1], got {gamma}")
    if horizon < 1 or tail < 0:
        raise ValueError(f"horizon must be >= 1 and tail >= 0, got {horizon} and {tail}")


def collect(
    make_env: Callable,
    rng: np.random.Generator,
    expert_action: Callable[[np.ndarray], int],
    n_actions: int,
    n: int,
    *,
    epsilon: float,
    gamma: float,
    horizon: int,
    tail: int,
) -> dict[str, np.ndarray]:
    """`n` transitions of the ε-expert on the env `make_env()` makes (and this closes), whole episodes until
    `n` are stored (the last one cut at `n`): with probability ε a uniform action of the `n_actions`, else
    `expert_action(obs)` (§S2.3, §S2.6b); each episode's reset seed is drawn from `rng`, then its ε and
    random-action draws.

    Returns numpy arrays, one row per transition t: `obs` and `next_obs` float32, `action`, `reward`
    float32, `next_action` (the action logged at next_obs: the behaviour's, from the continued rollout when
    the stored trajectory ends without terminating; 0 after a terminal), `terminal` (the episode ended at
    this step: no bootstrap), `last` (the last stored step of its trajectory), `traj` (trajectory id), `pos`
    (index within its trajectory), `returns` float32 (Σ_j γ^j r_{t+j} over the rollout, continued `tail`
    steps beyond `horizon` when it had not terminated)."""
    check(n, epsilon, gamma, horizon, tail)

    def act(obs: np.ndarray) -> int:
        return int(rng.integers(n_actions)) if rng.random() < epsilon else int(expert_action(obs))

    env = make_env()
    try:
        return _rollouts(env, rng, act, n, gamma, horizon, tail)
    finally:
        env.close()


def _rollouts(env, rng, act, n: int, gamma: float, horizon: int, tail: int) -> dict[str, np.ndarray]:
    cols: dict[str, list] = {k: [] for k in FIELDS}
    episode = 0
    while len(cols["obs"]) < n:
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        steps: list[tuple] = []  # (obs, action, reward, next_obs, terminated)
        action = act(obs)
        for _ in range(horizon + tail):
            nxt, reward, terminated, _, _ = env.step(int(action))
            steps.append((obs, action, float(reward), nxt, terminated))
            obs = nxt
            if terminated:
                break
            action = act(obs)
        ret = discounted_returns(np.array([s[2] for s in steps]), gamma)
        kept = min(len(steps), horizon, n - len(cols["obs"]))
        for t in range(kept):
            o, a, r, o2, term = steps[t]
            cols["obs"].append(o)
            cols["action"].append(a)
            cols["reward"].append(r)
            cols["next_obs"].append(o2)
            cols["next_action"].append(steps[t + 1][1] if t + 1 < len(steps) else (0 if term else action))
            cols["terminal"].append(term)
            cols["last"].append(t == kept - 1)
            cols["traj"].append(episode)
            cols["pos"].append(t)
            cols["returns"].append(ret[t])
        episode += 1
    out = {k: np.asarray(v) for k, v in cols.items()}
    for k in ("obs", "next_obs", "reward", "returns"):
        out[k] = out[k].astype(np.float32)
    for k in ("action", "next_action", "traj", "pos"):
        out[k] = out[k].astype(np.int64)
    return out


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """G_t = r_t + γ G_{t+1} backwards over one rollout (float64), G after its last step 0."""
    ret = np.zeros(len(rewards))
    acc = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        ret[t] = acc
    return ret
