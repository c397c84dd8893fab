"""The settings of `corrected-momentum` (seed004 §S3.6, thesis §4.3.3): data streams, models, losses.

- `replay` (Fig 4.3): minibatches of fresh i.i.d. Mountain Car transitions from uniform states [REF-CODE].
- `online` (Fig 4.4): transitions seen once, in order, along trajectories of the policy; a trajectory that
  reaches the goal restarts from a uniform random state ([REF-CODE] `env.reset()`); `batch` cars run side by
  side (§S3.6: m = 1, one car).
- `rbf` (Figs 4.11–4.13): `replay` with a linear value on a grid of Gaussian RBFs of the (normalised)
  state, one run per kernel width σ².
- `sine` (Fig 4.1, the supervised control): regression of the sine mixture (eq. 4.37) on 10k fixed points.
- `per-layer` (Fig 4.15): `replay` with the deeper MLP of thesis §4.3.3.11 (6 layers, n_h 16, α 0.1,
  n_mb 16, β 0.9); the methods correct some of its layers only.
- `minatar` (Fig 4.16, scaled): TD(0) on a MinAtar Breakout ε-expert's buffer with a small conv net, MSE to
  the sampled returns of states of other episodes of the same expert (most also occur in the training
  buffer: Breakout's states repeat; their returns are independent samples; `_corrected_momentum_minatar.py`).

Each setting's defaults (`DEFAULTS`) are the spec's reduced plan where it gives them, else the thesis's.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from replab.envs import mountain_car_eval as mc
from replab.experiments.bootstrapping import _corrected_momentum_minatar as MA
from replab.nn.init import uniform_fan_in_
from replab.optim import regression_terms, td_terms

SETTINGS = ("replay", "online", "rbf", "sine", "per-layer", "minatar")
DEFAULTS: dict[str, dict[str, Any]] = {
    # §S3.6 main experiment: 5000 steps, minibatch 16, α ∈ {0.1, 0.05}, β = 0.9
    "replay": dict(
        gamma=0.95,
        steps=5000,
        batch=16,
        lr=0.1,
        beta=0.9,
        depth=3,
        methods=("sgd", "momentum", "corrected", "corrected_diag", "adam"),
    ),
    # §S3.6 online variant: m = 1, 20k steps, α ∈ {0.001, 0.005} (thesis §4.3.3.4: β ∈ {0.9, 0.99})
    "online": dict(
        gamma=0.95,
        steps=20000,
        batch=1,
        lr=0.005,
        beta=0.9,
        depth=3,
        methods=("momentum", "corrected", "corrected_diag", "oracle"),
    ),
    # thesis §4.3.3.5 (value drift, RBF): α = 0.1, n_mb = 16, β = 0.99; steps as Fig 4.3
    "rbf": dict(
        gamma=0.95, steps=5000, batch=16, lr=0.1, beta=0.99, depth=3, methods=("momentum", "corrected")
    ),
    # §S3.6 supervised control: 5000 steps, n_mb = 16. α: the thesis's 0.01 (§4.3.3.1) with [REF-CODE]'s
    # undampened momentum on (f − y)² is the same update as dampened momentum α = 2 · 0.01/(1 − β) = 0.2
    # on ½(f − y)² [DERIVED]
    "sine": dict(
        gamma=0.95,
        steps=5000,
        batch=16,
        lr=0.2,
        beta=0.9,
        depth=3,
        methods=("momentum", "corrected", "oracle"),
    ),
    # thesis §4.3.3.11 (MC depth / per-layer, Fig 4.15): 6 layers of width 16, α = 0.1, n_mb = 16, β = 0.9;
    # steps as Fig 4.3. momentum corrects no layer, corrected every layer
    "per-layer": dict(
        gamma=0.95,
        steps=5000,
        batch=16,
        lr=0.1,
        beta=0.9,
        depth=5,
        methods=("momentum", "bottom", "top", "ends", "corrected"),
    ),
    # thesis §4.3.3.8 (Atari): n_mb = 32, β = 0.9 for μ̂ (its α = 1e-4 is the Adam-like variant's on Atari's
    # unnormalised 4.8M-parameter model); α = 0.1 is the dampened rate of the Mountain Car table, Adam keeps
    # `adam_lr`; γ = 0.99 (the thesis's Atari γ); depth = stride-2 convolutions of the small conv model;
    # 2000 updates: the budget of ~10 CPU-min per 5-seed run at n_h = 16 (the full ζ is 3057², ≈ 29 ms/step)
    "minatar": dict(
        gamma=0.99,
        steps=2000,
        batch=32,
        lr=0.1,
        beta=0.9,
        depth=2,
        methods=("momentum", "corrected", "corrected_diag", "adam"),
    ),
}


def sine_target(x: np.ndarray) -> np.ndarray:
    """Thesis eq. 4.37 (x ∈ [−1, 1]); [REF-CODE] uses 0.322 and −0.102 for the last term."""
    return (
        0.5 * np.sin(2.14 * (x + 2))
        + 0.82 * np.sin(9 * x + 0.4)
        + 0.38 * np.sin(12 * x)
        + 0.32 * np.sin(38 * x - 0.1)
    )


class RBFGrid(nn.Module):
    """φ_k(x) = 2 exp(−Σ_j ((x_j − u_kj)/d)²) on a regular n_grid × n_grid grid u over [−1, 1]², with
    d = 2σ²/n_grid ([REF-CODE] rbf.py: d = (hi − lo)/n_grid · sigma, `sigma` being the thesis's σ²).
    Inputs are `mountain_car_eval.features` (both in [−1, 1]), a logged choice: [REF-CODE] feeds raw
    states, whose velocity (±0.07) hardly moves on a [−1, 1] grid."""

    def __init__(self, n_grid: int, sigma2: float):
        super().__init__()
        axis = torch.linspace(-1, 1, n_grid)
        u = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
        self.register_buffer("centres", u)
        self.width = 2 * sigma2 / n_grid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * torch.exp(-((x[:, None, :] - self.centres) / self.width).pow(2).sum(-1))


def init_uniform(net: nn.Module, seed: int) -> nn.Module:
    """PyTorch's default Linear initialisation (U(±1/√fan_in) for weight and bias) from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    return uniform_fan_in_(net, g)


def mlp(d_in: int, hidden: int, depth: int, seed: int) -> nn.Sequential:
    """d_in → hidden × depth → 1, LeakyReLU (§S3.3)."""
    layers, width = [], d_in
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.LeakyReLU()]
        width = hidden
    return init_uniform(nn.Sequential(*layers, nn.Linear(width, 1)), seed)


