"""CARML's outer loop (seed003 §C.2.3 Algorithm 8) and its evaluation in the EgoRoom (§C.7).

`CARML` alternates the E-step (fit the task scaffold to the reservoir, `fit_scaffold`; or, with
`variant="discriminative"`, the classifier of §C.2.6) and M-step updates (sample z ~ q_φ(z) — the mixture
prior, §C.8 — run one trial per task with reward r_z, one PPO update, add the trials' last episodes to the
reservoir: the post-adaptation trajectories, §C.2.3). Whitening keys are the tasks z, and the statistics
restart at each E-step (the rewards change with q_φ; [ASSUMP]).

`direct_transfer` evaluates any meta-learner on hand-specified test tasks without parameter updates:
reward 1 / (1 + d) to the target, shared whitening statistics, success = the agent reaches distance ≤ 1 of
the target at some step of the last episode (§C.7, "reach, not final distance", §C.8).
"""

from __future__ import annotations

import numpy as np
import torch

from replab.meta.egoroom import N_OBJECTS, EgoRoomCore
from replab.meta.reservoir import Reservoir
from replab.meta.rl2 import RL2
from replab.meta.rollout import episode_view, run_trials
from replab.meta.scaffold import ConvEncoder, DiscriminativeScaffold, fit_scaffold
from replab.meta.whiten import RunningWhitener

VARIANTS = ("mixture", "discriminative")


class UniformPolicy:
    """Uniform-random actions with the meta-learner's acting interface (the floor)."""

    def __init__(self, seed: int = 0):
        self.rng, self.last = np.random.default_rng(seed), {}

    def begin_trial(self, n: int) -> None:
        self.n = n

    def act(self, step, *, explore: bool = True) -> np.ndarray:
        self.last = {"logp": torch.zeros(self.n), "value": torch.zeros(self.n)}
        return self.rng.integers(0, 3, self.n)


