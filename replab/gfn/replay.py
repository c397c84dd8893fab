"""Replay of visited states for the off-policy flow-matching objective (thesis §5.3.4).

Flow matching is a loss per visited state s' (its parents and children come from the environment), so
the buffer stores state rows. `uniform` samples them uniformly (i.i.d. transitions, Mnih et al. 2013);
`prioritized` samples with probability ∝ priority^α (Schaul et al. 2015, proportional variant, new
entries get the current maximum priority; no importance weights — a documented choice).
"""

from __future__ import annotations

import torch

REPLAY_KINDS = ("uniform", "prioritized")


class StateReplay:
    """A ring buffer of `capacity` state rows `(D,)` with optional proportional priorities."""

    def __init__(
        self,
        capacity: int,
        state_dim: int,
        kind: str = "uniform",
        alpha: float = 0.6,
        generator: torch.Generator | None = None,
    ):
        if capacity < 1:
            raise ValueError(f"replay capacity must be >= 1, got {capacity}")
        if kind not in REPLAY_KINDS:
            raise ValueError(f"replay kind must be one of {REPLAY_KINDS}, got {kind!r}")
        if not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.capacity, self.kind, self.alpha, self.generator = capacity, kind, alpha, generator
        self.states = torch.zeros(capacity, state_dim, dtype=torch.long)
        self.priority = torch.zeros(capacity, dtype=torch.float64)
        self.size, self._pos = 0, 0

    def __len__(self) -> int:
        return self.size

    def add(self, states: torch.Tensor) -> None:
        """Store `(K, D)` state rows (the oldest are overwritten when full)."""
        states = states[-self.capacity :]
        k = len(states)
        slots = (self._pos + torch.arange(k)) % self.capacity
        self.states[slots] = states
        top = float(self.priority[: self.size].max()) if self.size else 1.0
        self.priority[slots] = top
        self._pos = int((self._pos + k) % self.capacity)
        self.size = min(self.size + k, self.capacity)

    def sample(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`k` rows drawn with replacement: (states `(k, D)`, their slots `(k,)`)."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        if self.kind == "uniform":
            idx = torch.randint(self.size, (k,), generator=self.generator)
        else:
            w = self.priority[: self.size].pow(self.alpha)
            idx = torch.multinomial(w, k, replacement=True, generator=self.generator)
        return self.states[idx], idx

    def update_priorities(self, slots: torch.Tensor, errors: torch.Tensor) -> None:
        """Set the priority of `slots` to |error| + 1e-6 (the flow-matching residual of each state)."""
        self.priority[slots] = errors.detach().abs().double() + 1e-6

    def state_dict(self) -> dict:
        return {"states": self.states, "priority": self.priority, "size": self.size, "pos": self._pos}

    def load_state_dict(self, d: dict) -> None:
        self.states, self.priority, self.size, self._pos = d["states"], d["priority"], d["size"], d["pos"]
