"""corrected-momentum: Config validation, its settings (online stream, RBF features, drift, sine target; each
run end to end), and the reports' decisions on constructed results."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from replab.experiments.bootstrapping import _corrected_momentum_tasks as T
from replab.experiments.bootstrapping import corrected_momentum as cm
from replab.experiments.bootstrapping.corrected_momentum import report


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("methods", ("momentum", "nope"), "methods: unknown method 'nope'"),
        ("steps", 0, "steps must be >= 1, got 0"),
        ("beta", 1.0, r"beta must be in \[0, 1\), got 1.0"),
        ("lr", 0.0, r"lr must be in \(0, 10\], got 0.0"),
        ("gamma", 1.0, r"gamma must be in \(0, 1\), got 1.0"),
        ("min_effect", 1.5, r"min_effect must be in \[0, 1\)"),
    ],
)
def test_config_rejects_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(cm.SMOKE, **{field: value})


def test_value_net_is_the_specs_609_parameter_mlp():
    net = cm.value_net(cm.DEFAULT, 0)
    assert sum(p.numel() for p in net.parameters()) == 609
    same = cm.value_net(cm.DEFAULT, 0)
    assert all(cm.torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))  # same seed


def _results(corrected: list[float], momentum: list[float], floor=0.2):
    def unit(final):
        return {
            "steps": [0, 10],
            "mse": [2.0, final],
            "final": final,
            "diverged": False,
            "cpu_seconds_per_step": 1e-3,
        }

    res = {f"corrected/{s}": unit(v) for s, v in enumerate(corrected)}
    res.update({f"momentum/{s}": unit(v) for s, v in enumerate(momentum)})
    cfg = dataclasses.asdict(cm.SMOKE) | {"methods": ["momentum", "corrected"], "seeds": len(corrected)}
    return {"config": cfg, "constant_mse": floor, "results": res}


def _headline(rep):
    return next(c for c in rep.checks if c.headline)


def test_report_decides_with_the_shared_rule():
    held = report(_results([0.02, 0.025, 0.03, 0.021, 0.024], [0.05, 0.06, 0.055, 0.052, 0.058]))
    assert _headline(held).verdict == "held" and held.figures[0].name == "mse"
    tie = report(_results([0.05] * 5, [0.05] * 5))  # ties are not wins
    assert _headline(tie).verdict == "did not hold"
    few = report(_results([0.02, 0.02], [0.05, 0.05]))
    assert _headline(few).verdict == "inconclusive"
    # the floor guard: nothing beat the best constant predictor, so nothing is decided
    stuck = report(_results([0.3, 0.31, 0.32, 0.3, 0.3], [0.5, 0.5, 0.5, 0.5, 0.5], floor=0.2))
    assert _headline(stuck).verdict == "inconclusive"


# -- the settings of §S3.6 (online, rbf, sine) --------------------------------------------------------
def test_setting_defaults_are_resolved_at_run_time():
    """None fields take the setting's values, so `--setting online` on the DEFAULT preset runs the online
    plan (20k steps, m = 1, α = 0.005), not replay's numbers."""
    online = dataclasses.replace(cm.DEFAULT, setting="online").resolved()
    assert (online.steps, online.batch, online.lr, online.beta) == (20000, 1, 0.005, 0.9)
    assert "oracle" in online.methods
    assert dataclasses.replace(cm.DEFAULT, setting="rbf").resolved().beta == 0.99  # thesis §4.3.3.5
    kept = dataclasses.replace(cm.DEFAULT, setting="online", steps=7).resolved()
    assert kept.steps == 7 and kept.batch == 1  # an explicit value wins
    replay = cm.DEFAULT.resolved()
    assert (replay.steps, replay.batch, replay.lr, replay.beta) == (5000, 16, 0.1, 0.9)
    with pytest.raises(ValueError, match="setting must be one of"):
        dataclasses.replace(cm.DEFAULT, setting="atari")
    with pytest.raises(ValueError, match="rbf_sigma2 must be"):
        dataclasses.replace(cm.DEFAULT, rbf_sigma2=(0.0,))


