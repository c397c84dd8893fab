"""EgoRoom: the egocentric pixel room of CARML's reduced reproduction (seed003 §C.7), the ViZDoom analogue.

A 9×9 grid whose border is walls (7×7 free) with 5 coloured objects on non-passable cells. The agent has a
pose (x, y, dir ∈ {N, E, S, W}), starts at the top centre facing down and turns left, turns right or moves
forward (ViZDoom's 3 actions, §C.3). It sees an egocentric top-down crop 5 cells wide × 5 deep (its own row
at the bottom centre), 3×3 px per cell: a 15×15 RGB image, channel-first uint8 (3, 15, 15) as PyTorch's
convolutions read it (walls dark, floor grey, objects coloured).

Rooms are "fixed" (one layout and palette, in training and at test) or "random" (5 positions and 5 colours
per room; training rooms use the first `N_TRAIN_COLOURS` palette colours and every test target has a held-out
colour, §C.3 "target objects held out from meta-training"). A room persists for a trial of several episodes;
only the pose is reset between episodes (§C.7).

`EgoRoomCore` is the batch-vectorised numpy core; `EgoRoomVectorEnv` is its gymnasium `VectorEnv`
(same-step autoreset, a new room after each trial); `EgoRoomEnv` is one copy as a gymnasium `Env` (for
`SyncVectorEnv`, the benchmark's baseline). A test task's reward is 1 / (1 + d) with d the Manhattan distance
to the target object (§C.7); no target (−1) gives a reward-free CMP.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv

SIZE = 9
N_OBJECTS = 5
VIEW = 5
CELL_PX = 3
OBS_SHAPE = (3, VIEW * CELL_PX, VIEW * CELL_PX)  # channel-first
ACTIONS = ("turn_left", "turn_right", "forward")
DIRS = np.array([[0, -1], [1, 0], [0, 1], [-1, 0]])  # (dx, dy) of N, E, S, W; y grows downwards
START = (4, 1, 2)  # top centre, facing down (south)
FLOOR, WALL = 0, 1  # cell codes; objects are 2 + slot
PALETTE = np.array(
    [
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
        [170, 110, 40],
        [255, 250, 200],
    ],
    dtype=np.uint8,
)
"""10 colours (§C.7 "a palette of 10"); the last `10 - N_TRAIN_COLOURS` are held out for test targets."""
N_TRAIN_COLOURS = 7
FLOOR_RGB, WALL_RGB = (128, 128, 128), (30, 30, 30)
FIXED_CELLS = np.array([[2, 3], [6, 3], [2, 6], [6, 6], [4, 5]])  # (x, y) of the fixed room's objects
ROOMS = ("fixed", "random")


def sample_cells(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` rooms' object cells (n, 5, 2): distinct interior cells, none on or beside the start, pairwise
    Chebyshev distance ≥ 2 (ViZDoom's "minimum distance between objects"; it keeps every free cell
    reachable). Rejection sampling, vectorised over candidate layouts."""
    out = np.empty((n, N_OBJECTS, 2), dtype=np.int64)
    todo = np.arange(n)
    while len(todo):
        m = 8 * len(todo)  # candidates: about a third of the draws are valid
        pick = _FREE[rng.random((m, len(_FREE))).argsort(1)[:, :N_OBJECTS]]  # (m, 5, 2), distinct cells
        d = np.abs(pick[:, :, None] - pick[:, None]).max(-1) + 2 * np.eye(N_OBJECTS, dtype=np.int64)
        ok = np.flatnonzero(d.min((1, 2)) >= 2)[: len(todo)]
        out[todo[: len(ok)]] = pick[ok]
        todo = todo[len(ok) :]
    return out


_FREE = np.array(
    [(x, y) for y in range(1, SIZE - 1) for x in range(1, SIZE - 1) if abs(x - START[0]) + y - 1 > 1]
)
PAD = VIEW - 1  # wall padding around the grid, so every view cell indexes inside the padded grid
_DEPTH = np.arange(VIEW - 1, -1, -1)[:, None, None]  # image rows: far → near
_LATERAL = np.arange(VIEW)[None, :, None] - VIEW // 2
VIEW_OFFSETS = np.stack([_DEPTH * DIRS[d] + _LATERAL * DIRS[(d + 1) % 4] for d in range(4)])  # (4, 5, 5, 2)
_WIDTH = SIZE + 2 * PAD
FLAT_OFFSETS = (VIEW_OFFSETS[..., 1] * _WIDTH + VIEW_OFFSETS[..., 0]).reshape(4, VIEW * VIEW)
"""Per direction, the flat offsets in the padded grid of the 5×5 view cells (row-major, far → near)."""
PIXEL_CELL = (
    np.arange(VIEW * CELL_PX)[:, None] // CELL_PX * VIEW + np.arange(VIEW * CELL_PX)[None] // CELL_PX
).ravel()
"""The view cell of each of the 15×15 pixels."""


