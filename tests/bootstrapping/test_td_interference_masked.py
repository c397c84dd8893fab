"""td-interference's masked-digits task and TD(λ) arm: the pieces against direct computations, a tiny run end
to end, and the masked report's decision (with its floor guard) on constructed results."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from _bootstrapping_helpers import MASKED_TINY, RecordingRun
from torch import nn

from replab.envs.masked_digits import MaskedDigits, load_digits_split
from replab.experiments.bootstrapping import _masked_digits_arms as md
from replab.experiments.bootstrapping import td_interference as tdi
from replab.experiments.bootstrapping._td_interference_report import report

TINY = MASKED_TINY


def test_partial_reset_equals_fresh_episodes():
    (x, y), _ = load_digits_split()
    env = MaskedDigits(x[:6], y[:6])
    env.reset(torch.arange(6))
    wrong = (y[:6] + 1) % 10
    env.step(wrong, torch.tensor([0, 1, 2, 3, 0, 1]))
    before = env.observation()
    done = torch.tensor([True, False, True, False, False, False])
    md.reset_where(env, done, torch.tensor([4, 5]))
    fresh = MaskedDigits(x[:6], y[:6]).reset(torch.tensor([4, 5]))
    obs = env.observation()
    assert torch.equal(obs[done], fresh) and torch.equal(obs[~done], before[~done])
    assert env.t.tolist() == [0, 1, 0, 1, 1, 1] and env.seeds.tolist() == [4, 1, 5, 3, 4, 5]


class _Oracle(nn.Module):
    """Q with the right class's output at 1 (the others 0): the label is read from a hidden pixel code."""

    def __init__(self, labels):
        super().__init__()
        self.labels = labels

    def forward(self, obs):
        q = torch.zeros(obs.shape[0], md.N_OUT)
        q[torch.arange(obs.shape[0]), self.labels[: obs.shape[0]]] = 1.0
        return q


def test_greedy_accuracy_of_an_oracle_and_a_constant_policy():
    (x, y), _ = load_digits_split()
    assert md.greedy_accuracy(_Oracle(y[:50]), x[:50], y[:50]) == 1.0
    const = _Oracle(torch.zeros(50, dtype=torch.long))  # always class 0
    assert md.greedy_accuracy(const, x[:50], y[:50]) == pytest.approx(float((y[:50] == 0).float().mean()))


def test_double_q_targets_per_head():
    net, target = md.mlp(128, 8, 0, md.N_OUT, 1), md.mlp(128, 8, 0, md.N_OUT, 2)
    g = torch.Generator().manual_seed(0)
    b = {"s2": torch.rand(5, 128, generator=g), "r": torch.tensor([1.0, -0.1, -0.1, 1.0, -0.1])}
    b["term"] = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0])
    yc, ym = md._targets(net, target, b, 0.9)
    for i in range(5):
        qn, qt = net(b["s2"][i : i + 1])[0].detach(), target(b["s2"][i : i + 1])[0].detach()
        keep = 0.9 * (1 - b["term"][i])
        assert float(yc[i]) == pytest.approx(float(b["r"][i] + keep * qt[int(qn[:10].argmax())]), abs=1e-6)
        assert float(ym[i]) == pytest.approx(
            float(b["r"][i] + keep * qt[10 + int(qn[10:].argmax())]), abs=1e-6
        )


def test_chain_lambda_targets_at_the_ends():
    cfg = tdi.SMOKE
    (x, c, v), _ = tdi._digits(cfg, 50, 0, 0)
    by_class = [np.flatnonzero(c.numpy() == k) for k in range(10)]
    const = nn.Linear(64, 1)
    with torch.no_grad():
        const.weight.zero_()
        const.bias.fill_(0.37)
    idx = np.arange(len(x))
    mc = tdi.chain_lambda_targets(const, x, c, idx, by_class, np.random.default_rng(0), 0.9, 1.0)
    torch.testing.assert_close(mc, v, rtol=1e-6, atol=1e-7)  # λ = 1: the Monte-Carlo return γ^(9 − c)
    td0 = tdi.chain_lambda_targets(const, x, c, idx, by_class, np.random.default_rng(0), 0.9, 0.0)
    want = torch.where(c == 9, torch.tensor(1.0), torch.tensor(0.9 * 0.37))
    torch.testing.assert_close(td0, want, rtol=1e-6, atol=1e-7)  # λ = 0: the one-step target
    half = tdi.chain_lambda_targets(const, x, c, idx, by_class, np.random.default_rng(0), 0.9, 0.5)
    g = {9: 1.0}
    for k in range(8, -1, -1):  # G_k = γ[(1 − λ)·0.37 + λ G_{k+1}]
        g[k] = 0.9 * (0.5 * 0.37 + 0.5 * g[k + 1])
    torch.testing.assert_close(half, torch.tensor([g[int(k)] for k in c]), rtol=1e-6, atol=1e-7)