def test_online_stream_follows_trajectories_in_order():
    task = T.make_task(
        "online", np.random.default_rng(0), None, n_eval=10, batch=3, gamma=0.95, sine_points=1
    )
    stream = task.batches(np.random.default_rng(1))
    prev, restarts = next(stream), 0
    for _ in range(400):
        cur = next(stream)
        ended = prev[3] == 0  # discount 0: the transition reached the goal
        restarts += int(ended.sum())
        # a car's next state is the previous transition's s′, unless it reached the goal (then a new start)
        torch.testing.assert_close(cur[0][~ended], prev[2][~ended])
        assert torch.all(prev[1] == -0.1)
        prev = cur
    assert restarts > 0  # 400 steps of 3 cars reach the goal (the policy needs ≤ ~150 steps)


def test_rbf_features_and_drift_by_hand():
    rbf = T.RBFGrid(3, sigma2=1.5)  # centres −1, 0, 1 per axis; d = 2 · 1.5 / 3 = 1
    phi = rbf(torch.tensor([[0.0, 0.0], [0.5, 0.0]]))
    assert phi.shape == (2, 9)
    assert phi[0, 4].item() == pytest.approx(2.0)  # at the centre (0, 0)
    assert phi[1, 4].item() == pytest.approx(2 * np.exp(-0.25), rel=1e-6)  # ((0.5 − 0)/1)²
    assert phi[0, 0].item() == pytest.approx(2 * np.exp(-2.0), rel=1e-6)  # centre (−1, −1)
    # drift: V moved by a constant c on every state → (c)² on the non-terminal s′, terminal ones ignored
    net = nn.Sequential(nn.Linear(2, 1))
    drift = T.Drift(beta=0.5)  # h = 4 minibatches
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        s2 = torch.randn(5, 2, generator=g)
        drift.remember(net, (None, None, s2, torch.tensor([0.9, 0.9, 0.0, 0.9, 0.9])))
    assert drift.measure(net) == 0.0 and len(drift.window) == 4
    with torch.no_grad():
        net[0].bias += 0.3
    assert drift.measure(net) == pytest.approx(0.09, rel=1e-5)


def test_sine_target_is_eq_4_37():
    x = np.array([0.0, 0.5])
    expected = [
        0.5 * np.sin(2.14 * (v + 2))
        + 0.82 * np.sin(9 * v + 0.4)
        + 0.38 * np.sin(12 * v)
        + 0.32 * np.sin(38 * v - 0.1)
        for v in x
    ]
    np.testing.assert_allclose(T.sine_target(x), expected, rtol=1e-12)


@pytest.mark.parametrize("setting", ["online", "rbf", "sine"])
def test_each_setting_runs_end_to_end(setting, tmp_path):
    from replab.launch import start_run
    from replab.track.store import Store

    cfg = dataclasses.replace(
        cm.SMOKE,
        setting=setting,
        methods=("momentum", "corrected", "oracle"),
        seeds=1,
        steps=6,
        eval_every=3,
        probe_every=3,
        n_eval=50,
        sine_points=300,
        rbf_sigma2=(0.5, 4.0),
    )
    store = Store(tmp_path / "replab.db")
    run_id, verdict = start_run("corrected-momentum", cfg, preset="smoke", store=store, quiet=True)
    assert verdict == "inconclusive"  # one seed decides nothing
    results = json.loads((tmp_path / run_id / "results.json").read_text())
    widths = 2 if setting == "rbf" else 1
    assert len(results["results"]) == 3 * widths
    unit = next(iter(results["results"].values()))
    assert unit["steps"] == [0, 3, 6] and len(unit["mse"]) == 3
    assert (len(unit["drift"]) == 2) == (setting != "sine")
    assert results["config"]["steps"] == 6 and results["config"]["setting"] == setting
    figure = {"rbf": "rbf.png", "online": "drift.png", "sine": "mse.png"}[setting]
    assert (tmp_path / run_id / figure).stat().st_size > 0


def _unit(final, drift=0.01):
    return {
        "steps": [0, 10],
        "mse": [2.0, final],
        "final": final,
        "diverged": False,
        "drift": [drift],
        "mean_drift": drift,
        "cpu_seconds_per_step": 1e-3,
    }


def test_online_and_sine_reports_decide_with_the_shared_rule():
    for setting in ("online", "sine"):
        res = {f"corrected/{s}": _unit(0.02 + 0.001 * s) for s in range(5)}
        res.update({f"momentum/{s}": _unit(0.05 + 0.002 * s) for s in range(5)})
        cfg = dataclasses.asdict(cm.SMOKE) | {
            "setting": setting,
            "methods": ["momentum", "corrected"],
            "seeds": 5,
        }
        rep = report({"config": cfg, "constant_mse": 0.2, "results": res})
        assert _headline(rep).verdict == "held" and rep.claim  # the setting's own claim
        same = {k: _unit(0.05 + 0.001 * int(k[-1])) for k in res}  # μ̂ = μ: the sine control's expectation
        assert (
            _headline(report({"config": cfg, "constant_mse": 0.2, "results": same})).verdict == "did not hold"
        )


