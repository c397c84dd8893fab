"""Trials of the RL² meta-learner in the EgoRoom (seed003 §C.2.1, §C.2.5, §C.7).

A trial is `episodes` episodes of `steps` steps in one room with one task; the pose resets each episode, the
room, the task and the meta-learner's hidden state persist. The reward of a step is the task reward of the
state reached: raw r(s_{t+1}) → temporal smoothing over a trailing window of W steps truncated at the episode
start, with the 1/W normaliser (§C.2.5) → online whitening (`RunningWhitener`, keyed per task in training,
one shared key at test). The whitened reward is the PPO reward and the next step's reward input.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from replab.meta.egoroom import EgoRoomCore
from replab.meta.rl2 import RL2, Step
from replab.meta.whiten import RunningWhitener


def run_trials(
    agent: RL2,
    core: EgoRoomCore,
    reward_fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    whitener: RunningWhitener,
    keys: np.ndarray,
    *,
    episodes: int = 3,
    steps: int = 20,
    window: int = 1,
    explore: bool = True,
) -> dict:
    """One trial for each of `core.n` tasks (rooms and targets already set). `reward_fn(next_obs, env_reward)`
    is the raw reward (n,); `keys` (n,) the whitening key of each task. Returns (T, n, ...) tensors: obs,
    prev_action, prev_reward, done, action, logp, value, reward (whitened), raw, env_reward, state (after
    the step), distance (to the target after the step), episode (index of the step's episode)."""
    if window < 1:
        raise ValueError(f"window (reward smoothing W) must be >= 1, got {window}")
    n = core.n
    agent.begin_trial(n)
    keys_t = torch.as_tensor(keys).long()
    prev_a = torch.full((n,), -1, dtype=torch.long)
    prev_r, done = torch.zeros(n), torch.zeros(n)
    out = {k: [] for k in ("obs", "prev_action", "prev_reward", "done", "action", "logp", "value")}
    out |= {k: [] for k in ("reward", "raw", "env_reward", "state", "distance", "episode")}
    for e in range(episodes):
        core.reset_pose()
        recent: list[np.ndarray] = []
        obs = core.observe()
        for t in range(steps):
            step = Step(obs, prev_a, prev_r, done)
            a = agent.act(step, explore=explore)
            env_r = core.step(a)
            obs = core.observe()
            recent = (recent + [reward_fn(obs, env_r)])[-window:]
            smooth = (
                np.sum(recent, 0) / window
            )  # §C.2.5: (1/W) Σ over the trailing window (episode-truncated)
            r = whitener(torch.as_tensor(smooth, dtype=torch.float64), keys_t).float()
            for k, v in (("obs", step.obs), ("prev_action", prev_a), ("prev_reward", prev_r), ("done", done)):
                out[k].append(torch.as_tensor(v))
            out["action"].append(torch.as_tensor(a))
            out["logp"].append(agent.last["logp"])
            out["value"].append(agent.last["value"])
            out["reward"].append(r)
            out["raw"].append(torch.as_tensor(smooth, dtype=torch.float32))
            out["env_reward"].append(torch.as_tensor(env_r, dtype=torch.float32))
            out["state"].append(torch.as_tensor(core.state()))
            out["distance"].append(torch.as_tensor(core.distance(), dtype=torch.float32))
            out["episode"].append(torch.full((n,), e))
            prev_a, prev_r = torch.as_tensor(a), r
            done = torch.full((n,), float(t == steps - 1))  # the next step starts a new episode
    return {k: torch.stack(v) for k, v in out.items()}


def episode_view(rollout: dict, key: str, episodes: int) -> torch.Tensor:
    """A (T, n, ...) field as (episodes, steps, n, ...)."""
    x = rollout[key]
    return x.reshape(episodes, len(x) // episodes, *x.shape[1:])
