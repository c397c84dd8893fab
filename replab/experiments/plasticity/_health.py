"""Representation health (issue 20) for the plasticity family's RL experiments: what their Monitors watch
and the fixed probe batches they watch it on.

A Double DQN's Q-network `head(encoder(obs))` is watched as one module, `QView`, at two layers:
`encoder` (the conv encoder's output, what `replab.rl.agent.watched_encoder` reads) and `hidden` (the ReLU
hidden layer of the head's trainable part: the penultimate features, where plasticity injection acts;
after an injection the fresh head h_θ'₁, the frozen old head and its frozen copy left out). Its
parameters, for `weight_norm`, are the encoder's and that trainable head's. The view is rebuilt at every
measurement (`watched_q`), so it follows a head an intervention replaced.

Jobs run in worker processes carry the Config's health fields (`health_fields`) and log into a
`ProbeLog`; the parent writes the rows into the run (`replay_probes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields

import numpy as np
import torch
from torch import nn

from replab.envs import make
from replab.intervene.inject import InjectedHead
from replab.probe.health import HealthConfig
from replab.probe.monitor import ProbeLog

HEALTH_FIELDS = tuple(f.name for f in fields(HealthConfig))
LAYERS = ("encoder", "hidden")


def health_fields(cfg) -> dict:
    """The HealthConfig fields of `cfg` (a Config or a job dict holding them), for a job dict."""
    get = cfg.get if isinstance(cfg, dict) else lambda k: getattr(cfg, k)
    return {k: get(k) for k in HEALTH_FIELDS}


def health_config(values: dict) -> HealthConfig:
    """The HealthConfig a worker rebuilds from a job's health fields."""
    return HealthConfig(**{k: values[k] for k in HEALTH_FIELDS})


class QView(nn.Module):
    """`hidden(encoder(view(obs)))` of a Q-network whose head has an `advantage` MLP (Linear, ReLU, ...):
    the layers `encoder` and `hidden` for a Monitor (see the module's docstring)."""

    def __init__(self, net: nn.Module, view: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        head = net.head.fresh if isinstance(net.head, InjectedHead) else net.head
        self.encoder, self.head, self._view = net.encoder, head, view
        self.hidden = head.advantage[:2]  # shares the head's modules (counted once in parameters())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.hidden(self.encoder(self._view(obs)))


def watched_q(agent) -> Callable[[], nn.Module]:
    """The agent's current online Q-network as a `QView`, looked up at each measurement."""
    return lambda: QView(agent.online, agent.view)


def env_observations(env_id: str, env_kwargs: dict, n: int, seed: int, stride: int = 4) -> torch.Tensor:
    """`n` observations of a uniformly random policy in a separate instance of the run's environment
    (every `stride`-th step, its own seed and action stream): the monitor's fixed probe batch, drawn
    without touching the training environment, the replay's sampler or any global random stream."""
    env = make(env_id, **env_kwargs)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    out = []
    for t in range(n * stride):
        if t % stride == 0:
            out.append(np.asarray(obs))
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return torch.as_tensor(np.stack(out))


def replay_probes(run, result: dict) -> None:
    """Write a worker's probe rows into the run and drop them from the stored result (they live in the
    store; results.json stays the same with and without probes)."""
    ProbeLog.replay(run, result.pop("probes", None))
