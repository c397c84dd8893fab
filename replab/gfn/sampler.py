"""Sampling a batch of trajectories from a forward policy, with temperature κ and ε-uniform exploration.

π(a|s) = softmax(κ · logits(s)) over the allowed actions (disallowed ones masked to −∞ before the
softmax, seed004 §S4.8); with probability ε an allowed action is drawn uniformly instead (thesis
§5.3.4). For flow matching the logits are the predicted log-flows F^log(s, ·) (seed004 §S4.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from replab.gfn.env import DAGEnv


@dataclass
class Trajectories:
    """A batch of B complete trajectories, padded to the longest one (L actions).

    states `(B, L+1, D)` (after the end each row repeats its terminal state), actions `(B, L)` (−1 as
    padding), lengths `(B,)` (number of actions, ≥ 1), terminal `(B, D)` the final states.
    """

    states: torch.Tensor
    actions: torch.Tensor
    lengths: torch.Tensor

    @property
    def terminal(self) -> torch.Tensor:
        return self.states[torch.arange(len(self.lengths)), self.lengths]

    def valid(self) -> torch.Tensor:
        """`(B, L)` bool: which action slots are real transitions."""
        return torch.arange(self.actions.shape[1])[None, :] < self.lengths[:, None]

    def transitions(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The T real transitions flattened: (s `(T, D)`, a `(T,)`, s' `(T, D)`)."""
        v = self.valid()
        return self.states[:, :-1][v], self.actions[v], self.states[:, 1:][v]


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """log-softmax over the allowed entries; disallowed entries get −inf (rows need ≥ 1 allowed)."""
    return torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)


def exploration_log_probs(
    logits: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0, epsilon: float = 0.0
) -> torch.Tensor:
    """log of (1−ε)·softmax(κ·logits) + ε·uniform over allowed actions, `(B, A)`."""
    logp = masked_log_softmax(logits * temperature, mask)
    if epsilon > 0:
        uniform = masked_log_softmax(torch.zeros_like(logits), mask)
        eps = torch.tensor(epsilon, dtype=logp.dtype)
        logp = torch.logaddexp(logp + torch.log1p(-eps), uniform + eps.log())
    return logp


@torch.no_grad()
def sample_trajectories(
    env: DAGEnv,
    logits_fn: Callable[[torch.Tensor], torch.Tensor] | None,
    batch: int,
    generator: torch.Generator | None = None,
    temperature: float = 1.0,
    epsilon: float = 0.0,
    max_length: int = 10_000,
) -> Trajectories:
    """Roll out `batch` trajectories from s0 until every one is terminal.

    `logits_fn(states (K, D)) -> (K, n_actions)`; None samples the uniform random policy over allowed
    actions. The rollout is batched: each step evaluates `logits_fn` once on the still-running states.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not 0 <= epsilon <= 1:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    states = env.initial(batch)
    history, alive_steps, action_steps = [states], [], []
    done = env.is_terminal(states)
    plain = temperature == 1.0 and epsilon == 0.0
    # Per step: the policy and the environment run on the still-running rows only; the actions and the
    # lengths are assembled once at the end (few tensor operations per step: this loop is the hot path).
    for _ in range(max_length):
        alive = torch.nonzero(~done).squeeze(1)
        if alive.numel() == 0:
            break
        s = states.index_select(0, alive)
        mask = env.forward_mask(s)
        if logits_fn is None:
            probs = mask.float()  # uniform over allowed actions (unnormalised: the CDF is rescaled below)
        elif plain:
            probs = torch.softmax(logits_fn(s).float().masked_fill(~mask, float("-inf")), dim=-1)
        else:
            probs = exploration_log_probs(logits_fn(s).float(), mask, temperature, epsilon).exp()
        # inverse-CDF sampling: one uniform per row (cheaper than torch.multinomial for small batches)
        cdf = probs.cumsum(-1)
        u = torch.rand(len(s), 1, generator=generator).mul_(cdf[:, -1:])
        a = (cdf <= u).sum(-1).clamp_max_(mask.shape[1] - 1)
        nxt = env.step(s, a)
        states = states.index_copy(0, alive, nxt)
        done = done.index_copy(0, alive, env.is_terminal(nxt))
        history.append(states)
        alive_steps.append(alive)
        action_steps.append(a)
    else:
        raise RuntimeError(f"trajectories did not terminate within max_length={max_length} steps")
    L = len(action_steps)
    acts = torch.full((batch, L), -1, dtype=torch.long)
    if L:
        rows = torch.cat(alive_steps)
        cols = torch.repeat_interleave(torch.arange(L), torch.tensor([len(x) for x in alive_steps]))
        acts[rows, cols] = torch.cat(action_steps)
    lengths = (acts >= 0).sum(1)
    return Trajectories(torch.stack(history, 1), acts, lengths)