class EgoRoomCore:
    """`n` rooms stepped together in numpy; all arrays have the batch first."""

    def __init__(self, n: int, room: str = "random", seed: int = 0):
        if room not in ROOMS:
            raise ValueError(f"room must be one of {ROOMS}, got {room!r}")
        if n < 1:
            raise ValueError(f"n (parallel rooms) must be >= 1, got {n}")
        self.n, self.room = n, room
        self.rng = np.random.default_rng(seed)
        self.grid = np.zeros((n, SIZE, SIZE), dtype=np.int64)
        self.padded = np.zeros((n, (SIZE + 2 * PAD) ** 2), dtype=np.int64)  # flat, walls around
        self._room_offset = np.arange(n) * (SIZE + 2 * PAD) ** 2
        self._lut_offset = np.arange(n)[:, None] * (2 + N_OBJECTS)
        self.cells = np.zeros((n, N_OBJECTS, 2), dtype=np.int64)
        self.colours = np.zeros((n, N_OBJECTS), dtype=np.int64)
        self.lut = np.zeros((n, 2 + N_OBJECTS, 3), dtype=np.uint8)
        self.pos = np.zeros((n, 2), dtype=np.int64)
        self.dir = np.zeros(n, dtype=np.int64)
        self.target = np.full(n, -1, dtype=np.int64)
        self.new_rooms()
        self.reset_pose()

    def new_rooms(self, idx=None, *, test: bool = False) -> None:
        """Draw new rooms for the copies `idx` (None: all), without targets. `test`: random rooms whose slot
        0 object has a held-out colour (the test target; its position is random like the others')."""
        idx = np.arange(self.n) if idx is None else np.asarray(idx)
        m = len(idx)
        if self.room == "fixed":
            cells = np.broadcast_to(FIXED_CELLS, (m, N_OBJECTS, 2)).copy()
            colours = np.broadcast_to(np.arange(N_OBJECTS), (m, N_OBJECTS)).copy()
        else:
            cells = sample_cells(self.rng, m)
            colours = np.stack([self.rng.permutation(N_TRAIN_COLOURS)[:N_OBJECTS] for _ in range(m)])
            if test:
                colours[:, 0] = self.rng.integers(N_TRAIN_COLOURS, len(PALETTE), m)
        self.cells[idx], self.colours[idx], self.target[idx] = cells, colours, -1
        grid = np.zeros((m, SIZE, SIZE), dtype=np.int64)
        grid[:, [0, -1], :] = WALL
        grid[:, :, [0, -1]] = WALL
        rows = np.arange(m)[:, None]
        grid[rows, cells[..., 1], cells[..., 0]] = 2 + np.arange(N_OBJECTS)
        self.grid[idx] = grid
        self.padded[idx] = np.pad(grid, ((0, 0), (PAD, PAD), (PAD, PAD)), constant_values=WALL).reshape(m, -1)
        self.lut[idx, FLOOR], self.lut[idx, WALL] = FLOOR_RGB, WALL_RGB
        self.lut[idx, 2:] = PALETTE[colours]
        self._lut_planes = np.ascontiguousarray(self.lut.reshape(-1, 3).T)  # (3, n·7): one row per channel

    def reset_pose(self, idx=None) -> None:
        idx = slice(None) if idx is None else idx
        self.pos[idx] = START[:2]
        self.dir[idx] = START[2]

    def distance(self) -> np.ndarray:
        """Manhattan distance from the agent's cell to its target object's cell (inf without a target)."""
        t = np.maximum(self.target, 0)
        d = np.abs(self.cells[np.arange(self.n), t] - self.pos).sum(-1).astype(np.float64)
        return np.where(self.target >= 0, d, np.inf)

    def step(self, actions: np.ndarray) -> np.ndarray:
        """Apply one action per copy; return the task reward 1 / (1 + d) (0 without a target)."""
        a = np.asarray(actions)
        self.dir = np.where(a == 0, (self.dir + 3) % 4, np.where(a == 1, (self.dir + 1) % 4, self.dir))
        ahead = self.pos + DIRS[self.dir]
        free = self.grid[np.arange(self.n), ahead[:, 1], ahead[:, 0]] == FLOOR
        move = (a == 2) & free
        self.pos = np.where(move[:, None], ahead, self.pos)
        return 1.0 / (1.0 + self.distance())

    def observe(self) -> np.ndarray:
        """The egocentric views (n, 3, 15, 15) uint8: image row 0 is the farthest row ahead. Gathers: the 25
        cells' codes from the padded grids, each pixel's cell, each code's colour one channel at a time."""
        here = (self.pos[:, 1] + PAD) * _WIDTH + self.pos[:, 0] + PAD + self._room_offset
        codes = np.take(self.padded, here[:, None] + FLAT_OFFSETS[self.dir])  # (n, 25); np.take: fast gathers
        colour = (np.take(codes, PIXEL_CELL, axis=1) + self._lut_offset).ravel()  # (n·225,)
        planes = np.take(self._lut_planes, colour, axis=1).reshape(
            3, self.n, *OBS_SHAPE[1:]
        )  # (3, n, 15, 15)
        return planes.transpose(1, 0, 2, 3).copy()

    def state(self) -> np.ndarray:
        """The true state (x, y, dir) per copy (n, 3), for skill maps."""
        return np.concatenate([self.pos, self.dir[:, None]], 1)


