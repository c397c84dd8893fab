"""The contract of a DAG environment for GFlowNets (seed004 §S4.2), vectorised over a batch of states.

A state is a row of an integer tensor `(B, D)`; a batch of trajectories is advanced together. Actions
are integers in `[0, n_actions)`; the last one, `stop`, turns a state s into the terminal node "s then
stop", which is a *different* node from s (seed004 §S4.8). Environments may also end a trajectory by
themselves (forced termination), in which case the reached state is terminal with no stop.

Flow matching needs the in-flow over **all** parents of a state (seed004 §S4.2, "the in-flow sums over
ALL parents"), so `parents` returns one slot per possible parent edge with the action that leads from
the parent to the state and a mask of which slots exist.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch


class DAGEnv(ABC):
    """A deterministic episodic MDP whose state graph is a DAG with one source s0 (seed004 §S4.2).

    Subclasses define `n_actions`, `state_dim`, `n_parent_slots` and the methods below. All methods are
    pure functions of their tensor arguments (no hidden episode state), so any batch of states from
    any trajectories, replay buffers or enumerations can be evaluated together.
    """

    n_actions: int
    """Number of forward actions including `stop` (the last one)."""
    state_dim: int
    """D: the width of a state row."""
    n_parent_slots: int
    """P: the number of parent slots `parents` returns per state."""

    @property
    def stop(self) -> int:
        return self.n_actions - 1

    @abstractmethod
    def initial(self, batch: int) -> torch.Tensor:
        """`batch` copies of s0, `(B, D)` long."""

    @abstractmethod
    def is_terminal(self, states: torch.Tensor) -> torch.Tensor:
        """`(B,)` bool: stopped or forced-terminal states (sinks of the DAG)."""

    @abstractmethod
    def forward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """`(B, n_actions)` bool: allowed actions A(s); all False at terminal states."""

    @abstractmethod
    def step(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """T(s, a) for `(B, D)` states and `(B,)` allowed actions, `(B, D)`."""

    @abstractmethod
    def parents(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """All parent edges (s, a) with T(s, a) = s' for each state s'.

        Returns `(parent_states (B, P, D), parent_actions (B, P) long, mask (B, P) bool)`; slots with
        mask False are padding (their states and actions are valid dummies that must be ignored).
        """

    @abstractmethod
    def log_reward(self, states: torch.Tensor) -> torch.Tensor:
        """log R(x) `(B,)` for terminal states (the value at non-terminal states is meaningless)."""

    @abstractmethod
    def features(self, states: torch.Tensor) -> torch.Tensor:
        """The model input `(B, F)` float for non-terminal states."""

    def backward_mask(self, states: torch.Tensor) -> torch.Tensor:
        """`(B, P)` bool: which parent slots exist (used by backward policies)."""
        return self.parents(states)[2]


def unique_rows(states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of integer states `(K, D)` and the inverse `(K,)` with `uniq[inverse] == states`.

    Evaluating a network once per distinct state and gathering with `inverse` gives the same values and
    gradients as evaluating it on every row. Rows are packed into one int64 key per row (mixed radix over
    the column ranges) when that fits, which is far faster than `torch.unique(dim=0)`; otherwise the
    latter is used.
    """
    if states.shape[0] == 0:
        return states, torch.zeros(0, dtype=torch.long)
    lo = states.min(0).values
    span = states.max(0).values - lo + 1  # (D,)
    if float(span.double().log2().sum()) < 62:
        radix = torch.cumprod(torch.cat([span.new_ones(1), span.flip(0)[:-1]]), 0).flip(0)
        keys = ((states - lo) * radix).sum(-1)
        uniq_keys, inverse = torch.unique(keys, return_inverse=True)
        first = torch.empty_like(uniq_keys).scatter_(0, inverse, torch.arange(len(keys)))
        return states[first], inverse
    return torch.unique(states, dim=0, return_inverse=True)
