"""Discrete SAC on a DAG environment, the thesis's second RL baseline (thesis §5.3.1; Christodoulou 2019).

Twin Q networks with EMA targets (rate `tau`), a softmax policy over the allowed actions and an
entropy temperature α, learned towards `target_entropy_ratio` · log|A(s)| when `alpha` is None.
Rewards are R(x) on the terminal transition and 0 elsewhere, γ = 1 (episodic, as for PPO). Every
round adds the transitions of fresh trajectories to a replay buffer and takes `updates` steps on
minibatches of `minibatch` transitions. The thesis reports SAC finds at best 10 of 16 modes.
"""

from __future__ import annotations

import copy

import torch

from replab.gfn.env import DAGEnv
from replab.gfn.model import ema_update, mlp
from replab.gfn.sampler import Trajectories, masked_log_softmax, sample_trajectories


class DiscreteSAC:
    def __init__(
        self,
        env: DAGEnv,
        hidden: int = 256,
        n_layers: int = 2,
        lr: float = 1e-3,
        alpha: float | None = None,
        target_entropy_ratio: float = 0.5,
        tau: float = 0.995,
        updates: int = 1,
        minibatch: int = 256,
        capacity: int = 100_000,
        generator: torch.Generator | None = None,
        init_generator: torch.Generator | None = None,
    ):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if alpha is not None and alpha < 0:
            raise ValueError(f"alpha must be None (learned) or >= 0, got {alpha}")
        if not 0 <= tau < 1:
            raise ValueError(f"tau must be in [0, 1), got {tau}")
        if updates < 1 or minibatch < 1 or capacity < 1:
            raise ValueError(
                f"updates, minibatch, capacity must be >= 1, got {updates}, {minibatch}, {capacity}"
            )
        self.env, self.generator, self.tau = env, generator, tau
        self.updates, self.minibatch, self.capacity = updates, minibatch, capacity
        self.target_entropy_ratio, self.fixed_alpha = target_entropy_ratio, alpha
        in_dim, A = env.features(env.initial(1)).shape[1], env.n_actions
        with torch.random.fork_rng(devices=[]):
            if init_generator is not None:
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=init_generator)))
            self.pi, self.q1, self.q2 = (mlp(in_dim, A, hidden, n_layers) for _ in range(3))
        self.q1_target = copy.deepcopy(self.q1).requires_grad_(False)
        self.q2_target = copy.deepcopy(self.q2).requires_grad_(False)
        self.log_alpha = torch.nn.Parameter(torch.zeros(()))
        self.opt_q = torch.optim.Adam([*self.q1.parameters(), *self.q2.parameters()], lr=lr)
        self.opt_pi = torch.optim.Adam(self.pi.parameters(), lr=lr)
        self.opt_alpha = torch.optim.Adam([self.log_alpha], lr=lr)
        D = env.state_dim
        self.buf = {
            "s": torch.zeros(capacity, D, dtype=torch.long),
            "a": torch.zeros(capacity, dtype=torch.long),
            "s2": torch.zeros(capacity, D, dtype=torch.long),
            "r": torch.zeros(capacity),
        }
        self.size, self._pos = 0, 0

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        return self.pi(self.env.features(states))

    @property
    def alpha(self) -> torch.Tensor:
        return (
            torch.tensor(self.fixed_alpha) if self.fixed_alpha is not None else self.log_alpha.exp().detach()
        )

    def _add(self, s, a, s2, r) -> None:
        k = len(s)
        slots = (self._pos + torch.arange(k)) % self.capacity
        for key, v in (("s", s), ("a", a), ("s2", s2), ("r", r)):
            self.buf[key][slots] = v
        self._pos = int((self._pos + k) % self.capacity)
        self.size = min(self.size + k, self.capacity)

    def train_step(self, batch: int = 16) -> tuple[dict[str, float], Trajectories]:
        env = self.env
        trajs = sample_trajectories(env, self.logits, batch, self.generator)
        s, a, s2 = trajs.transitions()
        done = env.is_terminal(s2)
        r = torch.where(done, env.log_reward(s2).exp().float(), torch.zeros(len(s2)))
        self._add(s, a, s2, r)
        stats = {}
        for _ in range(self.updates):
            stats = self._update()
        return stats, trajs

    def _update(self) -> dict[str, float]:
        env = self.env
        idx = torch.randint(self.size, (min(self.minibatch, self.size),), generator=self.generator)
        s, a, s2, r = (self.buf[k][idx] for k in ("s", "a", "s2", "r"))
        done = env.is_terminal(s2)
        mask, mask2 = env.forward_mask(s), env.forward_mask(s2)
        alpha = self.alpha
        with torch.no_grad():  # soft state value of s' under the current policy, 0 at terminal s'
            live = ~done
            v2 = torch.zeros(len(s2))
            if live.any():
                f2 = env.features(s2[live])
                logp2 = masked_log_softmax(self.pi(f2), mask2[live])
                q2 = torch.minimum(self.q1_target(f2), self.q2_target(f2))
                p2 = logp2.exp()
                v2[live] = (p2 * (q2 - alpha * logp2.masked_fill(~mask2[live], 0.0))).sum(-1)
            y = r + v2  # γ = 1
        f = env.features(s)
        q_loss = sum((q(f).gather(1, a[:, None]).squeeze(1) - y).pow(2).mean() for q in (self.q1, self.q2))
        self.opt_q.zero_grad(set_to_none=True)
        q_loss.backward()
        self.opt_q.step()
        logp = masked_log_softmax(self.pi(f), mask)
        p = logp.exp()
        logp0 = logp.masked_fill(~mask, 0.0)
        with torch.no_grad():
            q = torch.minimum(self.q1(f), self.q2(f)).masked_fill(~mask, 0.0)
        pi_loss = (p * (alpha * logp0 - q)).sum(-1).mean()
        self.opt_pi.zero_grad(set_to_none=True)
        pi_loss.backward()
        self.opt_pi.step()
        entropy = -(p * logp0).sum(-1).detach()
        if self.fixed_alpha is None:
            target = self.target_entropy_ratio * mask.sum(-1).float().log()
            alpha_loss = (self.log_alpha * (entropy - target)).mean()
            self.opt_alpha.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.opt_alpha.step()
        ema_update(self.q1_target, self.q1, self.tau)
        ema_update(self.q2_target, self.q2, self.tau)
        return {
            "q_loss": float(q_loss.detach()),
            "pi_loss": float(pi_loss.detach()),
            "entropy": float(entropy.mean()),
            "alpha": float(self.alpha),
        }

    def state_dict(self) -> dict:
        mods = ("pi", "q1", "q2", "q1_target", "q2_target", "opt_q", "opt_pi", "opt_alpha")
        d = {m: getattr(self, m).state_dict() for m in mods}
        d.update(
            log_alpha=self.log_alpha.data,
            buf=self.buf,
            size=self.size,
            pos=self._pos,
            generator=None if self.generator is None else self.generator.get_state(),
        )
        return d

    def load_state_dict(self, d: dict) -> None:
        for m in ("pi", "q1", "q2", "q1_target", "q2_target", "opt_q", "opt_pi", "opt_alpha"):
            getattr(self, m).load_state_dict(d[m])
        self.log_alpha.data.copy_(d["log_alpha"])
        self.buf, self.size, self._pos = d["buf"], d["size"], d["pos"]
        if self.generator is not None:
            self.generator.set_state(d["generator"])
