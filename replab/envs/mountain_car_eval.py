"""Small exact environments for TD policy evaluation (seed004 §S3.3 [REF-CODE], §S3.6).

- Mountain Car policy evaluation, vectorised in numpy with gymnasium MountainCar-v0's dynamics (force 0.001,
  gravity 0.0025, position in [−1.2, 0.6], speed in ±0.07, the left wall stops the car, goal at position
  ≥ 0.5 with velocity ≥ 0), the heuristic policy "push left iff velocity < 0, else push right", reward
  −0.1 per step (−1 × 0.1) and γ = 0.95. `true_values` is the exact V^π by deterministic rollout until the
  goal, truncated when γ^t < 1e-6 (§S3.6). V(s) is the return of acting from s: its first reward is
  always −0.1, and a transition into the goal ends the episode (discount 0 after it).
- `chain_values` / `chain_transitions`: a deterministic n-state chain (move right, reward 1 on leaving the
  last state), exact values γ^(n−1−i), for tabular/linear sanity checks.
"""

from __future__ import annotations

import math

import numpy as np
import torch

FORCE, GRAVITY = 0.001, 0.0025
MIN_POS, MAX_POS, MAX_SPEED, GOAL_POS, GOAL_VEL = -1.2, 0.6, 0.07, 0.5, 0.0
REWARD, GAMMA, TOL = -0.1, 0.95, 1e-6


def policy(vel: np.ndarray) -> np.ndarray:
    """The heuristic policy [REF-CODE]: action 0 (push left) if velocity < 0, else 2 (push right)."""
    return np.where(vel < 0, 0, 2)


def step(pos: np.ndarray, vel: np.ndarray, action: np.ndarray):
    """One vectorised MountainCar-v0 step: (next position, next velocity, terminated)."""
    vel = np.clip(vel + (action - 1) * FORCE + np.cos(3 * pos) * (-GRAVITY), -MAX_SPEED, MAX_SPEED)
    pos = np.clip(pos + vel, MIN_POS, MAX_POS)
    vel = np.where((pos == MIN_POS) & (vel < 0), 0.0, vel)
    return pos, vel, (pos >= GOAL_POS) & (vel >= GOAL_VEL)


def sample_states(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 2) states uniform on position [−1.2, 0.6] × velocity [−0.07, 0.07] (the "replay" mode)."""
    return np.stack([rng.uniform(MIN_POS, MAX_POS, n), rng.uniform(-MAX_SPEED, MAX_SPEED, n)], 1)


def transitions(rng: np.random.Generator, n: int, gamma: float = GAMMA):
    """n fresh i.i.d. transitions of the policy from uniform states: (s, r, s′, discount = γ(1 − done)),
    states (n, 2) float64."""
    s = sample_states(rng, n)
    pos, vel, done = step(s[:, 0], s[:, 1], policy(s[:, 1]))
    return s, np.full(n, REWARD), np.stack([pos, vel], 1), gamma * (1.0 - done)


def horizon(gamma: float = GAMMA, tol: float = TOL) -> int:
    """Steps of the truncated rollout: the first t with γ^t < tol (270 for γ = 0.95, tol = 1e-6)."""
    return math.floor(math.log(tol) / math.log(gamma)) + 1


def true_values(states: np.ndarray, gamma: float = GAMMA, tol: float = TOL) -> np.ndarray:
    """Exact V^π of (n, 2) states: Σ_t γ^t r_t along the deterministic rollout until the goal, truncated
    when γ^t < tol (the learner's γ: §S3.7's last pitfall)."""
    pos, vel = states[:, 0].astype(np.float64), states[:, 1].astype(np.float64)
    value, alive = np.zeros(len(states)), np.ones(len(states), bool)
    for t in range(horizon(gamma, tol)):
        value += alive * gamma**t * REWARD
        pos, vel, done = step(pos, vel, policy(vel))
        alive &= ~done
        if not alive.any():
            break
    return value


def features(states) -> torch.Tensor:
    """Normalised network input (§S3.6, a logged choice): position → (p + 0.3)/0.9, velocity → v/0.07."""
    s = torch.as_tensor(np.asarray(states), dtype=torch.float32)
    return torch.stack([(s[..., 0] + 0.3) / 0.9, s[..., 1] / MAX_SPEED], -1)


def chain_values(n: int, gamma: float) -> np.ndarray:
    """Exact values of the deterministic n-state chain: state i reaches the reward 1 after n − 1 − i moves."""
    return gamma ** (n - 1 - np.arange(n, dtype=np.float64))


def chain_transitions(rng: np.random.Generator, n: int, m: int, gamma: float):
    """m transitions from uniform chain states, one-hot features: (s, r, s′, discount) as float arrays."""
    i = rng.integers(0, n, m)
    eye = np.eye(n)
    last = i == n - 1
    return eye[i], last.astype(np.float64), eye[np.minimum(i + 1, n - 1)], gamma * (1.0 - last)
