"""Shared scaffolding of the bootstrapping tests: a run stub that keeps its log, a float64 MLP with drawn
weights (the ρ′ tests), and the tiny masked-digits config of td-interference's masked arms."""

import dataclasses

import torch
from torch import nn

from replab.experiments.bootstrapping import td_interference as tdi


class RecordingRun:
    """The two things the arms read of a run: its seed and its log (kept, to compare)."""

    def __init__(self, seed=0):
        self.seed, self.logged = seed, {}

    def log(self, metrics, step):
        for k, v in metrics.items():
            self.logged[(k, step)] = float(v)


def float64_mlp(d_in: int, d_out: int, act=nn.Tanh, width: int = 6, scale: float = 0.7) -> nn.Sequential:
    """d_in → width → width → d_out in float64, weights N(0, scale²) from generator seed 0."""
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(
        nn.Linear(d_in, width), act(), nn.Linear(width, width), act(), nn.Linear(width, d_out)
    )
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * scale)
    return net


MASKED_TINY = dataclasses.replace(
    tdi.SMOKE,
    task="masked-digits",
    methods=("regression", "td"),
    masked_n_train=(20,),
    env_steps=320,
    learning_starts=160,
    envs=8,
    replay=400,
    masked_batch=16,
    rho_pairs=4,
    interference_batch=8,
    probe_batch=32,
)
"""td-interference's masked-digits arms at a few seconds: 20 training images, 320 env steps."""
