"""MinAtar (Young & Tian 2019) as gymnasium environments: `make("minatar:breakout", frame_stack=2)`.

Observations are the game's 10×10×C binary state transposed to channels-first uint8 `(C, 10, 10)`.
MinAtar's own defaults are kept (sticky actions 0.1, difficulty ramping); the full 6-action set is the
default as in the MinAtar paper, `minimal_actions=True` uses the game's minimal set. One env step is
one frame (`action_repeat = 1`, `info["frames"] = 1`).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from replab.envs.wrappers import FrameStack
from replab.errors import close_matches, require_extra

GAMES = ("asterix", "breakout", "freeway", "seaquest", "space_invaders")


class MinAtarEnv(gym.Env):
    """One MinAtar game; `max_episode_steps` truncates (not terminates) very long episodes."""

    metadata = {"render_modes": []}

    def __init__(
        self,
        game: str,
        *,
        sticky_action_prob: float = 0.1,
        difficulty_ramping: bool = True,
        minimal_actions: bool = False,
        max_episode_steps: int | None = 10_000,
    ):
        from replab.envs import EnvOptionError

        if game not in GAMES:
            raise EnvOptionError(
                f"unknown MinAtar game '{game}'{close_matches(game, GAMES)}; choose one of {', '.join(GAMES)}"
            )
        if not 0.0 <= sticky_action_prob < 1.0:
            raise ValueError(f"sticky_action_prob must be in [0, 1), got {sticky_action_prob}")
        if max_episode_steps is not None and max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1 or None, got {max_episode_steps}")
        minatar = require_extra("minatar", "minatar")
        self.game = game
        self._env = minatar.Environment(
            game, sticky_action_prob=sticky_action_prob, difficulty_ramping=difficulty_ramping
        )
        h, w, c = self._env.state_shape()
        self.observation_space = gym.spaces.Box(0, 1, (c, h, w), np.uint8)
        self._actions = list(self._env.minimal_action_set()) if minimal_actions else list(range(6))
        self.action_space = gym.spaces.Discrete(len(self._actions))
        self.max_episode_steps = max_episode_steps
        self.action_repeat = 1
        self._t = 0
        self._seeded = False

    def _obs(self) -> np.ndarray:
        return np.ascontiguousarray(self._env.state().transpose(2, 0, 1), dtype=np.uint8)

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None or not self._seeded:  # MinAtar's RandomState follows gymnasium's np_random
            self._env.seed(int(self.np_random.integers(2**31 - 1)))
            self._seeded = True
        if seed is not None:  # MinAtar keeps the sticky action across reset(); a seeded episode must not
            self._env.last_action = 0  # depend on how the previous one ended (its __init__ value)
        self._env.reset()
        self._t = 0
        return self._obs(), {"frames": 0}

    def step(self, action):
        reward, terminal = self._env.act(self._actions[int(action)])
        self._t += 1
        truncated = not terminal and self.max_episode_steps is not None and self._t >= self.max_episode_steps
        return self._obs(), float(reward), bool(terminal), bool(truncated), {"frames": 1}


def make_minatar(game: str, *, frame_stack: int = 1, **kwargs) -> gym.Env:
    """`MinAtarEnv(game, **kwargs)`, with `frame_stack` > 1 stacking frames along channels."""
    env = MinAtarEnv(game, **kwargs)
    return FrameStack(env, frame_stack) if frame_stack > 1 else env
