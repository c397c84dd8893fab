"""PointMass-Pixels: a pure-numpy point mass with inertia and a goal, rendered as uint8 pixels
(seed001 §2.7 Track A; shared with RAD §3.7). No GL, deterministic given the reset seed.

Dynamics per env step (Track A):  v ← 0.9 v + 0.1 a,  p ← clip(p + 0.05 v, −1, 1),  a ∈ [−1, 1]²;
goal g ~ U[−0.8, 0.8]² and start p ~ U[−0.8, 0.8]², v = 0 at reset. Reward r = 1 − tanh(5‖p − g‖) ∈ (0, 1].
An episode is `episode_steps` env steps (1000, return in [0, 1000] as in DMC) and ends by a time limit only
(truncated, never terminated), so agents bootstrap through it (anchors §8, DMC convention).

Render (C, H, W) = (3, size, size) uint8: dark background with a faint texture fixed for the environment
(drawn once from `texture_seed`), the agent a red disk and the goal a green disk (radius 3 px at size 38,
scaled with size). `distractors=True` draws a new, brighter random colour texture each episode (the harder
variant §2.7 suggests). Because of the inertia, velocity is only visible across stacked frames.
`info["state"]` = [p, v, g] (6,) float32 for oracle agents and probes; `info["frames"]` counts env steps.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from replab.envs.wrappers import ActionRepeat, FrameStack

TASKS = ("reach",)
OBS_TYPES = ("pixels", "state")


class PointMass(gym.Env):
    """The base environment (action repeat 1, one frame). obs: (3, size, size) uint8 or (6,) float32."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(
        self,
        *,
        size: int = 38,
        obs_type: str = "pixels",
        episode_steps: int = 1000,
        distractors: bool = False,
        radius: float | None = None,
        texture_seed: int = 0,
    ):
        if size < 8:
            raise ValueError(f"size must be >= 8 pixels, got {size}")
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}")
        if episode_steps < 1:
            raise ValueError(f"episode_steps must be >= 1, got {episode_steps}")
        self.size, self.obs_type, self.episode_steps = size, obs_type, episode_steps
        self.distractors = distractors
        self.radius = radius if radius is not None else 3.0 * size / 38.0
        if self.radius <= 0:
            raise ValueError(f"radius must be > 0, got {self.radius}")
        tex = np.random.default_rng(texture_seed).random((size, size))
        self._base = (20 + 12 * tex).astype(np.uint8)[None].repeat(3, 0)  # dark, faint fixed texture
        yy, xx = np.mgrid[0:size, 0:size]
        self._yy, self._xx = yy.astype(np.float32), xx.astype(np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        if obs_type == "pixels":
            self.observation_space = gym.spaces.Box(0, 255, (3, size, size), np.uint8)
        else:
            self.observation_space = gym.spaces.Box(-np.inf, np.inf, (6,), np.float32)
        self.p = np.zeros(2)
        self.v = np.zeros(2)
        self.g = np.zeros(2)
        self._t = 0
        self._background = self._base

    def state(self) -> np.ndarray:
        """[p, v, g] (6,) float32."""
        return np.concatenate([self.p, self.v, self.g]).astype(np.float32)

    def _disk(self, img: np.ndarray, center: np.ndarray, color: tuple[int, int, int]) -> None:
        c = (center + 1.0) / 2.0 * (self.size - 1)  # [-1, 1] -> pixel coordinates (x, y)
        mask = (self._xx - c[0]) ** 2 + (self._yy - c[1]) ** 2 <= self.radius**2
        img[:, mask] = np.asarray(color, np.uint8)[:, None]

    def render(self) -> np.ndarray:
        """(3, size, size) uint8 frame of the current state."""
        img = self._background.copy()
        self._disk(img, self.g, (40, 200, 40))
        self._disk(img, self.p, (220, 40, 40))
        return img

    def _obs(self):
        return self.render() if self.obs_type == "pixels" else self.state()

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        rng = self.np_random
        self.g = rng.uniform(-0.8, 0.8, 2)
        self.p = rng.uniform(-0.8, 0.8, 2)
        self.v = np.zeros(2)
        self._t = 0
        if self.distractors:  # a random colour texture per episode, brighter than the fixed one
            self._background = rng.integers(0, 140, (3, self.size, self.size)).astype(np.uint8)
        return self._obs(), {"state": self.state(), "frames": 0}

    def step(self, action):
        a = np.clip(np.asarray(action, np.float64).reshape(2), -1.0, 1.0)
        self.v = 0.9 * self.v + 0.1 * a  # seed001 §2.7 Track A
        self.p = np.clip(self.p + 0.05 * self.v, -1.0, 1.0)
        self._t += 1
        reward = 1.0 - np.tanh(5.0 * np.linalg.norm(self.p - self.g))
        truncated = self._t >= self.episode_steps
        return self._obs(), float(reward), False, truncated, {"state": self.state(), "frames": 1}


def make_pointmass(
    task: str = "reach",
    *,
    size: int = 38,
    obs_type: str = "pixels",
    action_repeat: int = 4,
    frame_stack: int = 3,
    episode_steps: int = 1000,
    distractors: bool = False,
    radius: float | None = None,
    texture_seed: int = 0,
) -> gym.Env:
    """`make("pointmass", ...)`: PointMass with action repeat (Track A: 4) and, for pixels, a frame stack
    (Track A: 3), obs (3·frame_stack, size, size) uint8; `obs_type="state"` gives [p, v, g] unstacked."""
    if task not in TASKS:
        raise ValueError(f"unknown pointmass task {task!r}; tasks: {TASKS}")
    env: gym.Env = PointMass(
        size=size,
        obs_type=obs_type,
        episode_steps=episode_steps,
        distractors=distractors,
        radius=radius,
        texture_seed=texture_seed,
    )
    env = ActionRepeat(env, action_repeat)
    if obs_type == "pixels":
        env = FrameStack(env, frame_stack)
    return env
