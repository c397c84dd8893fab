"""The expert buffers and Q-networks of `td-gain`: CartPole (§S2.6b) and MinAtar Breakout (§S2.3's Atari).

A task is its ε-expert's `collect` (`replab.envs.cartpole_expert`, `replab.envs.minatar_expert`: the same
buffer fields and tail rule), its number of actions, its Q-network and the hidden layer the health Monitor
reads. Everything else of the protocol (objectives, targets, the gain probe, the claims) is the task-free
code of `td_gain.py`.

- `cartpole`: MLP 4 → width → width → 2, LeakyReLU(0.01) (§S2.6b).
- `minatar`: the DQN network of the MinAtar paper (Young & Tian 2019: one convolutional layer of 16 3×3
  filters, stride 1, then a fully connected hidden layer of 128 units), i.e. Conv(4 → 16, 3×3) → FC 1024 →
  128 → 3, with LeakyReLU(0.01) in place of its ReLU (the thesis's Atari DQN: "LeakyReLU everywhere except the
  linear output", §S2.3). The sizes are `minatar_net`; `width` is the CartPole MLP's only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from replab.envs import cartpole_expert, minatar_expert
from replab.nn.init import uniform_fan_in_


@dataclass(frozen=True)
class Task:
    label: str
    """How the report names the data."""
    n_actions: int
    hidden: str
    """The Monitor's layer: the last hidden activation of `net`."""
    collect: Callable[..., dict[str, np.ndarray]]
    net: Callable[[object, int], nn.Module]
    """net(cfg, seed) -> the Q-network, drawn from a per-seed generator (every arm of a seed shares it)."""
    make_env: Callable[[], object] | None = None
    """The env the expert plays, for the `control` arm's own agent (gymnasium API, reset(seed=) / step)."""
    horizon: int = 0
    """Stored steps per episode of the expert buffer (CartPole-v1's limit; MinAtar: 1000); the `control`
    arm cuts its episodes there too (a bootstrap state, not a terminal)."""


def _cartpole_collect(n, seed, **kw):
    from replab.envs.cartpole_expert import collect

    return collect(n, seed, **kw)


def _minatar_collect(n, seed, **kw):
    from replab.envs.minatar_expert import collect

    return collect(n, seed, **kw)


def _cartpole_env():
    from gymnasium.envs.classic_control.cartpole import CartPoleEnv

    return CartPoleEnv()


def _minatar_env():
    from replab.envs.minatar_expert import make_env

    return make_env()


def cartpole_net(cfg, seed: int) -> nn.Sequential:
    """MLP 4 → width → width → 2, LeakyReLU(0.01); PyTorch's default Linear bounds drawn from a
    per-seed generator."""
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Linear(4, cfg.width),
        nn.LeakyReLU(0.01),
        nn.Linear(cfg.width, cfg.width),
        nn.LeakyReLU(0.01),
        nn.Linear(cfg.width, 2),
    )
    return uniform_fan_in_(net, g)


def minatar_net(cfg, seed: int, in_channels: int = 4, n_actions: int = 3) -> nn.Sequential:
    """Conv(in → c, 3×3, stride 1, no padding) → LeakyReLU → FC c·8·8 → h → LeakyReLU → FC h → n_actions,
    (c, h) = cfg.minatar_net (MinAtar's DQN: 16, 128). PyTorch's default bounds U(±1/√fan_in) for every
    weight and bias (Conv2d's kaiming_uniform(a=√5) is that bound too), drawn from a per-seed generator
    (`uniform_fan_in_`)."""
    c, h = cfg.minatar_net
    g = torch.Generator().manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(in_channels, c, 3),
        nn.LeakyReLU(0.01),
        nn.Flatten(),
        nn.Linear(c * 8 * 8, h),
        nn.LeakyReLU(0.01),
        nn.Linear(h, n_actions),
    )
    return uniform_fan_in_(net, g)  # the conv first, then the Linears (module order)


TASKS = {
    "cartpole": Task(
        "a CartPole heuristic expert",
        2,
        "3",
        _cartpole_collect,
        cartpole_net,
        _cartpole_env,
        cartpole_expert.HORIZON,
    ),
    "minatar": Task(
        "a MinAtar Breakout heuristic expert",
        3,
        "4",
        _minatar_collect,
        minatar_net,
        _minatar_env,
        minatar_expert.HORIZON,
    ),
}
