"""Generic wrappers: frame stacking (channels concatenated, `(k·C, H, W)`) and action repeat.

Both keep the frame / env-step accounting of DESIGN §2: `action_repeat` multiplies, `info["frames"]`
sums the frames emulated by the inner steps.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class FrameStack(gym.Wrapper):
    """Stack the last `k` observations `(C, H, W)` along channels into `(k·C, H, W)`, oldest first.

    At reset the stack is the reset frame repeated `k` times (gymnasium's `FrameStackObservation`
    "reset" padding), so a stack never mixes two episodes. `FrameReplay` rebuilds exactly these stacks.
    """

    def __init__(self, env: gym.Env, k: int):
        super().__init__(env)
        if k < 1:
            raise ValueError(f"frame stack k must be >= 1, got {k}")
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 3:
            raise ValueError(f"FrameStack needs (C, H, W) Box observations, got {space}")
        self.k = k
        c, h, w = space.shape
        self.frame_channels = c
        low = np.concatenate([space.low] * k, 0)
        high = np.concatenate([space.high] * k, 0)
        self.observation_space = gym.spaces.Box(low, high, (k * c, h, w), space.dtype)
        self._stack = np.zeros((k * c, h, w), space.dtype)

    @property
    def action_repeat(self) -> int:
        return getattr(self.env, "action_repeat", 1)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self._stack[:] = np.concatenate([obs] * self.k, 0)
        return self._stack.copy(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        c = self.frame_channels
        self._stack[:-c] = self._stack[c:]
        self._stack[-c:] = obs
        return self._stack.copy(), reward, terminated, truncated, info


class ActionRepeat(gym.Wrapper):
    """Repeat each action `repeat` times, summing rewards; stops early when the episode ends."""

    def __init__(self, env: gym.Env, repeat: int):
        super().__init__(env)
        if repeat < 1:
            raise ValueError(f"action repeat must be >= 1, got {repeat}")
        self.repeat = repeat

    @property
    def action_repeat(self) -> int:
        return self.repeat * getattr(self.env, "action_repeat", 1)

    def step(self, action):
        total, frames = 0.0, 0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            frames += int(info.get("frames", 1))
            if terminated or truncated:
                break
        info = dict(info, frames=frames)
        return obs, total, terminated, truncated, info
