"""`make("dmc:<domain>-<task>")`: DeepMind Control Suite from pixels, the CURL protocol (extra `dmc`).

Render `size`×`size` (100, cropped to 84 by the agent's augmentation), camera 0 (2 for quadruped, as CURL),
RGB uint8 `(3, H, W)` frames stacked `frame_stack` (3) deep, action repeat per task from CURL Table 3.3
(8 cartpole-swingup; 2 finger-spin and walker-walk; 4 otherwise). Episodes end only by the suite's time
limit (1000 env steps): `truncated=True`, never `terminated`, so agents bootstrap through it (§2.8).
`info["state"]` is the suite's flattened proprioceptive observation.

Rendering backend: `gl=` (or the `MUJOCO_GL` environment variable when `gl` is None) is one of egl, osmesa,
glfw; it is set before dm_control is imported. When no backend renders, a `ReplabError` says which were
tried and how to choose one. Nothing is hard-coded.
"""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np

from replab.envs.wrappers import ActionRepeat, FrameStack
from replab.errors import ReplabError, require_extra

ACTION_REPEAT = {"cartpole-swingup": 8, "finger-spin": 2, "walker-walk": 2}  # CURL Table 3.3; others 4
GL_BACKENDS = ("egl", "osmesa", "glfw")


class DMCEnv(gym.Env):
    """One dm_control task as a gymnasium env with pixel observations (3, size, size) uint8."""

    def __init__(self, domain: str, task: str, *, size: int = 100, camera: int | None = None):
        self._suite = require_extra("dm_control.suite", "dmc")
        self.domain, self.task, self.size = domain, task, size
        self.camera = camera if camera is not None else (2 if domain == "quadruped" else 0)
        self._env = self._load(None)
        spec = self._env.action_spec()
        self.action_space = gym.spaces.Box(spec.minimum, spec.maximum, spec.shape, np.float32)
        self.observation_space = gym.spaces.Box(0, 255, (3, size, size), np.uint8)

    def _load(self, seed):
        try:
            return self._suite.load(self.domain, self.task, task_kwargs={"random": seed})
        except ValueError as exc:
            raise ReplabError(f"unknown dm_control task {self.domain}-{self.task}: {exc}") from exc

    def _render(self) -> np.ndarray:
        try:
            img = self._env.physics.render(self.size, self.size, camera_id=self.camera)
        except Exception as exc:  # the GL backend fails only when rendering
            raise ReplabError(
                f"dm_control could not render with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} ({exc}); "
                f"choose a working backend with make('dmc:...', gl=...) or MUJOCO_GL, one of {GL_BACKENDS} "
                "(headless machines: egl with a GPU driver, or osmesa)"
            ) from exc
        return np.ascontiguousarray(img.transpose(2, 0, 1))

    def _state(self, ts) -> np.ndarray:
        return np.concatenate([np.asarray(v, np.float32).reshape(-1) for v in ts.observation.values()])

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._env = self._load(seed)
        ts = self._env.reset()
        return self._render(), {"state": self._state(ts), "frames": 0}

    def step(self, action):
        ts = self._env.step(np.asarray(action, np.float32))
        info = {"state": self._state(ts), "frames": 1}
        return self._render(), float(ts.reward or 0.0), False, bool(ts.last()), info


def make_dmc(
    name: str,
    *,
    size: int = 100,
    camera: int | None = None,
    action_repeat: int | None = None,
    frame_stack: int = 3,
    gl: str | None = None,
) -> gym.Env:
    """`dmc:cartpole-swingup` etc.; see the module docstring for the protocol."""
    domain, sep, task = name.partition("-")
    if not sep or not domain or not task:
        raise ReplabError(
            f"dmc environments are named dmc:<domain>-<task> (e.g. cartpole-swingup), got {name!r}"
        )
    if gl is not None:
        if gl not in GL_BACKENDS:
            raise ValueError(f"gl must be one of {GL_BACKENDS}, got {gl!r}")
        os.environ["MUJOCO_GL"] = gl  # must precede the dm_control import
    env = DMCEnv(domain, task, size=size, camera=camera)
    env = ActionRepeat(env, action_repeat or ACTION_REPEAT.get(name, 4))
    return FrameStack(env, frame_stack)