@dataclass
class Task:
    """One setting's data: `batches(rng)` yields minibatches, `evaluate(net)` the MSE, `floor` the best
    constant predictor's MSE, `probe_x` the health monitor's inputs."""

    setting: str
    eval_x: torch.Tensor
    eval_y: torch.Tensor
    floor: float
    batch: int
    gamma: float
    data: tuple[np.ndarray, np.ndarray] | dict | None = None
    """sine: the fixed points (x, y); minatar: the training buffer"""
    eval_set: dict | None = None
    """minatar: how many episodes the evaluation states come from and the fraction of them that also occur
    in the training buffer (`_corrected_momentum_minatar.expert_data`)"""

    @property
    def td(self) -> bool:  # every setting but sine
        return self.setting != "sine"

    def mse(self, net: nn.Module) -> float:
        with torch.no_grad():
            return float((net(self.eval_x).squeeze(1) - self.eval_y).pow(2).mean())

    def batches(self, rng: np.random.Generator):
        """The endless stream of minibatches of one seed (the same for every method of the seed)."""
        m, f32 = self.batch, torch.float32
        if self.setting == "minatar":
            yield from MA.buffer_batches(self.data, m, rng)  # endless: the code below is never reached
            return
        if self.setting == "sine":
            x, y = self.data
            while True:
                i = rng.integers(0, len(x), m)
                yield (torch.tensor(x[i], dtype=f32)[:, None], torch.tensor(y[i], dtype=f32))
        cars = mc.sample_states(rng, m)
        while True:
            if self.setting == "online":  # in order along trajectories; a finished one restarts at random
                s = cars
                pos, vel, done = mc.step(s[:, 0], s[:, 1], mc.policy(s[:, 1]))
                s2, r, discount = np.stack([pos, vel], 1), np.full(m, mc.REWARD), self.gamma * (1.0 - done)
                cars = np.where(done[:, None], mc.sample_states(rng, m), s2)
            else:
                s, r, s2, discount = mc.transitions(rng, m, self.gamma)
            yield (
                mc.features(s),
                torch.tensor(r, dtype=f32),
                mc.features(s2),
                torch.tensor(discount, dtype=f32),
            )

    def terms(self, net: nn.Module, batch):
        """The closure's per-example terms: TD(0) (`td_terms`) or regression (`regression_terms`)."""
        return td_terms(net, *batch) if self.td else regression_terms(net, *batch)

    def losses(self, net: nn.Module, batches: list) -> torch.Tensor:
        """(K,) `loss` of each of K equal-sized minibatches, from one forward over all of them (the
        oracle's `batched` closure)."""
        k = len(batches)
        cat = tuple(torch.cat(parts) for parts in zip(*batches))
        if not self.td:
            x, y = cat
            return 0.5 * (net(x).squeeze(1) - y).pow(2).reshape(k, -1).mean(1)
        s, r, s2, discount = cat
        target = (r + discount * net(s2).squeeze(1)).detach()
        return 0.5 * (net(s).squeeze(1) - target).pow(2).reshape(k, -1).mean(1)

    def loss(self, net: nn.Module, batch) -> torch.Tensor:
        """The minibatch's loss at the current θ (the oracle recomputes it): the semi-gradient ½δ² with
        the target detached but recomputed, or ½(f − y)²."""
        if not self.td:
            x, y = batch
            return 0.5 * (net(x).squeeze(1) - y).pow(2).mean()
        s, r, s2, discount = batch
        target = (r + discount * net(s2).squeeze(1)).detach()
        return 0.5 * (net(s).squeeze(1) - target).pow(2).mean()


