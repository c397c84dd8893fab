"""PPO on a DAG environment, the thesis's RL baseline (seed004 §S4.4, §S4.5; Schulman et al. 2017).

The same MLP as the GFlowNet with one more output, the value head. γ = 1 and the return of every state
of a trajectory is the terminal reward R(x) ([REF-CODE]); the advantage is R(x) − V(s). The loss is
the clipped surrogate (clip 0.2) + value_coef · (V(s) − R(x))² − entropy_coef · H(π(·|s)), with the
thesis's very large entropy coefficient 0.5 (needed to find all the modes, thesis §5.3.1).
"""

from __future__ import annotations

import torch

from replab.gfn.env import DAGEnv
from replab.gfn.model import mlp
from replab.gfn.sampler import Trajectories, masked_log_softmax, sample_trajectories


class PPO:
    """`train_step(batch)` samples `batch` trajectories on-policy, then runs `epochs` passes of
    `minibatches` clipped-surrogate updates over their transitions; returns (metrics, trajectories)."""

    def __init__(
        self,
        env: DAGEnv,
        hidden: int = 256,
        n_layers: int = 2,
        lr: float = 1e-3,
        entropy_coef: float = 0.5,
        clip: float = 0.2,
        value_coef: float = 0.5,
        epochs: int = 4,
        minibatches: int = 4,
        generator: torch.Generator | None = None,
        init_generator: torch.Generator | None = None,
    ):
        if lr <= 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        if entropy_coef < 0:
            raise ValueError(f"entropy_coef must be >= 0, got {entropy_coef}")
        if not 0 < clip < 1:
            raise ValueError(f"clip must be in (0, 1), got {clip}")
        if epochs < 1 or minibatches < 1:
            raise ValueError(f"epochs and minibatches must be >= 1, got {epochs}, {minibatches}")
        self.env, self.generator = env, generator
        self.entropy_coef, self.clip, self.value_coef = entropy_coef, clip, value_coef
        self.epochs, self.minibatches = epochs, minibatches
        in_dim = env.features(env.initial(1)).shape[1]
        with torch.random.fork_rng(devices=[]):
            if init_generator is not None:
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=init_generator)))
            self.net = mlp(in_dim, env.n_actions + 1, hidden, n_layers)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, betas=(0.9, 0.999))

    def logits(self, states: torch.Tensor) -> torch.Tensor:
        return self.net(self.env.features(states))[:, : self.env.n_actions]

    def train_step(self, batch: int = 16) -> tuple[dict[str, float], Trajectories]:
        env = self.env
        trajs = sample_trajectories(env, self.logits, batch, self.generator)
        s, a, _ = trajs.transitions()
        which = torch.nonzero(trajs.valid())[:, 0]
        ret = env.log_reward(trajs.terminal).exp().float()[which]  # γ = 1: every state's return is R(x)
        mask = env.forward_mask(s)
        feats = env.features(s)  # once per round; each minibatch indexes it
        with torch.no_grad():
            out = self.net(feats)
            old_logp = masked_log_softmax(out[:, :-1], mask).gather(1, a[:, None]).squeeze(1)
            adv = ret - out[:, -1]
        stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0}
        n_updates = 0
        for _ in range(self.epochs):
            perm = torch.randperm(len(s), generator=self.generator)
            for idx in perm.chunk(self.minibatches):
                out = self.net(feats[idx])
                logp_all = masked_log_softmax(out[:, :-1], mask[idx])
                logp = logp_all.gather(1, a[idx, None]).squeeze(1)
                ratio = (logp - old_logp[idx]).exp()
                surrogate = torch.minimum(
                    ratio * adv[idx], ratio.clamp(1 - self.clip, 1 + self.clip) * adv[idx]
                )
                probs = logp_all.exp()
                entropy = -(probs * logp_all.masked_fill(~mask[idx], 0.0)).sum(-1).mean()
                value_loss = (out[:, -1] - ret[idx]).pow(2).mean()
                loss = -surrogate.mean() + self.value_coef * value_loss - self.entropy_coef * entropy
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                stats["policy_loss"] += float(-surrogate.mean().detach())
                stats["value_loss"] += float(value_loss.detach())
                stats["entropy"] += float(entropy.detach())
                n_updates += 1
        return {k: v / n_updates for k, v in stats.items()}, trajs

    def state_dict(self) -> dict:
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": None if self.generator is None else self.generator.get_state(),
        }

    def load_state_dict(self, d: dict) -> None:
        self.net.load_state_dict(d["net"])
        self.optimizer.load_state_dict(d["optimizer"])
        if self.generator is not None:
            self.generator.set_state(d["generator"])
