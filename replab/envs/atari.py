"""Atari 2600 games through ale-py with the Atari100k protocol as code: `make("atari:Pong")`.

Protocol (CURL Table 3.4 / Data-Efficient Rainbow, Machado et al. 2018 for the terms):
- frame skip 4: the action is repeated for 4 emulator frames, rewards summed, and the observation is the
  pixel-wise max of the last two frames (removes Atari sprite flicker);
- grayscale (ALE luminance), area-resized 210×160 → 84×84 (OpenCV INTER_AREA's weights, in numpy, block by block);
- no sticky actions (`repeat_action_probability=0`), 1..30 no-op actions after each game reset;
- an episode is capped at 108k emulator frames (counted from the game reset, no-ops included): the step
  that reaches the cap returns `truncated=True`;
- `terminal_on_life_loss=True` (training only): losing a life ends the *agent's* episode
  (`terminated=True`) but not the game; the next `reset()` continues the same game without no-ops.
  The reported score (`info["episode_score"]`, present only when the *game* ends or is cut by the cap)
  is the raw game score summed over all lives, never the clipped or per-life return;
- ALE game `mode` and `difficulty` as options (validated against the ROM's own lists).

Observations are uint8 `(1, 84, 84)`; `make_atari` stacks 4 of them into `(4, 84, 84)`. `action_repeat`
is 4 and `info["frames"]` counts the emulator frames of each call (no-ops included at reset).
"""

from __future__ import annotations

import math
import re

import gymnasium as gym
import numpy as np

from replab.envs.wrappers import FrameStack
from replab.errors import close_matches, require_extra


def rom_id(game: str) -> str:
    """ALE's ROM id of a game name: "MsPacman" → "ms_pacman", "UpNDown" → "up_n_down", "pong" → "pong"."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", game).lower()


def area_resize_weights(src: int, dst: int) -> np.ndarray:
    """(dst, src) matrix of area-interpolation weights: output pixel i averages the source interval
    [i·s, (i+1)·s), s = src/dst, each source pixel weighted by its overlap (OpenCV's INTER_AREA)."""
    if dst < 1 or src < dst:
        raise ValueError(f"area resize needs 1 <= dst <= src, got src={src}, dst={dst}")
    scale = src / dst
    w = np.zeros((dst, src), np.float64)
    for i in range(dst):
        lo, hi = i * scale, (i + 1) * scale
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), src)):
            w[i, j] = min(hi, j + 1) - max(lo, j)
    return (w / scale).astype(np.float32)


