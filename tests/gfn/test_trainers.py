import copy

import pytest
import torch

from replab.gfn.compare import make_method, run_curve
from replab.gfn.exact import policy_table, sampling_distribution
from replab.gfn.gflownet import GFlowNet
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.metrics import l1_distance


def test_flow_matching_learns_the_exact_target_on_a_small_grid():
    """Learning outcome: n=2, H=4 flow matching trained to near-zero loss matches R/Z (exact DP L1)."""
    torch.manual_seed(0)
    env = HyperGrid(2, 4, R0=0.1)
    gfn = GFlowNet(env, "fm", hidden=64, lr=3e-3, generator=torch.Generator().manual_seed(0))
    for _ in range(400):
        metrics, _ = gfn.train_step(16)
    p = env.true_distribution()
    u = sampling_distribution(env, policy_table(env, gfn.logits))
    uniform = env.reachable().double() / env.reachable().sum()
    assert metrics["loss"] < 1e-3
    assert l1_distance(p, u, env.reachable()) < 0.05 * l1_distance(p, uniform, env.reachable())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"replay": "uniform"},
        {"replay": "prioritized"},
        {"ema_tau": 0.9},
        {"optimizer": "rmsprop"},
        {"optimizer": "sgd"},
        {"eps": 1e-3, "leaf_coef": 10.0},
        {"temperature": 0.5, "epsilon": 0.1},
    ],
)
def test_flow_matching_options_run_and_reduce_the_loss(kwargs):
    env = HyperGrid(2, 5, R0=0.1)
    gfn = GFlowNet(env, "fm", hidden=32, lr=3e-3, generator=torch.Generator().manual_seed(0), **kwargs)
    first = [gfn.train_step(16)[0]["loss"] for _ in range(5)]
    for _ in range(60):
        gfn.train_step(16)
    last = [gfn.train_step(16)[0]["loss"] for _ in range(5)]
    assert sum(last) < sum(first)


def test_checkpoint_round_trip_continues_identically():
    env = HyperGrid(2, 5)

    def make():
        return GFlowNet(
            env,
            "fm",
            hidden=16,
            replay="uniform",
            generator=torch.Generator().manual_seed(3),
            init_generator=torch.Generator().manual_seed(4),
        )

    a = make()
    for _ in range(5):
        a.train_step(8)
    b = make()
    b.load_state_dict(copy.deepcopy(a.state_dict()))  # as torch.save / torch.load would
    la = [a.train_step(8)[0]["loss"] for _ in range(3)]
    lb = [b.train_step(8)[0]["loss"] for _ in range(3)]
    assert la == lb


def test_invalid_arguments_are_rejected():
    env = HyperGrid(2, 4)
    for kw in (
        {"objective": "sql"},
        {"optimizer": "adagrad"},
        {"lr": 0.0},
        {"replay": "top"},
        {"objective": "tb", "replay": "uniform"},
        {"ema_tau": 1.5},
        {"eps": -1.0},
    ):
        with pytest.raises(ValueError):
            GFlowNet(env, **kw)


@pytest.mark.parametrize("name", ["fm", "db", "tb", "mcmc", "ppo", "sac", "random"])
def test_every_method_runs_a_curve(name):
    env = HyperGrid(2, 5, R0=0.1)
    m = make_method(
        name,
        env,
        batch=8,
        hidden=16,
        generator=torch.Generator().manual_seed(0),
        init_generator=torch.Generator().manual_seed(1),
    )
    seen = []
    curve = run_curve(m, env, 12, log_every=4, exact_every=6, on_log=lambda s, v, r: seen.append((s, v)))
    assert curve["states"][-1] == (12 * 8 if name != "mcmc" else 12 * 8)
    assert len(curve["l1"]) == 3 and all(x >= 0 for x in curve["l1"])
    assert (curve["final_exact_l1"] is None) == (name == "mcmc")
    assert seen and all("l1" in v or "exact_l1" in v for _, v in seen)
    restored = make_method(
        name,
        env,
        batch=8,
        hidden=16,
        generator=torch.Generator().manual_seed(0),
        init_generator=torch.Generator().manual_seed(1),
    )
    restored.load_state_dict(m.state_dict())
