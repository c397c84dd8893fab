"""Samplers compared on the hyper-grid at equal visited terminal states (seed004 §S4.5, §S4.7).

Each method exposes `round() -> cells (K,)`: one unit of work (one GFlowNet or PPO update on 16
fresh trajectories, 16 random trajectories, one step of 16 MCMC chains) returning the flat numbers of
the terminal states it visited, `exact()` -> its exact sampling distribution `(H^n,)` (None for MCMC),
and `state_dict()` / `load_state_dict()` for checkpoints.
"""

from __future__ import annotations

import torch

from replab.gfn.exact import policy_table, sampling_distribution
from replab.gfn.gflownet import GFlowNet
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.mcmc import MetropolisHastings
from replab.gfn.metrics import EmpiricalDistribution, l1_distance
from replab.gfn.ppo import PPO
from replab.gfn.sac import DiscreteSAC
from replab.gfn.sampler import sample_trajectories

METHODS = ("fm", "db", "tb", "mcmc", "ppo", "sac", "random")
LABELS = {
    "fm": "GFlowNet (flow matching)",
    "db": "GFlowNet (detailed balance)",
    "tb": "GFlowNet (trajectory balance)",
    "mcmc": "MH-MCMC",
    "ppo": "PPO",
    "sac": "SAC (discrete)",
    "random": "uniform random",
}


class PolicyMethod:
    """A GFlowNet, PPO or SAC learner: each round trains once on `batch` fresh trajectories."""

    def __init__(self, learner, env: HyperGrid, batch: int):
        self.learner, self.env, self.batch = learner, env, batch
        self.last: dict[str, float] = {}

    def round(self) -> torch.Tensor:
        self.last, trajs = self.learner.train_step(self.batch)
        return self.env.flat_index(trajs.terminal)

    def exact(self) -> torch.Tensor:
        return sampling_distribution(self.env, policy_table(self.env, self.learner.logits))

    def state_dict(self) -> dict:
        return self.learner.state_dict()

    def load_state_dict(self, d: dict) -> None:
        self.learner.load_state_dict(d)


class RandomMethod:
    """The uniform random policy over allowed actions (stop included), `batch` trajectories a round."""

    def __init__(self, env: HyperGrid, batch: int, generator: torch.Generator):
        self.env, self.batch, self.generator, self.last = env, batch, generator, {}

    def round(self) -> torch.Tensor:
        return self.env.flat_index(sample_trajectories(self.env, None, self.batch, self.generator).terminal)

    def exact(self) -> torch.Tensor:
        zeros = torch.zeros(self.env.H**self.env.n, self.env.n_actions, dtype=torch.float64)
        return sampling_distribution(self.env, torch.log_softmax(zeros, -1))

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, d: dict) -> None:
        self.generator.set_state(d["generator"])


class MCMCMethod:
    """`batch` parallel Metropolis–Hastings chains, one step each per round."""

    def __init__(self, env: HyperGrid, batch: int, generator: torch.Generator, count_rejected: bool = True):
        self.chains = MetropolisHastings(env, batch, count_rejected, generator)
        self.last: dict[str, float] = {}

    def round(self) -> torch.Tensor:
        cells = self.chains.step()
        self.last = {"acceptance": self.chains.accepted / max(self.chains.proposed, 1)}
        return cells

    def exact(self) -> None:
        return None

    def state_dict(self) -> dict:
        return self.chains.state_dict()

    def load_state_dict(self, d: dict) -> None:
        self.chains.load_state_dict(d)


def make_method(
    name: str,
    env: HyperGrid,
    *,
    batch: int = 16,
    generator: torch.Generator,
    init_generator: torch.Generator,
    hidden: int = 256,
    n_layers: int = 2,
    lr: float = 1e-3,
    gfn_kwargs: dict | None = None,
    ppo_kwargs: dict | None = None,
    sac_kwargs: dict | None = None,
    mcmc_count_rejected: bool = True,
):
    """The method `name` (one of METHODS) on `env`, drawing from `generator` (sampling) and
    `init_generator` (initial weights)."""
    if name not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {name!r}")
    net = {
        "hidden": hidden,
        "n_layers": n_layers,
        "lr": lr,
        "generator": generator,
        "init_generator": init_generator,
    }
    if name in ("fm", "db", "tb"):
        return PolicyMethod(GFlowNet(env, name, **net, **(gfn_kwargs or {})), env, batch)
    if name == "ppo":
        return PolicyMethod(PPO(env, **net, **(ppo_kwargs or {})), env, batch)
    if name == "sac":
        return PolicyMethod(DiscreteSAC(env, **net, **(sac_kwargs or {})), env, batch)
    if name == "mcmc":
        return MCMCMethod(env, batch, generator, mcmc_count_rejected)
    return RandomMethod(env, batch, generator)


def run_curve(
    method,
    env: HyperGrid,
    rounds: int,
    *,
    window: int = 100_000,
    log_every: int = 50,
    exact_every: int = 0,
    on_log=None,
) -> dict:
    """Run `rounds` rounds of `method`, measuring every `log_every` rounds the empirical L1 over the last
    `window` visited terminal states and the modes found, and every `exact_every` rounds (0: only at the
    end) the exact L1 of methods that have one. `on_log(states_visited, values: dict)` sees each point.

    Returns the curve: {"states", "l1", "modes", "exact_states", "exact_l1", "states_to_all_modes",
    "final_exact_l1"} (lists of floats; None where not measured).
    """
    p, support, modes = env.true_distribution(), env.reachable(), env.mode_mask()
    n_modes = int(modes.sum())
    emp = EmpiricalDistribution(env.H**env.n, window)
    curve = {
        "states": [],
        "l1": [],
        "modes": [],
        "exact_states": [],
        "exact_l1": [],
        "states_to_all_modes": None,
    }
    for r in range(1, rounds + 1):
        emp.add(method.round())
        if curve["states_to_all_modes"] is None and emp.modes_found(modes) == n_modes:
            curve["states_to_all_modes"] = emp.total
        values = {}
        if r % log_every == 0 or r == rounds:
            values = {"l1": l1_distance(p, emp.frequencies(), support), "modes": emp.modes_found(modes)}
            curve["states"].append(emp.total)
            curve["l1"].append(values["l1"])
            curve["modes"].append(values["modes"])
        if (exact_every and r % exact_every == 0) or r == rounds:
            u = method.exact()
            if u is not None:
                values["exact_l1"] = l1_distance(p, u, support)
                curve["exact_states"].append(emp.total)
                curve["exact_l1"].append(values["exact_l1"])
        if values and on_log is not None:
            on_log(emp.total, {**values, **method.last}, r)
    curve["final_exact_l1"] = curve["exact_l1"][-1] if curve["exact_l1"] else None
    return curve