class CARML:
    def __init__(
        self,
        agent: RL2,
        *,
        room: str = "random",
        tasks: int = 32,
        episodes: int = 3,
        steps: int = 20,
        k: int = 8,
        reservoir: int = 500,
        rounds: int = 5,
        pca_dim: int = 16,
        lam: float = 0.99,
        window: int = 5,
        variant: str = "mixture",
        temperature: float = 3.0,
        covariance: str = "full",
        seed: int = 0,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        self.agent, self.k, self.variant, self.seed = agent, k, variant, seed
        self.episodes, self.steps, self.window = episodes, steps, window
        self.rounds, self.pca_dim, self.lam, self.covariance = rounds, pca_dim, lam, covariance
        self.core = EgoRoomCore(tasks, room, seed)
        self.rng = np.random.default_rng(seed + 1)
        self.reservoir = Reservoir(reservoir, seed + 2)
        torch.manual_seed(seed + 3)
        self.encoder = ConvEncoder(32)  # g: the scaffold's own encoder, separate from the policy's (§C.7)
        self.scaffold = DiscriminativeScaffold(self.encoder, k, temperature) if variant != "mixture" else None
        self.e_steps = 0

    def _trials(self, reward_fn, keys) -> dict:
        self.core.new_rooms()
        return run_trials(
            self.agent, self.core, reward_fn, self.whitener, keys,
            episodes=self.episodes, steps=self.steps, window=self.window,
        )  # fmt: skip

    def _keep(self, rollout: dict, z: np.ndarray) -> None:
        last = slice((self.episodes - 1) * self.steps, None)  # the post-adaptation episode
        self.reservoir.add(
            {
                "obs": rollout["obs"][last].transpose(0, 1).numpy(),
                "state": rollout["state"][last].transpose(0, 1).numpy(),
                "z": z,
            }
        )

    def fill_reservoir(self) -> None:
        """Algorithm 8 line 3: the reservoir from the randomly initialised meta-learner (no reward)."""
        self.whitener = RunningWhitener(1)
        zero = np.zeros(self.core.n, dtype=np.int64)
        while len(self.reservoir) < self.reservoir.capacity:
            z = self.rng.integers(0, self.k, self.core.n)  # labels for the discriminative variant
            self._keep(self._trials(lambda obs, r: np.zeros(len(obs)), zero), z)

    def e_step(self, tick=None) -> dict:
        """Fit the scaffold to the reservoir (Algorithm 9), or the classifier (§C.2.6)."""
        obs = self.reservoir.stacked("obs")
        seed = self.seed + 100 * self.e_steps
        if self.variant == "mixture":
            self.scaffold, stats = fit_scaffold(
                self.encoder, obs, k=self.k, rounds=self.rounds, pca_dim=self.pca_dim, lam=self.lam,
                covariance=self.covariance, seed=seed, tick=tick,
            )  # fmt: skip
        else:
            stats = self.scaffold.fit(
                obs, self.reservoir.stacked("z"), epochs=self.rounds, seed=seed, tick=tick
            )
        self.whitener = RunningWhitener(self.k)
        self.e_steps += 1
        return stats

    def sample_tasks(self, n: int) -> np.ndarray:
        """z ~ q_φ(z): the mixture prior (uniform for the discriminative variant)."""
        return self.rng.choice(self.k, n, p=self.scaffold.prior())

    def m_step_update(self, step: int) -> dict:
        """Algorithm 8 lines 7–11 for one PPO update."""
        z = self.sample_tasks(self.core.n)
        rollout = self._trials(lambda obs, r: self.scaffold.reward(obs, z), z)
        metrics = self.agent.update(rollout, step)
        self._keep(rollout, z)
        metrics["reward_raw"] = float(rollout["raw"].mean())
        return metrics

    @torch.no_grad()
    def skill_rollouts(self, per_task: int, seed: int) -> dict:
        """`per_task` trials of the meta-learner for every z (fresh training rooms): the last episode's
        states (N, T, 3) and their z (N,), for skill maps and diversity."""
        z = np.repeat(np.arange(self.k), per_task)
        core = EgoRoomCore(len(z), self.core.room, seed)
        rollout = run_trials(
            self.agent, core, lambda obs, r: self.scaffold.reward(obs, z), RunningWhitener(self.k), z,
            episodes=self.episodes, steps=self.steps, window=self.window,
        )  # fmt: skip
        states = episode_view(rollout, "state", self.episodes)[-1].transpose(0, 1).numpy()
        return {"state": states, "z": z}


def setup_test_tasks(core: EgoRoomCore, trials: int) -> np.ndarray:
    """Set up `core.n` test tasks: fixed rooms cycle through the 5 objects as targets; random rooms put a
    held-out colour on the target object (slot 0). Returns the targets."""
    if core.room == "fixed":
        core.new_rooms()
        core.target[:] = np.arange(core.n) % N_OBJECTS
    else:
        core.new_rooms(test=True)
        core.target[:] = 0
    return core.target.copy()


@torch.no_grad()
def direct_transfer(agent, room: str, trials: int, seed: int, episodes: int = 3, steps: int = 20) -> dict:
    """Success rate and per-episode return of `agent` on `trials` test tasks (seeded rooms), no updates."""
    core = EgoRoomCore(trials, room, seed)
    setup_test_tasks(core, trials)
    rollout = run_trials(
        agent, core, lambda obs, r: r, RunningWhitener(1), np.zeros(trials, dtype=np.int64),
        episodes=episodes, steps=steps, window=1,
    )  # fmt: skip
    dist = episode_view(rollout, "distance", episodes)  # (E, T, n)
    ret = episode_view(rollout, "env_reward", episodes).sum(1)  # (E, n)
    reached = (dist.min(1).values <= 1).float()  # (E, n)
    return {
        "success": float(reached[-1].mean()),
        "success_per_episode": reached.mean(1).tolist(),
        "return_per_episode": ret.mean(1).tolist(),
        "success_trials": reached[-1].tolist(),
    }


def oracle_update(
    agent: RL2, core: EgoRoomCore, whitener: RunningWhitener, step: int, episodes=3, steps=20
) -> dict:
    """One PPO update of the oracle meta-learner on the true training task distribution: reach a random object
    of a random training room (reward 1 / (1 + d)); whitening keyed by the target's colour."""
    core.new_rooms()
    core.target[:] = core.rng.integers(0, N_OBJECTS, core.n)
    keys = core.colours[np.arange(core.n), core.target]
    rollout = run_trials(agent, core, lambda obs, r: r, whitener, keys, episodes=episodes, steps=steps)
    metrics = agent.update(rollout, step)
    metrics["reward_raw"] = float(rollout["raw"].mean())
    return metrics