def make_task(
    setting: str,
    rng_eval: np.random.Generator,
    rng_data: np.random.Generator,
    *,
    n_eval: int,
    batch: int,
    gamma: float,
    sine_points: int,
    minatar_buffer: int = 0,
) -> Task:
    """The evaluation set (Mountain Car: `n_eval` uniform states with their exact V^π; sine: the 10k
    fixed training points, on which the regression's MSE is measured; minatar: `minatar_buffer` training
    transitions of the ε-expert and `n_eval` states of other episodes of the same expert, with their sampled
    returns) and the stream's parameters."""
    if setting == "minatar":
        buf, ex, ey, info = MA.expert_data(minatar_buffer, n_eval, rng_data, rng_eval, gamma)
        return Task(setting, ex, ey, float(ey.var(unbiased=False)), batch, gamma, data=buf, eval_set=info)
    if setting == "sine":
        x = rng_data.uniform(-1, 1, sine_points)
        y = sine_target(x)
        ex, ey = torch.tensor(x, dtype=torch.float32)[:, None], torch.tensor(y, dtype=torch.float32)
        return Task(setting, ex, ey, float(np.var(y)), batch, gamma, data=(x, y))
    states = mc.sample_states(rng_eval, n_eval)  # a stream training never draws from
    truth = mc.true_values(states, gamma)
    return Task(
        setting,
        mc.features(states),
        torch.tensor(truth, dtype=torch.float32),
        float(np.var(truth)),
        batch,
        gamma,
    )


class Drift:
    """Value drift (thesis §4.3.2.2, Fig 4.11): the mean of (V_{θ_i}(s′_i) − V_{θ_t}(s′_i))² over the last
    h = ⌈2/(1 − β)⌉ minibatches' non-terminal s′ (the spec's h = 2 n_mb/(1 − β) examples; [REF-CODE]
    weights them by β^age, we average), V_{θ_i}(s′_i) being the bootstrap value minibatch i used."""

    def __init__(self, beta: float):
        self.window: deque = deque(maxlen=math.ceil(round(2 / (1 - beta), 9)))

    def remember(self, net: nn.Module, batch) -> None:
        _, _, s2, discount = batch
        with torch.no_grad():
            self.window.append((s2, net(s2).squeeze(1), discount > 0))

    def measure(self, net: nn.Module) -> float:
        s2 = torch.cat([w[0] for w in self.window])
        then, keep = torch.cat([w[1] for w in self.window]), torch.cat([w[2] for w in self.window])
        with torch.no_grad():
            now = net(s2).squeeze(1)
        return float((then - now)[keep].pow(2).mean()) if keep.any() else 0.0
