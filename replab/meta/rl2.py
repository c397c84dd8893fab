"""The RL² meta-learner (seed003 §C.2.1, §C.2.5, §C.3; reduced plan §C.7) as an agent of the shared protocol.

A GRU policy reads, at each step, the embedding of the egocentric view concatenated with the previous action
(one-hot), the previous (whitened) reward and the episode-termination flag (Duan et al.'s RL² inputs). Its
hidden state is kept across the episodes of a trial and reset only between trials (§C.8). PPO (clip 0.2,
value coef 0.1, §C.3) trains it on whole trials: the return runs across episode boundaries, GAE stops only at
the trial's end, and every minibatch of tasks is re-run from a zero hidden state over the whole trial (BPTT
through episode boundaries).

Protocol (replab.rl.agent): `act(step, explore)` takes a `Step` (obs, previous action, previous reward, done)
and carries the hidden state; `begin_trial(n)` resets it; `update(rollout, step)` is one PPO update on a
trial batch (`replab.meta.rollout.run_trials`); the encoder role is `policy.encoder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from replab.meta.egoroom import ACTIONS
from replab.meta.scaffold import ConvEncoder, to_input
from replab.rl.agent import AgentBase, Shadow

N_ACTIONS = len(ACTIONS)


@dataclass
class Step:
    """One time step's input to the meta-learner, for n parallel trials."""

    obs: np.ndarray  # (n, 3, 15, 15) uint8
    prev_action: torch.Tensor  # (n,) long, −1 before the first action of a trial
    prev_reward: torch.Tensor  # (n,) float
    done: torch.Tensor  # (n,) float: 1 at the first step of an episode after the first


class RL2Policy(nn.Module):
    """Conv encoder → [embedding, one-hot previous action, previous reward, done] → GRU → actor and critic
    MLPs with one hidden layer (§C.3, §C.7)."""

    def __init__(self, embed: int = 32, hidden: int = 128, head: int = 64):
        super().__init__()
        self.encoder = ConvEncoder(embed)
        self.gru = nn.GRU(embed + N_ACTIONS + 2, hidden)
        self.actor = nn.Sequential(nn.Linear(hidden, head), nn.Tanh(), nn.Linear(head, N_ACTIONS))
        self.critic = nn.Sequential(nn.Linear(hidden, head), nn.Tanh(), nn.Linear(head, 1))
        self.hidden = hidden

    def inputs(self, obs, prev_action, prev_reward, done) -> torch.Tensor:
        """(T, n, input) from obs (T, n, 3, 15, 15) and the (T, n) side inputs."""
        t, n = prev_action.shape
        e = self.encoder(to_input(obs)).reshape(t, n, -1)
        a = F.one_hot(prev_action.clamp(min=0), N_ACTIONS).float() * (prev_action >= 0)[..., None]
        return torch.cat([e, a, prev_reward[..., None].float(), done[..., None].float()], -1)

    def forward(self, obs, prev_action, prev_reward, done, h0=None):
        """Logits (T, n, A), values (T, n) and the last hidden state (1, n, H) for a (T, n) sequence."""
        out, h = self.gru(self.inputs(obs, prev_action, prev_reward, done), h0)
        return self.actor(out), self.critic(out).squeeze(-1), h


