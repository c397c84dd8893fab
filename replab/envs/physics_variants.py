"""Continual control task sequences: physics variants of gymnasium's classic continuous-control tasks for
the CPU, and Continual World (CW10/CW20) on metaworld 3.1.1 (extra `cw`) for users with the budget.

`make_physics("pendulum", gravity=15.0)`: gymnasium `Pendulum-v1` with a changed g, mass m, length l or
an inverted action sign; `"mountaincar"` (`MountainCarContinuous-v0`) with a changed engine power or goal
position. A variant is a `PhysicsTask` (name + changes); `TaskIdObservation` appends the one-hot task id to
the observation, as Continual World's multi-head setting does (seed002 §9.2). `PENDULUM4` is the reduced
sequence of seed002 §9.5 with T2's gravity lowered to 12 (g = 15 was not learnable from scratch at the
reduced budget; `PENDULUM4_G15` is §9.5's exact list): T1 default, T2 g = 12, T3 m = 1.6, T4 inverted action.

`CW10` (Wołczyk et al. 2021, CW `tasks.py`; `-v1` there, the `-v3` tasks of metaworld 3.x here, so the numbers
are not directly comparable) and `CW20 = CW10 + CW10`; `make_metaworld(name)` builds one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from replab.errors import ReplabError, close_matches, require_extra

BASES = {"pendulum": "Pendulum-v1", "mountaincar": "MountainCarContinuous-v0"}
CHANGES = {
    "pendulum": ("gravity", "mass", "length", "invert_action"),
    "mountaincar": ("power", "goal", "invert_action"),
}
CW10 = (
    "hammer-v3", "push-wall-v3", "faucet-close-v3", "push-back-v3", "stick-pull-v3", "handle-press-side-v3",
    "push-v3", "shelf-place-v3", "window-close-v3", "peg-unplug-side-v3",
)  # fmt: skip
CW20 = CW10 + CW10


@dataclass(frozen=True)
class PhysicsTask:
    """One task of a sequence: a base environment and its physical changes."""

    name: str
    base: str
    changes: dict = field(default_factory=dict)

    def make(self, **kwargs) -> gym.Env:
        return make_physics(self.base, **self.changes, **kwargs)


PENDULUM4 = (
    PhysicsTask("T1 default", "pendulum"),
    PhysicsTask("T2 g=12", "pendulum", {"gravity": 12.0}),
    PhysicsTask("T3 m=1.6", "pendulum", {"mass": 1.6}),
    PhysicsTask("T4 inverted", "pendulum", {"invert_action": True}),
)


@dataclass(frozen=True)
class MetaWorldTask:
    """One Continual World task (metaworld 3.x, extra `cw`); success is metaworld's `info["success"]`."""

    name: str

    def make(self, **kwargs) -> gym.Env:
        return make_metaworld(self.name, **kwargs)


PENDULUM4_G15 = (PENDULUM4[0], PhysicsTask("T2 g=15", "pendulum", {"gravity": 15.0}), *PENDULUM4[2:])
"""§9.5's sequence exactly: T2 with g = 15, which SAC did not learn from scratch in 15k steps here (mean return
−1140 throughout, success 0), so `PENDULUM4` uses g = 12 (learned in ≈ 5k steps, −322) [P]."""
SEQUENCES = {
    "pendulum4": PENDULUM4,
    "pendulum4_g15": PENDULUM4_G15,
    "cw10": tuple(MetaWorldTask(n) for n in CW10),
    "cw20": tuple(MetaWorldTask(n) for n in CW20),
}


class InvertAction(gym.ActionWrapper):
    """a → −a: the same dynamics with the actuator's sign flipped (seed002 §9.5 T4)."""

    def action(self, action):
        return -np.asarray(action, dtype=np.float32)


class TaskIdObservation(gym.ObservationWrapper):
    """Appends the one-hot id of task `task` among `num_tasks` to the (float32) observation (CW multi-head)."""

    def __init__(self, env: gym.Env, task: int, num_tasks: int):
        super().__init__(env)
        if not 0 <= task < num_tasks:
            raise ValueError(f"task must be in [0, {num_tasks}), got {task}")
        self.onehot = np.zeros(num_tasks, np.float32)
        self.onehot[task] = 1.0
        low = np.concatenate([env.observation_space.low.astype(np.float32), np.zeros(num_tasks, np.float32)])
        high = np.concatenate([env.observation_space.high.astype(np.float32), np.ones(num_tasks, np.float32)])
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.action_repeat = getattr(env, "action_repeat", 1)

    def observation(self, obs):
        return np.concatenate([np.asarray(obs, np.float32), self.onehot])


def make_physics(base: str, *, max_episode_steps: int | None = None, **changes) -> gym.Env:
    """A gymnasium classic-control task with changed physics (see `CHANGES[base]` for what can change)."""
    from replab.envs import EnvOptionError

    if base not in BASES:
        raise EnvOptionError(
            f"unknown physics base '{base}'{close_matches(base, BASES)}; choose one of {list(BASES)}"
        )
    bad = [k for k in changes if k not in CHANGES[base]]
    if bad:
        raise EnvOptionError(f"{base} cannot change {bad}; it can change {list(CHANGES[base])}")
    for k, v in changes.items():
        if k != "invert_action" and not (isinstance(v, int | float) and v > 0):
            raise ValueError(f"{k} must be a positive number, got {v!r}")
    kw = {"max_episode_steps": max_episode_steps} if max_episode_steps else {}
    if base == "pendulum":
        env = gym.make(BASES[base], g=float(changes.get("gravity", 10.0)), **kw)
        u = env.unwrapped
        u.m = float(changes.get("mass", u.m))  # Pendulum-v1 reads m and l at every step
        u.l = float(changes.get("length", u.l))
    else:
        env = gym.make(BASES[base], **kw)
        u = env.unwrapped
        u.power = float(changes.get("power", u.power))  # read at every step (engine force · power)
        if "goal" in changes:
            if not u.min_position < changes["goal"] <= u.max_position:
                raise ValueError(
                    f"goal must be in ({u.min_position}, {u.max_position}], got {changes['goal']}"
                )
            u.goal_position = float(changes["goal"])
    if changes.get("invert_action"):
        env = InvertAction(env)
    env.action_repeat = 1
    return env


def sequence(name: str) -> tuple[PhysicsTask, ...]:
    if name not in SEQUENCES:
        raise ReplabError(
            f"unknown task sequence '{name}'{close_matches(name, SEQUENCES)}; choose one of {list(SEQUENCES)}"
        )
    return SEQUENCES[name]


def make_task(tasks, index: int, **kwargs) -> gym.Env:
    """Task `index` of the sequence `tasks` with its one-hot id appended (CW multi-head observations)."""
    return TaskIdObservation(tasks[index].make(**kwargs), index, len(tasks))


def make_metaworld(name: str, *, seed: int = 0, max_episode_steps: int = 500) -> gym.Env:
    """One Continual World task on metaworld 3.x (extra `cw`): the MT1 environment of `name` ("hammer-v3")
    with its goals randomised per reset, 500-step episodes as in CW. Not run by the default tests."""
    from replab.envs import EnvOptionError

    if name not in CW10:
        raise EnvOptionError(
            f"unknown Continual World task '{name}'{close_matches(name, CW10)}; CW10 is {list(CW10)}"
        )
    require_extra("metaworld", "cw")
    env = gym.make("Meta-World/MT1", env_name=name, seed=seed, max_episode_steps=max_episode_steps)
    env.action_repeat = 1
    return env
