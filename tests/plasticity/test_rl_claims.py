"""plasticity-injection and effective-rank-offline: the claims decided by the shared rule on planted
results (no training): a clear effect at 5 seeds holds, no effect does not, a method below its floor and
fewer than 5 seeds are inconclusive; the exact |ΔQ| check fails on a changed output."""

import json

import numpy as np
import pytest

from replab.experiments.plasticity import _erank_report as E
from replab.experiments.plasticity import _injection_report as I
from replab.track.claims import from_record

GAMES = ("breakout", "space_invaders")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    from replab.track.report import pyplot

    pyplot().close("all")


CONDS = ("baseline", "inject", "reset", "grow", "scratch")


def job(game, cond, seed, final, *, before=5.0, after=None, dq=0.0, random=1.0, probe=(1.0, 0.8)):
    r = {
        "game": game,
        "condition": cond,
        "seed": seed,
        "evals": [[0, [0.0]], [100, [final]]],
        "final": final,
        "random": random if cond == "baseline" else None,
        "n_actions": 6,
        "at_t": {"delta_q_max": dq, "q_scale": 0.5, "return_before": before,
                 "return_after": before if after is None else after},
        "probe_t": {"continue": 1.2, "inject": 1.1, "fresh": 1.5} if cond == "baseline" else {},
        "probe_end": {"continue": probe[0], **({"inject": probe[1]} if cond == "baseline" else {})},
        "macs": 1, "trainable": 1, "train_cpu_seconds": 1.0,
    }  # fmt: skip
    return r


def injection_results(
    seeds=5, *, gain=1.5, random=1.0, scores=None, probe=(1.0, 0.8), reset_after=0.0, dq=0.0
):
    """Baseline ends at 10 (breakout) / 30 (space invaders); inject at × gain; reset drops the return."""
    rng = np.random.default_rng(0)
    done = {}
    for game, base in zip(GAMES, scores or (10.0, 30.0)):
        for s in range(seeds):
            b = base * (1 + 0.05 * rng.standard_normal())
            finals = {"baseline": b, "inject": b * gain, "reset": b, "grow": b * gain, "scratch": b}
            for c in CONDS:
                after = reset_after if c in ("reset", "scratch") else None
                done[f"{game}/{c}/s{s}"] = job(game, c, s, finals[c], after=after, random=random, probe=probe,
                                              dq=dq if c in ("inject", "grow") else 1.3)  # fmt: skip
    cfg = {"games": list(GAMES), "conditions": list(CONDS), "inject_step": 50}
    cfg |= {"score_gain": 0.1, "reset_drop": 0.75, "probe_gain": 0.05}
    return {"config": cfg, "done": done}


def verdicts(rep):
    return {c.claim["key"]: c for c in rep.checks if c.headline}


def test_injection_claims_hold_on_a_planted_effect_at_five_seeds():
    rep = I.report(json.loads(json.dumps(injection_results())))
    got = verdicts(rep)
    assert set(got) == {"claim", "scratch", "reset_drop", "probe"}
    assert all(c.verdict == "held" and c.n == 5 for c in got.values()), [c.measured for c in got.values()]
    exact = next(c for c in rep.checks if not c.headline)
    assert exact.held is True and rep.verdict == "held"


def test_injection_claims_fail_without_the_effect():
    # injection = baseline (a tie is not a win); the reset leaves the return; the probe is unchanged
    rep = I.report(injection_results(gain=1.0, reset_after=5.0, probe=(1.0, 1.0)))
    got = verdicts(rep)
    for key in ("claim", "scratch", "reset_drop", "probe"):
        assert got[key].verdict == "did not hold", (key, got[key].measured)
    assert rep.verdict == "did not hold"


def test_injection_exact_check_fails_on_changed_outputs():
    rep = I.report(injection_results(dq=1e-3))
    exact = next(c for c in rep.checks if not c.headline)
    assert exact.held is False and rep.verdict == "partly held"