class RL2(AgentBase):
    """RL² trained with PPO; implements the shared agent protocol."""

    def __init__(
        self,
        *,
        hidden: int = 128,
        lr: float = 3e-4,
        clip: float = 0.2,
        value_coef: float = 0.1,
        entropy_coef: float = 0.05,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        epochs: int = 4,
        minibatches: int = 4,
        max_grad_norm: float = 0.5,
        seed: int = 0,
    ):
        torch.manual_seed(seed)
        self.policy = RL2Policy(hidden=hidden)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=lr)
        self.clip, self.value_coef, self.entropy_coef = clip, value_coef, entropy_coef
        self.gamma, self.gae_lambda, self.epochs, self.minibatches = gamma, gae_lambda, epochs, minibatches
        self.max_grad_norm = max_grad_norm
        self.gen = torch.Generator().manual_seed(seed)
        self.h = None
        self.last: dict = {}

    # -- acting -------------------------------------------------------------------------------------------
    def begin_trial(self, n: int) -> None:
        """A new trial for n parallel tasks: the hidden state is zeroed (only here, never between episodes)."""
        self.h = torch.zeros(1, n, self.policy.hidden)

    @torch.no_grad()
    def act(self, obs: Step, *, explore: bool = True) -> np.ndarray:
        if self.h is None or self.h.shape[1] != len(obs.obs):
            raise ValueError(f"call begin_trial({len(obs.obs)}) before act on a new batch of trials")
        logits, value, self.h = self.policy(
            obs.obs[None], obs.prev_action[None], obs.prev_reward[None], obs.done[None], self.h
        )
        dist = torch.distributions.Categorical(logits=logits[0])
        a = torch.multinomial(dist.probs, 1, generator=self.gen)[:, 0] if explore else logits[0].argmax(-1)
        self.last = {"logp": dist.log_prob(a), "value": value[0]}
        return a.numpy()

    # -- learning -----------------------------------------------------------------------------------------
    def advantages(self, rewards: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """GAE(γ, λ) over the whole trial (T, n): terminal only at the trial's end (RL²'s return spans its
        episodes)."""
        t_len = len(rewards)
        adv = torch.zeros_like(rewards)
        last = torch.zeros_like(rewards[0])
        for t in reversed(range(t_len)):
            nxt = values[t + 1] if t + 1 < t_len else torch.zeros_like(values[t])
            delta = rewards[t] + self.gamma * nxt - values[t]
            last = delta + self.gamma * self.gae_lambda * last
            adv[t] = last
        return adv, adv + values

    def update(self, batch: dict, step: int) -> dict[str, float]:
        """`epochs` × `minibatches` PPO steps on a trial batch (keys: obs, prev_action, prev_reward, done,
        action, logp, value, reward; all (T, n, ...))."""
        adv, ret = self.advantages(batch["reward"], batch["value"])
        n = batch["action"].shape[1]
        size = max(1, n // self.minibatches)
        stats = {
            "loss/policy": 0.0,
            "loss/value": 0.0,
            "entropy": 0.0,
            "approx_kl": 0.0,
            "clip_fraction": 0.0,
        }
        count = 0
        for _ in range(self.epochs):
            perm = torch.randperm(n, generator=self.gen)
            for i in range(0, n - size + 1, size):
                idx = perm[i : i + size]
                logits, values, _ = self.policy(
                    batch["obs"][:, idx],
                    batch["prev_action"][:, idx],
                    batch["prev_reward"][:, idx],
                    batch["done"][:, idx],
                )
                dist = torch.distributions.Categorical(logits=logits)
                logp = dist.log_prob(batch["action"][:, idx])
                ratio = (logp - batch["logp"][:, idx]).exp()
                a = adv[:, idx]
                a = (a - a.mean()) / (a.std() + 1e-8)
                pg = -torch.min(ratio * a, ratio.clamp(1 - self.clip, 1 + self.clip) * a).mean()
                vf = F.mse_loss(values, ret[:, idx])
                ent = dist.entropy().mean()
                loss = pg + self.value_coef * vf - self.entropy_coef * ent
                if (
                    self.aux
                ):  # auxiliary objectives on the minibatch's raw views (batch.obs: (T·b, 3, 15, 15))
                    views = SimpleNamespace(obs=batch["obs"][:, idx].reshape(-1, *batch["obs"].shape[2:]))
                    loss = loss + sum(coef * objective.loss(views)[0] for objective, coef in self.aux)
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.opt.step()
                with torch.no_grad():
                    stats["loss/policy"] += float(pg)
                    stats["loss/value"] += float(vf)
                    stats["entropy"] += float(ent)
                    stats["approx_kl"] += float((batch["logp"][:, idx] - logp).mean())
                    stats["clip_fraction"] += float(((ratio - 1).abs() > self.clip).float().mean())
                count += 1
        return {k: v / max(count, 1) for k, v in stats.items()}

    # -- protocol -----------------------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"policy": self.policy}

    def parts(self) -> dict[str, list[str]]:
        return {
            "encoder": ["policy.encoder"],
            "head": ["policy.actor", "policy.critic"],
            "rnn": ["policy.gru"],
        }

    def shadows(self) -> list[Shadow]:
        return []

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"policy": self.opt}

    def view(self, obs: torch.Tensor) -> torch.Tensor:
        return to_input(obs)

    def trace(self, batch) -> None:
        with torch.no_grad():
            self.policy(batch["obs"], batch["prev_action"], batch["prev_reward"], batch["done"])
