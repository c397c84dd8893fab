"""Replay that stores each frame once and rebuilds frame stacks at sample time (anchors §8.3).

A stack of k frames `(k·C, H, W)` shares k−1 frames with the next one, and obs_{t+1} is next_obs_t: a
buffer that stores obs and next_obs stacks keeps 2k copies of every frame (100k Atari transitions:
5.6 GB instead of 0.7 GB). `FrameReplay` keeps one slot per observation with only its newest frame,
and per slot the number of steps since the episode began (`pos`), so a stack is

    stack(t) = [frame(t − min(L, pos_t)) for L = k−1 … 0]      (oldest first)

which repeats the episode's first frame before its start, exactly as the `FrameStack` wrapper pads at
reset. A slot also holds the action taken there, its reward and whether the episode terminated or was
truncated by a time limit at that step; the final observation of an episode gets a slot with no action.

n-step targets (Rainbow §2; Sutton & Barto §7.1): from slot s with m ≤ n steps up to the episode end,

    R = Σ_{j<m} γ^j r_{s+j},   discount = γ^m · (1 − terminated),   next_obs = stack(s + m)

so a time limit (truncated) bootstraps from the last observation while a terminal does not.
A transition becomes sampleable once its n steps (or its episode's end) are written, and stops being
sampleable when a slot of its history is overwritten. Prioritized sampling (Schaul et al. 2016) draws
P(i) = p_i^α / Σ p^α from a sum tree, gives new transitions the largest priority so far, and returns
importance weights w_i = (N·P(i))^−β / max_batch w. Batches are written into preallocated tensors on
`device` (CPU or CUDA): a `Batch` is overwritten by the next `sample()`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from replab.rl.sumtree import SumTree


@dataclass
class Batch:
    """One sampled batch; the tensors are reused by the next `sample()` call (clone to keep them).

    obs, next_obs: (B, k·C, ...) frame dtype; action: (B, *action_shape); reward: (B,) n-step return;
    discount: (B,) γ^m·(1−terminal); steps: (B,) m; weight: (B,) importance weights (1 if uniform);
    index: (B,) numpy slots for `update_priorities`; state, next_state: (B, *state_shape) or None.
    """

    obs: Tensor
    action: Tensor
    reward: Tensor
    discount: Tensor
    next_obs: Tensor
    steps: Tensor
    weight: Tensor
    index: np.ndarray
    state: Tensor | None = None
    next_state: Tensor | None = None


class FrameReplay:
    """Circular replay of `capacity` observation slots, frames `frame_shape` stored once.

    `add_first(obs)` at each reset, `add(action, reward, next_obs, terminated, truncated)` after each
    step; `obs` is the stacked observation `(k·C, ...)` whose newest frame (the last C channels) is stored.
    """

    def __init__(
        self,
        capacity: int,
        frame_shape: tuple[int, ...],
        *,
        frame_stack: int = 1,
        frame_dtype: torch.dtype = torch.uint8,
        action_shape: tuple[int, ...] = (),
        action_dtype: torch.dtype = torch.int64,
        n_step: int = 1,
        gamma: float = 0.99,
        batch_size: int = 32,
        prioritized: bool = False,
        priority_exponent: float = 0.5,
        priority_eps: float = 1e-6,
        state_shape: tuple[int, ...] | None = None,
        device: str | torch.device = "cpu",
        rng: np.random.Generator | None = None,
        verbose: bool = True,
    ):
        if frame_stack < 1:
            raise ValueError(f"frame_stack must be >= 1, got {frame_stack}")
        if n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {n_step}")
        if capacity <= n_step + frame_stack:
            raise ValueError(
                f"capacity must be > n_step + frame_stack = {n_step + frame_stack}, got {capacity}"
            )
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if priority_exponent < 0:
            raise ValueError(f"priority_exponent must be >= 0, got {priority_exponent}")
        self.capacity, self.k, self.n, self.gamma = capacity, frame_stack, n_step, gamma
        self.frame_shape, self.batch_size, self.device = tuple(frame_shape), batch_size, torch.device(device)
        self.alpha, self.priority_eps = priority_exponent, priority_eps
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.frames = torch.empty((capacity, *self.frame_shape), dtype=frame_dtype, device=self.device)
        self.action = torch.zeros((capacity, *action_shape), dtype=action_dtype, device=self.device)
        self.state = None
        if state_shape is not None:
            self.state = torch.zeros((capacity, *state_shape), dtype=torch.float32, device=self.device)
        self.reward = np.zeros(capacity, np.float64)
        self.terminated = np.zeros(capacity, bool)
        self.truncated = np.zeros(capacity, bool)
        self.has_action = np.zeros(capacity, bool)
        self.pos = np.zeros(capacity, np.int64)
        self.sampleable = np.zeros(capacity, bool)
        self.tree = SumTree(capacity) if prioritized else None
        self.max_priority = 1.0
        self.cursor, self.size, self.num_sampleable = 0, 0, 0
        self._open = False  # an episode is being written (add_first called, not ended)
        self._gammas = gamma ** np.arange(n_step + 1)
        self._ones = np.ones(batch_size, np.int64)
        self.batch = self._allocate(action_shape, action_dtype, frame_dtype, state_shape)
        if verbose:
            print(self.describe(), file=sys.stderr)

    # -- memory ---------------------------------------------------------------------------------------
    def memory_bytes(self) -> int:
        """Bytes held by the storage (frames, actions, states and per-slot metadata)."""
        tensors = [self.frames, self.action] + ([self.state] if self.state is not None else [])
        meta = [self.reward, self.terminated, self.truncated, self.has_action, self.pos, self.sampleable]
        total = sum(t.numel() * t.element_size() for t in tensors) + sum(a.nbytes for a in meta)
        return total + (self.tree.nodes.nbytes if self.tree is not None else 0)

    def describe(self) -> str:
        """The capacity estimate printed at construction."""
        frame = self.frames[0].numel() * self.frames.element_size()
        naive = 2 * self.k * frame * self.capacity
        gib = 1024**3
        return (
            f"FrameReplay: {self.capacity:,} slots x frame {self.frame_shape} {self.frames.dtype} = "
            f"{self.memory_bytes() / gib:.2f} GiB on {self.device}; stacks of {self.k} rebuilt at sample "
            f"time (obs + next_obs stacks would need {naive / gib:.2f} GiB)"
        )

    # -- writing --------------------------------------------------------------------------------------
    def _frame(self, obs) -> Tensor:
        obs = torch.as_tensor(obs)
        c = self.frame_shape[0] if len(self.frame_shape) else 1
        if self.k > 1:
            if obs.shape[0] != self.k * c or tuple(obs.shape[1:]) != self.frame_shape[1:]:
                raise ValueError(
                    f"obs must be ({self.k}·{c}, ...) stacks of {self.frame_shape}, got {tuple(obs.shape)}"
                )
            obs = obs[-c:]
        elif tuple(obs.shape) != self.frame_shape:
            raise ValueError(f"obs must have shape {self.frame_shape}, got {tuple(obs.shape)}")
        return obs

    def _write(self, obs, pos: int, state) -> None:
        c = self.cursor
        if self.sampleable[c]:
            self._unsample(np.array([c]))
        if self.k > 1:  # slots c+1 … c+k−1 whose stack history reached back into slot c lose their history
            later = (c + np.arange(1, self.k)) % self.capacity
            self._unsample(later[self.pos[later] >= np.arange(1, self.k)])
        self.frames[c] = self._frame(obs)
        if self.state is not None and state is not None:
            self.state[c] = torch.as_tensor(state, dtype=torch.float32)
        self.pos[c], self.has_action[c] = pos, False
        self.terminated[c] = self.truncated[c] = False
        self.cursor = (c + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def add_first(self, obs, state=None) -> None:
        """Start an episode with its first observation (an unfinished episode is dropped unsampled)."""
        self._write(obs, 0, state)
        self._open = True

    def add(
        self, action, reward: float, next_obs, terminated: bool, truncated: bool, next_state=None
    ) -> None:
        """Record the step taken from the last observation and the observation it led to."""
        if not self._open:
            raise RuntimeError("add() needs an open episode: call add_first(obs) after each reset")
        p = (self.cursor - 1) % self.capacity
        self.action[p] = torch.as_tensor(action, dtype=self.action.dtype)
        self.reward[p], self.terminated[p], self.truncated[p] = reward, terminated, truncated
        self.has_action[p] = True
        pos = int(self.pos[p]) + 1
        self._write(next_obs, pos, next_state)
        c = (self.cursor - 1) % self.capacity
        if terminated or truncated:  # every start of the last n steps is complete
            ready = (c - np.arange(1, min(self.n, pos) + 1)) % self.capacity
            self._open = False
        elif pos >= self.n:
            ready = np.array([(c - self.n) % self.capacity])
        else:
            ready = np.zeros(0, np.int64)
        self._make_sampleable(ready)

    def _make_sampleable(self, slots: np.ndarray) -> None:
        new = slots[~self.sampleable[slots]]
        self.sampleable[new] = True
        self.num_sampleable += len(new)
        if self.tree is not None and len(new):
            self.tree.set(new, self.max_priority**self.alpha)

    def _unsample(self, slots: np.ndarray) -> None:
        old = slots[self.sampleable[slots]]
        self.sampleable[old] = False
        self.num_sampleable -= len(old)
        if self.tree is not None and len(old):
            self.tree.set(old, 0.0)

    # -- sampling -------------------------------------------------------------------------------------
    def _allocate(self, action_shape, action_dtype, frame_dtype, state_shape) -> Batch:
        b, d = self.batch_size, self.device
        obs_shape = (
            (b, self.k * self.frame_shape[0], *self.frame_shape[1:]) if self.frame_shape else (b, self.k)
        )

        def states():
            return None if state_shape is None else torch.zeros((b, *state_shape), device=d)

        return Batch(
            obs=torch.zeros(obs_shape, dtype=frame_dtype, device=d),
            action=torch.zeros((b, *action_shape), dtype=action_dtype, device=d),
            reward=torch.zeros(b, device=d),
            discount=torch.zeros(b, device=d),
            next_obs=torch.zeros(obs_shape, dtype=frame_dtype, device=d),
            steps=torch.zeros(b, dtype=torch.int64, device=d),
            weight=torch.ones(b, device=d),
            index=np.zeros(b, np.int64),
            state=states(),
            next_state=states(),
        )

    def _draw_uniform(self, b: int) -> np.ndarray:
        if self.num_sampleable == 0:
            raise ValueError("the replay has no complete transition to sample yet")
        cand = self.rng.integers(0, self.size, size=2 * b + 8)
        out = cand[self.sampleable[cand]]
        while len(out) < b:  # rejection sampling: almost every written slot is sampleable
            cand = self.rng.integers(0, self.size, size=2 * b + 8)
            out = np.concatenate([out, cand[self.sampleable[cand]]])
        return out[:b]

    def _stack_slots(self, slots: np.ndarray) -> np.ndarray:
        lags = np.arange(self.k - 1, -1, -1)  # oldest first
        return (slots[:, None] - np.minimum(lags[None, :], self.pos[slots][:, None])) % self.capacity

    def _window(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n-step windows from slots `s` (B,): steps up to and including the one that ends the episode.
        Returns m (B,) steps taken, the discounted return (B,) and whether the window ends terminal (B,)."""
        win = (s[:, None] + np.arange(self.n)[None, :]) % self.capacity
        ended = self.terminated[win] | self.truncated[win]
        alive = np.ones_like(ended)
        alive[:, 1:] = ~np.logical_or.accumulate(ended[:, :-1], axis=1)
        ret = (alive * self._gammas[None, : self.n] * self.reward[win]).sum(1)
        return alive.sum(1), ret, (alive & self.terminated[win]).any(1)

    def sample(self, beta: float = 0.4) -> Batch:
        """A batch of `batch_size` n-step transitions; `beta` is the importance-weight exponent (PER)."""
        b, batch = self.batch_size, self.batch
        if self.tree is None:
            s = self._draw_uniform(b)
        else:
            if self.num_sampleable == 0:
                raise ValueError("the replay has no complete transition to sample yet")
            s = self.tree.sample_stratified(b, self.rng)
            p = self.tree.get(s) / self.tree.total
            w = (self.num_sampleable * p) ** (-beta)
            batch.weight.copy_(torch.from_numpy((w / w.max()).astype(np.float32)))
        if self.n == 1:  # `_window(s)` with one step, without its arrays (the same numbers, tested)
            m, ret, terminal = self._ones[: len(s)], self.reward[s], self.terminated[s]
        else:
            m, ret, terminal = self._window(s)
        disc = self._gammas[m] * ~terminal
        t = (s + m) % self.capacity
        self._gather(self._stack_slots(s) if self.k > 1 else s, batch.obs)
        self._gather(self._stack_slots(t) if self.k > 1 else t, batch.next_obs)
        s_dev = self._to_device(s)
        torch.index_select(self.action, 0, s_dev, out=batch.action)
        batch.reward.copy_(torch.from_numpy(ret.astype(np.float32)))
        batch.discount.copy_(torch.from_numpy(disc.astype(np.float32)))
        batch.steps.copy_(torch.from_numpy(m))
        if self.state is not None:
            torch.index_select(self.state, 0, s_dev, out=batch.state)
            torch.index_select(self.state, 0, self._to_device(t), out=batch.next_state)
        batch.index[:] = s
        return batch

    def _to_device(self, idx: np.ndarray) -> Tensor:
        return torch.from_numpy(idx.reshape(-1)).to(self.device, non_blocking=True)

    def _gather(self, slots: np.ndarray, out: Tensor) -> None:
        flat = out.view(-1, *self.frame_shape) if self.frame_shape else out.view(-1)
        torch.index_select(self.frames, 0, self._to_device(slots), out=flat)

    def update_priorities(self, index: np.ndarray, priorities) -> None:
        """Set the priorities of sampled slots to `priorities` (e.g. the per-sample loss), stored as p^α."""
        if self.tree is None:
            raise RuntimeError("update_priorities needs prioritized=True")
        p = np.asarray(torch.as_tensor(priorities).detach().cpu().double().numpy()).reshape(-1)
        p = p + self.priority_eps
        self.max_priority = max(self.max_priority, float(p.max()))
        keep = self.sampleable[index]
        self.tree.set(np.asarray(index)[keep], p[keep] ** self.alpha)

    def __len__(self) -> int:
        return self.num_sampleable
