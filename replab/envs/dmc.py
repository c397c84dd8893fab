"""`make("dmc:<domain>-<task>")`: DeepMind Control Suite from pixels, the CURL protocol (extra `dmc`).

Render `size`×`size` (100, cropped to 84 by the agent's augmentation), camera 0 (2 for quadruped, as CURL),
RGB uint8 `(3, H, W)` frames stacked `frame_stack` (3) deep, action repeat per task from CURL Table 3.3
(8 cartpole-swingup; 2 finger-spin and walker-walk; 4 otherwise). Only the last physics step of an action
repeat is rendered (the observation the agent sees; the reference wrapper does the same). Episodes end only
by the suite's time limit (1000 env steps, or `episode_steps`): `truncated=True`, never `terminated`, so
agents bootstrap through it (§2.8). `info["state"]` is the suite's flattened proprioceptive observation;
`obs_type="state"` makes it the observation (State SAC; nothing is rendered, no frame stack).

Rendering backend: `gl=` (or the `MUJOCO_GL` environment variable when `gl` is None) is one of egl, osmesa,
glfw; it is set before dm_control is imported. When no backend renders, a `ReplabError` says which were
tried and how to choose one; `render_problem(gl)` checks in a subprocess and returns the reason (or None).
Nothing is hard-coded.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np

from replab.envs.wrappers import FrameStack
from replab.errors import ReplabError, require_extra

ACTION_REPEAT = {"cartpole-swingup": 8, "finger-spin": 2, "walker-walk": 2}  # CURL Table 3.3; others 4
GL_BACKENDS = ("egl", "osmesa", "glfw")
OBS_TYPES = ("pixels", "state")
_CONTROL_DT: dict[tuple[str, str], float] = {}


class DMCEnv(gym.Env):
    """One dm_control task as a gymnasium env: pixel observations (3, size, size) uint8 or states (D,).

    One `step` = `action_repeat` physics steps with the same action (rewards summed; `info["frames"]`
    counts them), so `action_repeat` env steps per agent step.
    """

    def __init__(
        self,
        domain: str,
        task: str,
        *,
        size: int = 100,
        camera: int | None = None,
        action_repeat: int = 1,
        obs_type: str = "pixels",
        episode_steps: int | None = None,
    ):
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}")
        if size < 8 or action_repeat < 1:
            raise ValueError(f"need size >= 8 and action_repeat >= 1, got {size}, {action_repeat}")
        if episode_steps is not None and episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1 or None, got {episode_steps}")
        try:
            self._suite = require_extra("dm_control.suite", "dmc")
        except ImportError as exc:
            if importlib.util.find_spec("dm_control") is None:
                raise
            raise _gl_error(exc.__cause__ or exc) from exc  # installed: its renderer failed to import
        except Exception as exc:  # a GL backend that fails while dm_control imports its renderer
            raise _gl_error(exc) from exc
        self.domain, self.task, self.size, self.obs_type = domain, task, size, obs_type
        self.camera = camera if camera is not None else (2 if domain == "quadruped" else 0)
        self.repeat, self.episode_steps = action_repeat, episode_steps
        self._env = self._load(None)
        spec = self._env.action_spec()
        low, high = spec.minimum.astype(np.float32), spec.maximum.astype(np.float32)
        self.action_space = gym.spaces.Box(low, high, spec.shape, np.float32)
        if obs_type == "pixels":
            self.observation_space = gym.spaces.Box(0, 255, (3, size, size), np.uint8)
        else:
            dim = self._state(self._env.reset()).shape[0]
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float32)

    @property
    def action_repeat(self) -> int:
        return self.repeat

    def _load(self, seed):
        kw = {"random": seed}
        if self.episode_steps is not None:  # the suite's time limit is in seconds of simulated time
            key = (self.domain, self.task)
            if key not in _CONTROL_DT:
                _CONTROL_DT[key] = self._suite.load(self.domain, self.task).control_timestep()
            kw["time_limit"] = self.episode_steps * _CONTROL_DT[key]
        try:
            return self._suite.load(self.domain, self.task, task_kwargs=kw)
        except ValueError as exc:
            raise ReplabError(f"unknown dm_control task {self.domain}-{self.task}: {exc}") from exc

    def _render(self) -> np.ndarray:
        try:
            img = self._env.physics.render(self.size, self.size, camera_id=self.camera)
        except Exception as exc:  # most GL backends fail only when rendering
            raise _gl_error(exc) from exc
        return np.ascontiguousarray(img.transpose(2, 0, 1))

    def _obs(self, ts) -> np.ndarray:
        return self._render() if self.obs_type == "pixels" else self._state(ts)

    def _state(self, ts) -> np.ndarray:
        return np.concatenate([np.asarray(v, np.float32).reshape(-1) for v in ts.observation.values()])

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None:  # reseed the task's episode initialisation, as suite.load(random=seed) does
            self._env.task._random = np.random.RandomState(seed)
        ts = self._env.reset()
        return self._obs(ts), {"state": self._state(ts), "frames": 0}

    def step(self, action):
        a, total, frames = np.asarray(action, np.float32), 0.0, 0
        for _ in range(self.repeat):
            ts = self._env.step(a)
            total += float(ts.reward or 0.0)
            frames += 1
            if ts.last():
                break
        info = {"state": self._state(ts), "frames": frames}
        return self._obs(ts), total, False, bool(ts.last()), info


def _gl_error(exc: Exception) -> ReplabError:
    return ReplabError(
        f"dm_control could not render with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r} "
        f"({type(exc).__name__}: {exc}); choose a working backend with make('dmc:...', gl=...) or MUJOCO_GL, "
        f"one of {GL_BACKENDS} (headless machines: egl with a GPU or Mesa's libEGL, or osmesa)"
    )


def _set_gl(gl: str | None) -> None:
    if gl is None:
        return
    if gl not in GL_BACKENDS:
        raise ValueError(f"gl must be one of {GL_BACKENDS}, got {gl!r}")
    current = os.environ.get("MUJOCO_GL")
    if "dm_control._render" in sys.modules and current != gl:  # the backend is fixed at that import
        raise ReplabError(
            f"dm_control was already imported with MUJOCO_GL={current!r} in this process; "
            f"gl={gl!r} can only be chosen before the first dmc environment"
        )
    os.environ["MUJOCO_GL"] = gl  # must precede the dm_control import


def make_dmc(
    name: str,
    *,
    size: int = 100,
    camera: int | None = None,
    action_repeat: int | None = None,
    frame_stack: int = 3,
    obs_type: str = "pixels",
    episode_steps: int | None = None,
    gl: str | None = None,
) -> gym.Env:
    """`dmc:cartpole-swingup` etc.; see the module docstring for the protocol."""
    domain, sep, task = name.partition("-")
    if not sep or not domain or not task:
        raise ReplabError(
            f"dmc environments are named dmc:<domain>-<task> (e.g. cartpole-swingup), got {name!r}"
        )
    _set_gl(gl)
    repeat = action_repeat or ACTION_REPEAT.get(name, 4)
    env = DMCEnv(
        domain,
        task,
        size=size,
        camera=camera,
        action_repeat=repeat,
        obs_type=obs_type,
        episode_steps=episode_steps,
    )
    return FrameStack(env, frame_stack) if obs_type == "pixels" else env


def render_problem(gl: str | None = None, timeout: float = 120.0) -> str | None:
    """None when dm_control renders a frame with backend `gl` (checked in a fresh subprocess, so a GL
    crash cannot take this process down), else the reason, one line."""
    code = (
        "from replab.envs import make; "
        f"env = make('dmc:cartpole-swingup', size=16, gl={gl!r}); env.reset(seed=0)"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return f"rendering with MUJOCO_GL={gl!r} did not finish in {timeout:.0f} s"
    if done.returncode == 0:
        return None
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"the render check exited with {done.returncode}"