def _rbf_results(gap_small, gap_large, seeds=5):
    res = {}
    for s in range(seeds):
        for w, gap in ((0.5, gap_small), (4.0, gap_large)):
            base = 0.05 + 0.003 * s
            res[f"momentum@{w:g}/{s}"] = _unit(base)
            res[f"corrected@{w:g}/{s}"] = _unit(base * (1 - gap + 0.002 * s))
    cfg = dataclasses.asdict(cm.SMOKE) | {
        "setting": "rbf",
        "methods": ["momentum", "corrected"],
        "seeds": seeds,
        "rbf_sigma2": [0.5, 4.0],
    }
    return {"config": cfg, "constant_mse": 0.2, "results": res}


def test_rbf_report_decides_the_gap_growth():
    held = report(_rbf_results(0.0, 0.3))
    assert _headline(held).verdict == "held" and held.figures[0].name == "rbf"
    assert held.summary["gap/sigma2=4"] == pytest.approx(0.3 - 0.004, abs=1e-9)
    assert _headline(report(_rbf_results(0.2, 0.2))).verdict == "did not hold"  # a gap, but no growth
    # the guard: μ̂ behind μ at the widest kernel, so growth from an even worse narrow gap decides nothing
    assert _headline(report(_rbf_results(-0.5, -0.2))).verdict == "inconclusive"
    assert _headline(report(_rbf_results(0.0, 0.3, seeds=3))).verdict == "inconclusive"


def test_a_diverging_unit_ends_marked_instead_of_failing_the_run(tmp_path):
    """A unit whose parameters become non-finite stops there and is reported diverged (the DEFAULT sine run
    at α = 0.2 failed in the health monitor's rank probe on NaN features before this)."""
    from replab.launch import start_run
    from replab.track.store import Store

    cfg = dataclasses.replace(
        cm.SMOKE, setting="sine", methods=("momentum", "corrected"), seeds=1, steps=40, eval_every=20,
        probe_every=1, n_eval=50, sine_points=300, lr=10.0,
    )  # fmt: skip
    run_id, _ = start_run(
        "corrected-momentum", cfg, preset="smoke", store=Store(tmp_path / "r.db"), quiet=True
    )
    results = json.loads((tmp_path / run_id / "results.json").read_text())["results"]
    diverged = [k for k, u in results.items() if u["diverged"]]
    assert diverged, {k: u["mse"] for k, u in results.items()}
    for k in diverged:
        assert (
            np.isnan(results[k]["final"]) and np.isnan(results[k]["mse"][-1]) and results[k]["steps"][-1] < 40
        )


def test_a_diverged_method_loses_instead_of_being_dropped():
    """μ̂ diverged on every seed (the DEFAULT sine run at α = 0.2): it counts as the constant predictor's
    MSE, so "μ̂ beats μ" did not hold — the rule used to drop its seeds and answer inconclusive."""
    nan = float("nan")
    res = {f"corrected/{s}": dict(_unit(nan), diverged=True) for s in range(5)}
    res.update({f"momentum/{s}": _unit(0.05 + 0.002 * s) for s in range(5)})
    cfg = dataclasses.asdict(cm.SMOKE) | {"setting": "sine", "methods": ["momentum", "corrected"], "seeds": 5}
    assert _headline(report({"config": cfg, "constant_mse": 0.2, "results": res})).verdict == "did not hold"
    both = {k: dict(_unit(nan), diverged=True) for k in res}  # both failed: a tie, never a win
    assert _headline(report({"config": cfg, "constant_mse": 0.2, "results": both})).verdict != "held"


def test_rbf_gap_is_undecided_when_the_baseline_blows_up():
    results = _rbf_results(0.0, 0.5)
    for s in range(5):  # μ ends far above the constant predictor at the widest σ² (finite: not 'diverged')
        results["results"][f"momentum@4/{s}"] = _unit(6e11)
    rep = report(results)
    head = _headline(rep)
    assert head.held is None and "diverged or ended above" in head.measured and rep.verdict == "inconclusive"