def test_injection_below_the_random_policy_or_few_seeds_is_inconclusive():
    # every condition scores below the random policy: injection "beats" baseline at a budget where nothing learns
    got = verdicts(I.report(injection_results(scores=(0.5, 1.0), random=20.0)))
    assert got["claim"].verdict == "inconclusive" and "floor" in got["claim"].measured
    assert got["reset_drop"].verdict == "inconclusive"  # the return before T never beat random
    # probe losses above chance ln 6: nothing was fitted
    got = verdicts(I.report(injection_results(probe=(3.0, 2.5))))
    assert got["probe"].verdict == "inconclusive" and "floor" in got["probe"].measured
    got = verdicts(I.report(injection_results(seeds=4)))
    assert all(c.verdict == "inconclusive" and c.n == 4 for c in got.values())


def test_injection_results_before_the_random_floor_still_report():
    res = injection_results()
    for r in res["done"].values():
        r.pop("random"), r.pop("n_actions")
    for key in ("score_gain", "reset_drop", "probe_gain"):
        res["config"].pop(key)  # the registered values apply
    got = verdicts(I.report(res))
    assert got["claim"].verdict == "held" and "random" not in got["claim"].rule


# -- effective-rank-offline: one value per seed (one seed per run), pooled as the ledger does ------------


def erank_run(seed, *, within=0.6, sweep=0.0, phases=True, runs=8, points=9):
    assert runs == 8
    """One run's results: `runs` offline runs whose within-run ρ(srank_t, return_t) is about `within`,
    whose (final srank, final return) across runs correlate about `sweep`, with or without three phases."""
    rng = np.random.default_rng(seed)
    done = {}
    finals = np.array([1, 2, 4, 7, 6, 5, 3, 0]) if sweep == 0.0 else np.arange(runs)  # Spearman ρ 0 or 1
    for i in range(runs):
        s = [10, 6, 6, 9, 9, 9, 9, 9, 5] if phases else list(np.linspace(10, 5, points))
        s = [v + 0.01 * i for v in s]
        noise = rng.standard_normal(points)
        ret = within * (np.array(s) - np.mean(s)) / np.std(s) + np.sqrt(1 - within**2) * noise
        ret = ret - ret[-3:].mean() + finals[i]  # the final return sets the across-run order
        done[f"eps0.1/r{i}"] = {
            "key": f"eps0.1/r{i}",
            "dataset": "eps0.1",
            "setting": f"lr0.001_w{64 if i % 2 else 256}_tu200_n1",
            "points": [{"update": 10 * t, "srank": float(s[t]), "return": float(ret[t]), "dead": 0.1}
                       for t in range(points)],
        }  # fmt: skip
        if sweep != 0.0:  # final srank ordered with the final return
            done[f"eps0.1/r{i}"]["points"][-1]["srank"] = 5 + 0.1 * i
    cfg = {"delta": 0.01, "rank_states": 64, "min_rho": 0.3, "share": 0.25}
    return {"config": cfg, "done": done, "datasets": {}, "behaviour_evals": []}


def erank_pooled(runs):
    records = {}
    for seed, res in enumerate(runs):
        for c in E.report(json.loads(json.dumps(res))).checks:
            rec = records.setdefault(c.claim["key"], c.claim | {"units": []})
            rec["units"] += [[f"{seed}:{u[0]}", *u[1:]] for u in c.claim["units"]]
    return {k: from_record(r) for k, r in records.items()}


def test_erank_claims_hold_on_a_planted_effect_at_five_seeds():
    got = erank_pooled([erank_run(s, within=0.9) for s in range(5)])
    assert set(got) == {"restricted", "claim", "phases"}
    assert all(d.verdict == "held" and d.n == 5 for d in got.values()), [d.reason for d in got.values()]
    rep = E.report(erank_run(0))
    assert rep.verdict == "inconclusive" and all(c.verdict == "inconclusive" for c in rep.checks)


def test_erank_claims_fail_without_the_effect():
    # no within-run association, one across the sweep as strong as it; monotone srank (no phases)
    got = erank_pooled([erank_run(s, within=0.0, sweep=1.0, phases=False) for s in range(5)])
    for key in ("restricted", "claim", "phases"):
        assert got[key].verdict == "did not hold", (key, got[key].reason)


def test_erank_four_seeds_are_inconclusive():
    got = erank_pooled([erank_run(s, within=0.9) for s in range(4)])
    assert all(d.verdict == "inconclusive" and d.n == 4 for d in got.values())
