"""Representation health (issue 20) for the plasticity family's RL experiments: what their Monitors watch.

A Double DQN's Q-network `head(encoder(obs))` is watched as one module, `QView`, at two layers:
`encoder` (the conv encoder's output, what `replab.rl.agent.watched_encoder` reads) and `hidden` (the ReLU
hidden layer of the head's trainable part: the penultimate features, where plasticity injection acts;
after an injection the fresh head h_θ'₁, the frozen old head and its frozen copy left out). Its
parameters, for `weight_norm`, are the encoder's and that trainable head's. The view is rebuilt at every
measurement (`watched_q`), so it follows a head an intervention replaced.

Jobs run in worker processes carry the Config's health fields and log into a `ProbeLog`
(`experiments/_health.py`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from replab.intervene.inject import InjectedHead

LAYERS = ("encoder", "hidden")


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