def area_resize_block(src: int, dst: int) -> np.ndarray:
    """The (p, q) block that `area_resize_weights(src, dst)` repeats along its diagonal, p = dst / g and
    q = src / g for g = gcd(src, dst): output pixels b·p … b·p + p − 1 read only input pixels b·q … b·q + q − 1
    (e.g. 210 → 84: 2 rows from 5; 160 → 84: 21 columns from 40)."""
    g = math.gcd(src, dst)
    return np.ascontiguousarray(area_resize_weights(src, dst)[: dst // g, : src // g])


def _real_ale(game: str, seed: int, repeat_action_probability: float):
    ale_py = require_extra("ale_py", "atari")
    from replab.envs import EnvOptionError

    rid = rom_id(game)
    known = ale_py.roms.get_all_rom_ids()
    if rid not in known:
        raise EnvOptionError(f"unknown Atari game '{game}'{close_matches(rid, known)}")
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    ale.setInt("random_seed", seed)
    ale.setFloat("repeat_action_probability", repeat_action_probability)
    ale.loadROM(ale_py.roms.get_rom_path(rid))
    return ale


class AtariEnv(gym.Env):
    """One Atari game under the Atari100k protocol (see the module docstring); `(1, size, size)` uint8.

    `ale_factory(seed)` builds the emulator (default: ale-py with the game's ROM); tests pass a scripted
    stand-in with the same methods.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        game: str,
        *,
        frame_skip: int = 4,
        screen_size: int = 84,
        noop_max: int = 30,
        max_frames: int | None = 108_000,
        terminal_on_life_loss: bool = False,
        repeat_action_probability: float = 0.0,
        full_action_space: bool = False,
        mode: int | None = None,
        difficulty: int | None = None,
        ale_factory=None,
    ):
        if frame_skip < 1:
            raise ValueError(f"frame_skip must be >= 1, got {frame_skip}")
        if not 1 <= screen_size <= 160:
            raise ValueError(f"screen_size must be in [1, 160], got {screen_size}")
        if noop_max < 0:
            raise ValueError(f"noop_max must be >= 0, got {noop_max}")
        if max_frames is not None and max_frames < frame_skip:
            raise ValueError(f"max_frames must be >= frame_skip ({frame_skip}) or None, got {max_frames}")
        if not 0.0 <= repeat_action_probability < 1.0:
            raise ValueError(f"repeat_action_probability must be in [0, 1), got {repeat_action_probability}")
        self.game, self.frame_skip, self.noop_max, self.max_frames = game, frame_skip, noop_max, max_frames
        self.terminal_on_life_loss = terminal_on_life_loss
        self.full_action_space, self.mode, self.difficulty = full_action_space, mode, difficulty
        self._factory = ale_factory or (lambda s: _real_ale(game, s, repeat_action_probability))
        self._load(seed=0)
        h, w = self.ale.getScreenDims()
        self._screens = np.zeros((2, h, w), np.uint8)
        self._row_block = area_resize_block(h, screen_size)  # (p, q): p output rows from q input rows
        self._col_block_t = area_resize_block(w, screen_size).T.copy()  # (q, p) for columns
        self.observation_space = gym.spaces.Box(0, 255, (1, screen_size, screen_size), np.uint8)
        self.action_space = gym.spaces.Discrete(len(self._actions))
        self.action_repeat = frame_skip
        self._continue_game = False
        self._score, self._frames, self._lives = 0.0, 0, 0

    def _load(self, seed: int) -> None:
        from replab.envs import EnvOptionError

        self.ale = self._factory(seed)
        for what, value, valid, setter in (
            ("mode", self.mode, self.ale.getAvailableModes(), "setMode"),
            ("difficulty", self.difficulty, self.ale.getAvailableDifficulties(), "setDifficulty"),
        ):
            if value is None:
                continue
            valid = [int(v) for v in valid]
            if int(value) not in valid:
                raise EnvOptionError(
                    f"{what} {value} is not available for Atari game '{self.game}'; valid {what}s: {valid}"
                )
            getattr(self.ale, setter)(int(value))
        actions = self.ale.getLegalActionSet() if self.full_action_space else self.ale.getMinimalActionSet()
        self._actions = list(actions)
        self.ale.reset_game()

    # -- observation ---------------------------------------------------------------------------------
    def _observation(self) -> np.ndarray:
        frame = np.maximum(self._screens[0], self._screens[1])  # max over the last two frames
        # the resize's weights repeat block by block: many tiny matmuls instead of two 210×160 ones, which are
        # 3x faster and stay single-threaded. Two big numpy matmuls woke OpenBLAS's threads, which then spin and
        # starve torch's: a 2-thread DQN step took 3.7x longer (docs/benchmarks.md § discrete)
        (ph, qh), qw = self._row_block.shape, self._col_block_t.shape[0]
        h, w = frame.shape
        rows = np.matmul(self._row_block, frame.astype(np.float32).reshape(h // qh, qh, w))  # (h/qh, ph, w)
        small = np.matmul(rows.reshape(-1, w // qw, qw), self._col_block_t)  # (h/qh·ph, w/qw, pw)
        return np.clip(np.rint(small.reshape(1, h // qh * ph, -1)), 0, 255).astype(np.uint8)

    # -- gymnasium API -------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None:  # ALE is seeded at ROM load (as gymnasium's AtariEnv does)
            self._load(seed=int(self.np_random.integers(2**31 - 1)))
            self._continue_game = False
        if self._continue_game:  # life lost in training mode: same game, new agent episode
            self._continue_game = False
            return self._observation(), {"frames": 0, "lives": self._lives, "new_game": False}
        self.ale.reset_game()
        frames = 0
        noops = int(self.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):  # no-op starts (Mnih et al. 2015)
            self.ale.act(self._actions[0])
            frames += 1
            if self.ale.game_over():
                self.ale.reset_game()
        self.ale.getScreenGrayscale(self._screens[0])
        self._screens[1] = self._screens[0]
        self._score, self._frames, self._lives = 0.0, frames, self.ale.lives()
        return self._observation(), {"frames": frames, "lives": self._lives, "new_game": True}

    def step(self, action):
        ale, act = self.ale, self._actions[int(action)]
        reward, frames, game_over, life_lost, capped = 0.0, 0, False, False, False
        for t in range(self.frame_skip):
            reward += ale.act(act)
            frames += 1
            self._frames += 1
            game_over = ale.game_over()
            life_lost = ale.lives() < self._lives
            capped = self.max_frames is not None and self._frames >= self.max_frames
            if game_over or capped or (life_lost and self.terminal_on_life_loss):
                ale.getScreenGrayscale(self._screens[0])  # the episode's last frame, no stale pooling
                self._screens[1] = self._screens[0]
                break
            if t >= self.frame_skip - 2:
                ale.getScreenGrayscale(self._screens[self.frame_skip - 1 - t])
        self._lives = ale.lives()
        self._score += reward
        terminated = game_over or (life_lost and self.terminal_on_life_loss)
        truncated = capped and not terminated
        info = {"frames": frames, "lives": self._lives}
        if game_over or capped:
            info["episode_score"] = self._score  # the game score over all lives (Atari100k protocol)
        else:
            self._continue_game = terminated  # life lost: reset() continues this game
        if capped and not game_over:
            self._continue_game = False
        return self._observation(), reward, terminated, truncated, info


def make_atari(game: str, *, frame_stack: int = 4, **kwargs) -> gym.Env:
    """`AtariEnv(game, **kwargs)` with `frame_stack` frames stacked along channels: `(4, 84, 84)` uint8."""
    env = AtariEnv(game, **kwargs)
    return FrameStack(env, frame_stack) if frame_stack > 1 else env