def test_config_rejects_bad_masked_values():
    with pytest.raises(ValueError, match="task: unknown task 'maze'"):
        dataclasses.replace(TINY, task="maze")
    with pytest.raises(ValueError, match="td_lambda runs on task='chain' only"):
        dataclasses.replace(TINY, methods=("td", "td_lambda"))
    with pytest.raises(ValueError, match=r"env_steps \(100\) must exceed learning_starts"):
        dataclasses.replace(TINY, env_steps=100, learning_starts=200)
    with pytest.raises(ValueError, match="sl_output must be"):
        dataclasses.replace(TINY, sl_output="mean")
    with pytest.raises(ValueError, match=r"learning_starts \(164\) must be a multiple of envs \(8\)"):
        dataclasses.replace(TINY, learning_starts=164)


def test_n_updates_counts_the_loops_updates():
    """n_updates against a direct count of the training loop's update condition."""
    for steps, starts, envs, every in (
        (320, 160, 8, 2),
        (330, 160, 8, 4),
        (15_000, 1000, 8, 2),
        (50, 0, 5, 5),
    ):
        cfg = dataclasses.replace(
            TINY, env_steps=steps, learning_starts=starts, envs=envs, update_every=every
        )
        loops = [t for t in range(math.ceil(steps / envs)) if (t + 1) * envs > starts]
        assert md.n_updates(cfg) == len(loops) * (envs // every)


@pytest.mark.parametrize("arm", [md.train_ddqn, md.train_sl])
def test_measurement_settings_leave_training_unchanged(arm):
    """ρ′'s `rho_pairs`/`rho_at` and the probes' `probe_batch`/`interference_batch` draw from their own
    streams: the trained network (its accuracies, its ρ̄ on the same states) and the training-side logs are
    unchanged (rtol 1e-6: the same computation, bar thread-order summation)."""
    base = dataclasses.replace(TINY, probes="srank", probe_every=40)
    runs = {}
    for name, cfg in (
        ("base", base),
        ("rho", dataclasses.replace(base, rho_pairs=7, rho_at=0.5)),
        ("probe", dataclasses.replace(base, probe_batch=20)),
    ):
        runs[name] = (RecordingRun(), cfg)
        runs[name] = (runs[name][0], arm(cfg, runs[name][0], 20, 8, 0, 0))
    b = runs["base"][1]
    for name in ("rho", "probe"):
        out = runs[name][1]
        for k in ("train_acc", "test_acc", "gap", "rho", "updates"):
            assert out[k] == pytest.approx(b[k], rel=1e-6, abs=1e-9), (name, k)
    assert runs["rho"][1]["rho_prime"]["at"] != b["rho_prime"]["at"]  # the measurement itself did move
    base_log, rho_log = runs["base"][0].logged, runs["rho"][0].logged
    assert base_log.keys() == rho_log.keys() and any(k[0].startswith("probe/") for k in base_log)
    for k, v in base_log.items():  # the probes measure the same network at every step (perf/: timings)
        if not k[0].startswith("perf/"):
            assert rho_log[k] == pytest.approx(v, rel=1e-6, abs=1e-9), k


def test_tiny_masked_run_end_to_end(tmp_path):
    from replab.launch import start_run
    from replab.track.store import Store

    store = Store(tmp_path / "s.db")
    run_id, verdict = start_run("td-interference", TINY, preset="smoke", store=store, quiet=True)
    res = json.loads((tmp_path / run_id / "results.json").read_text())
    units = res["results"]
    assert len(units) == 2 * 3 * 2 and res["config"]["task"] == "masked-digits"
    for k, u in units.items():
        assert 0 <= u["train_acc"] <= 1 and 0 <= u["test_acc"] <= 1 and math.isfinite(u["rho"])
        assert u["updates"] == md.n_updates(TINY) == 80
        assert {"rho_prime_mean", "rho_prime_pos"} <= set(u["rho_prime"])
        assert ("r2_pos" in u["rho_prime"]) == k.startswith("td/")  # r₁–r₃ for DDQN only
    rep = (tmp_path / run_id / "report.md").read_text()
    assert "SL > DDQN" in rep and (tmp_path / run_id / "rho_prime.png").stat().st_size > 0
    assert store.metrics(run_id, prefixes=("probe/",))


def _masked_results(sl_gaps, dq_gaps, seeds=5):
    """Gaps per capacity at n_T = 100 (n_T = 20 gets them reversed); ρ̄ = e^k for capacity k."""
    cfg = {
        "task": "masked-digits",
        "methods": ["regression", "td"],
        "seeds": seeds,
        "n_train": [20, 100],
        "widths": [8, 16, 24],
        "depths": [0],
        "masked_min_effect": 0.3,
        "claim_min_train": 100,
        "env_steps": 1,
        "envs": 1,
        "masked_batch": 1,
        "masked_lr": 1e-3,
        "gamma": 0.9,
        "tau": 0.1,
    }
    res = {}
    for method, gaps in (("regression", sl_gaps), ("td", dq_gaps)):
        for s in range(seeds):
            for n in (20, 100):
                for k, w in enumerate(cfg["widths"]):
                    gap = (gaps[k] if n == 100 else -gaps[k]) + 0.001 * s * (k == 1)
                    res[f"{method}/n{n}/h{w}L0/s{s}"] = {
                        "train_acc": 0.9,
                        "test_acc": 0.9 - gap,
                        "gap": gap,
                        "rho": math.exp(k),
                        "rho_prime": {},
                    }
    return {"config": cfg, "results": res}


def test_masked_report_decides_with_the_floor_guard():
    up, down = (0.0, 0.1, 0.2), (0.0, -0.1, -0.2)
    rep = report(_masked_results(up, down))
    head = next(c for c in rep.checks if c.headline)
    assert head.verdict == "held"  # n_T = 20 (reversed gaps) is left out of the decision
    assert next(c for c in rep.checks if c.name.startswith("r(log ρ̄, gap) < 0")).verdict == "held"
    # SL r ≈ −0.4 beats DDQN's −1 by ≈ 0.6 > 0.3, but SL's own r is below the floor r = 0
    floor = next(c for c in report(_masked_results((0.0, -0.05, -0.02), down)).checks if c.headline)
    assert floor.verdict == "inconclusive" and "did not beat the floor" in floor.measured  # the shared rule
    tie = next(c for c in report(_masked_results(up, up)).checks if c.headline)
    assert tie.verdict != "held"


def test_masked_secondary_min_effects_come_from_the_config():
    """The registered DDQN-r and learned-task minimum effects are read from the results' config (the old
    hard-coded 0.0 and 0.1 when absent): raising them past the measured effects turns held into not held."""
    up, down = (0.0, 0.1, 0.2), (0.0, -0.1, -0.2)
    res = _masked_results(up, down)  # DDQN r = −1 on every seed, training accuracy 0.9 (chance 0.1)
    checks = {c.name: c for c in report(res).checks}
    assert checks["r(log ρ̄, gap) < 0 for DDQN"].verdict == "held"
    assert checks["DDQN training accuracy > chance"].verdict == "held"
    res["config"] |= {"ddqn_min_effect": 1.5, "learned_min_effect": 0.85}
    checks = {c.name: c for c in report(res).checks}
    assert checks["r(log ρ̄, gap) < 0 for DDQN"].verdict != "held"
    assert checks["DDQN training accuracy > chance"].verdict != "held"
    with pytest.raises(ValueError, match="learned_min_effect must be in"):
        dataclasses.replace(TINY, learned_min_effect=0.95)
