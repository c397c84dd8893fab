"""td-interference's REINFORCE arm on masked digits (eq. 3.15): its gradient against a hand-computed
−G∇log π, the Monte-Carlo returns against their closed form, a tiny run that learns above chance, the
method/task checks, and a tiny run end to end that leaves the other arms' results as they were."""

import dataclasses
import json
import math

import pytest
import torch
from _bootstrapping_helpers import MASKED_TINY, RecordingRun
from torch import nn

from replab import seeding
from replab.experiments.bootstrapping import _masked_digits_arms as md
from replab.experiments.bootstrapping import _masked_digits_reinforce as pg
from replab.experiments.bootstrapping import td_interference as tdi
from replab.probe.rho_evolution import rho_prime_autodiff

TINY = dataclasses.replace(MASKED_TINY, methods=("regression", "td", "reinforce"))


def test_reinforce_gradient_is_minus_g_grad_log_pi():
    """∇ of the loss on a linear policy z = Wx + b equals the mean over rows of −G_i (e_a − softmax(z)) per
    head (the softmax score function, by hand) times (x_i, 1); float64, rtol 1e-10. The per-example form
    that ρ′ uses (vmap over rows) gives the same gradients: its ρ = ∇J_Aᵀ∇J_B equals their Gram matrix."""
    torch.manual_seed(0)
    net = nn.Linear(5, 14).double()
    x = torch.randn(4, 5, dtype=torch.float64)
    c, m = torch.tensor([3, 0, 9, 3]), torch.tensor([1, 3, 0, 2])
    g = torch.tensor([0.81, -0.1, 1.0, -0.271], dtype=torch.float64)
    y = pg.reinforce_target(c, m, g)
    net.zero_grad()
    pg.reinforce_loss(net(x), y).backward()
    with torch.no_grad():
        z = net(x)
        dz = torch.cat(
            [
                -g[:, None] * (torch.eye(10, dtype=torch.float64)[c] - z[:, :10].softmax(1)),
                -g[:, None] * (torch.eye(4, dtype=torch.float64)[m] - z[:, 10:].softmax(1)),
            ],
            1,
        )  # ∂(−G log π)/∂z per row
    want_w, want_b = dz.T @ x / len(x), dz.mean(0)
    torch.testing.assert_close(net.weight.grad, want_w, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(net.bias.grad, want_b, rtol=1e-10, atol=1e-12)
    per = torch.cat([(dz[:, :, None] * x[:, None, :]).flatten(1), dz], 1)  # (N, |W| + |b|), W then b
    rho = rho_prime_autodiff(net, pg.reinforce_loss, x, y)["rho"]
    torch.testing.assert_close(rho, per @ per.T, rtol=1e-10, atol=1e-12)


def test_monte_carlo_returns():
    got = pg.mc_returns([-0.1, -0.1, 1.0], 0.9)
    assert got == pytest.approx([-0.1 - 0.09 + 0.81, -0.1 + 0.9, 1.0], abs=1e-12)
    assert pg.mc_returns([-0.1] * 3, 0.5) == pytest.approx([-0.175, -0.15, -0.1], abs=1e-12)


@pytest.mark.slow  # a learning outcome: ≈ 9 s CPU, minutes of wall time on a loaded machine
def test_tiny_reinforce_learns_above_chance():
    """10 training images (one per class), 10k env steps, Adam 2e-3 (an easy setting, not the preset's):
    the greedy training accuracy, mean of 3 seeds, is >= 0.3 (chance 0.1); the same networks at
    initialisation score < 0.25."""
    easy = dataclasses.replace(TINY, probes="none", env_steps=10_000, masked_lr=2e-3, masked_batch=64)
    runs = [(RecordingRun(), seed) for seed in range(3)]
    outs = [pg.train_reinforce(easy, r, 10, 32, 0, seed) for r, seed in runs]
    for (r, seed), out in zip(runs, outs):
        assert math.isfinite(out["rho"]) and out["rho"] > 0 and 0 <= out["test_acc"] <= 1
        assert out["updates"] > 100 and math.isfinite(out["rho_prime"]["rho_prime_mean"])
        arm = f"reinforce/n10/h32L0/s{seed}"
        assert r.logged[(f"eval/train_acc/{arm}", out["updates"])] == out["train_acc"]
        assert r.logged[(f"eval/gap/{arm}", out["updates"])] == pytest.approx(out["gap"])
    assert sum(o["train_acc"] for o in outs) / 3 >= 0.3
    untrained = []  # the same networks at initialisation (the arm's own init stream)
    for seed in range(3):
        (x, y), _ = md._split(easy, 10, seed, 0)
        net0 = md.mlp(128, 32, 0, md.N_OUT, seeding.derive_seed(0, f"masked/init/10/32/0/{seed}"))
        untrained.append(md.greedy_accuracy(net0, x, y))
    assert sum(untrained) / 3 < 0.25


def test_reinforce_only_on_masked_digits():
    with pytest.raises(ValueError, match="reinforce runs on task='masked-digits' only"):
        tdi.Config(methods=("regression", "reinforce"))
    with pytest.raises(ValueError, match=r"unknown method 'pg', choose from .*'reinforce'"):
        dataclasses.replace(TINY, methods=("pg",))
    assert "reinforce" not in tdi.DEFAULT.methods and "reinforce" not in tdi.PAPER.methods
    with pytest.raises(
        ValueError, match=r"reinforce: env_steps \(95\) must be >= masked_batch \+ 10 × envs = 96"
    ):
        dataclasses.replace(TINY, env_steps=95, learning_starts=0)
    dataclasses.replace(
        TINY, methods=("reinforce",), env_steps=96, learning_starts=96
    )  # no DDQN: no warm-up check
    short = dataclasses.replace(TINY, learning_starts=0)
    short.env_steps = 8  # past the Config's check: train_reinforce's own guard
    with pytest.raises(ValueError, match="raise env_steps above masked_batch"):
        pg.train_reinforce(short, RecordingRun(), 20, 8, 0, 0)


def test_reinforce_health_monitor_runs_on_ddqn_update_clock():
    """The Monitor's probes fire at the same update clock as DDQN's (env steps past the warm-up / update_every),
    not at REINFORCE's few updates: with 320 env steps, warm-up 160, 2 env steps per update, DDQN's clock ends
    at 80, so probes due every 20 are logged at 20, 40, 60, 80."""
    cfg = dataclasses.replace(TINY, probe_every=20)
    r = RecordingRun()
    pg.train_reinforce(cfg, r, 20, 8, 0, 0)
    steps = sorted({s for (k, s) in r.logged if k.startswith("probe/") and "reinforce/" in k})
    assert steps == [20, 40, 60, 80]


def test_tiny_run_with_reinforce_end_to_end(tmp_path):
    """REINFORCE beside SL and DDQN: its units, report row and figures; the SL and DDQN units equal a run
    without it (rel 1e-9: the same computation, its draws come from their own streams)."""
    from replab.launch import start_run
    from replab.track.store import Store

    store = Store(tmp_path / "s.db")
    res, ids = {}, {}
    for name, cfg in (("with", TINY), ("without", dataclasses.replace(TINY, methods=("regression", "td")))):
        run_id, _ = start_run("td-interference", cfg, preset="smoke", store=store, quiet=True)
        ids[name] = run_id
        res[name] = json.loads((tmp_path / run_id / "results.json").read_text())["results"]
    pgs = {k: u for k, u in res["with"].items() if k.startswith("reinforce/")}
    assert len(pgs) == 3 * 2
    for u in pgs.values():
        assert 0 <= u["train_acc"] <= 1 and math.isfinite(u["rho"]) and u["updates"] >= 1
        assert "rho_prime_mean" in u["rho_prime"] and "r2_pos" not in u["rho_prime"]
    for k, u in res["without"].items():
        for f in ("train_acc", "test_acc", "gap", "rho", "updates"):
            assert res["with"][k][f] == pytest.approx(u[f], rel=1e-9, abs=1e-12), (k, f)
    rep = (tmp_path / ids["with"] / "report.md").read_text()
    assert "| REINFORCE | 20 |" in rep and "REINFORCE (eq. 3.15, no baseline" in rep