class EgoRoomVectorEnv(VectorEnv):
    """`num_envs` EgoRoom copies as a gymnasium `VectorEnv` (same-step autoreset). An episode is truncated
    after `episode_steps`; after `episodes_per_trial` episodes the copy gets a new room (random rooms)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int,
        room: str = "random",
        episode_steps: int = 20,
        episodes_per_trial: int = 3,
        seed: int = 0,
    ):
        if episode_steps < 1 or episodes_per_trial < 1:
            raise ValueError(
                f"episode_steps and episodes_per_trial must be >= 1, got {episode_steps}, {episodes_per_trial}"
            )
        self.num_envs, self.episode_steps, self.episodes_per_trial = (
            num_envs,
            episode_steps,
            episodes_per_trial,
        )
        self.core = EgoRoomCore(num_envs, room, seed)
        self.single_observation_space = gym.spaces.Box(0, 255, OBS_SHAPE, np.uint8)
        self.single_action_space = gym.spaces.Discrete(len(ACTIONS))
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.t = np.zeros(num_envs, dtype=np.int64)
        self.episode = np.zeros(num_envs, dtype=np.int64)

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.core.rng = np.random.default_rng(seed)
        self.core.new_rooms(test=bool((options or {}).get("test", False)))
        self.core.reset_pose()
        self.t[:], self.episode[:] = 0, 0
        return self.core.observe(), {"state": self.core.state()}

    def step(self, actions):
        reward = self.core.step(actions)
        self.t += 1
        truncated = self.t >= self.episode_steps
        info = {"state": self.core.state()}
        if truncated.any():
            info["final_obs"] = self.core.observe()
            done = np.flatnonzero(truncated)
            self.t[done] = 0
            self.episode[done] += 1
            trial_over = done[self.episode[done] >= self.episodes_per_trial]
            if len(trial_over):
                self.episode[trial_over] = 0
                self.core.new_rooms(trial_over)
            self.core.reset_pose(done)
        terminated = np.zeros(self.num_envs, dtype=bool)
        return self.core.observe(), reward, terminated, truncated, info


class EgoRoomEnv(gym.Env):
    """One EgoRoom copy as a gymnasium `Env` (the same core with a batch of 1): the one-at-a-time baseline.
    `reset()` starts an episode; every `episodes_per_trial`-th one (and a seeded one) draws a new room."""

    metadata = {"render_modes": []}

    def __init__(
        self, room: str = "random", episode_steps: int = 20, seed: int = 0, episodes_per_trial: int = 3
    ):
        self.core = EgoRoomCore(1, room, seed)
        self.episode_steps, self.episodes_per_trial, self.t, self.episode = (
            episode_steps,
            episodes_per_trial,
            0,
            0,
        )
        self.observation_space = gym.spaces.Box(0, 255, OBS_SHAPE, np.uint8)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.core.rng = np.random.default_rng(seed)
            self.episode = 0
        if self.episode % self.episodes_per_trial == 0:  # a new room each trial, as in EgoRoomVectorEnv
            self.core.new_rooms()
        self.episode += 1
        self.core.reset_pose()
        self.t = 0
        return self.core.observe()[0], {"state": self.core.state()[0]}

    def step(self, action):
        reward = float(self.core.step(np.array([action]))[0])
        self.t += 1
        return (
            self.core.observe()[0],
            reward,
            False,
            self.t >= self.episode_steps,
            {"state": self.core.state()[0]},
        )
