"""curl-minatar and atari100k decide CURL vs Rainbow by the shared rule (issue 19), on planted results:
paired by (seed, game) on normalised scores, the random policy as the floor, ties never win, 5 seeds."""

import numpy as np
import pytest

from replab.envs.atari_scores import SCORES
from replab.experiments.discrete import atari100k, curl_minatar
from replab.experiments.discrete._atari100k_report import report as atari_report
from replab.experiments.discrete._curl_minatar_report import normalised
from replab.experiments.discrete._curl_minatar_report import report as minatar_report


@pytest.fixture(autouse=True)
def _close_figures():
    """Reports draw figures; close them so a worker does not pile them up."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


RANDOM = {"breakout": 0.5, "asterix": 0.3, "space_invaders": 3.0}  # units max(r, 1): 1, 1, 3
ATARI = ("Pong", "RoadRunner", "Jamesbond")


def _done(finals: dict, steps: int) -> dict:
    """Job results from {(game, method): [final per seed]}, with the fields the reports read."""
    counters = dict(agent_steps=steps, env_steps=steps, frames=steps, updates=steps, episodes=3, games=3)
    return {
        f"{g}/{m}/s{s}": dict(
            game=g, method=m, seed=s, final=float(x), evals=[[steps, [float(x)]]], counters=counters,
            seconds=1.0, cpu_seconds=1.0, replay="-", update_ms=1.0, act_env_ms=1.0,
        )
        for (g, m), xs in finals.items()
        for s, x in enumerate(xs)
    }  # fmt: skip


def _minatar(base: float, gain: float, seeds: int = 5, noise: float = 0.05) -> dict:
    """Rainbow `base` and CURL `base + gain` random-normalised units above random on every game, with
    a small seed-to-seed spread (seeded)."""
    rng = np.random.default_rng(0)
    cfg = curl_minatar.Config(games=tuple(RANDOM), seeds=seeds)
    finals = {}
    for g, r in RANDOM.items():
        unit = max(r, 1.0)
        rb = r + unit * (base + noise * rng.standard_normal(seeds))
        finals[(g, "rainbow")] = rb
        finals[(g, "curl")] = rb + unit * (gain + noise * rng.standard_normal(seeds))
    return {
        "config": cfg.__dict__ | {"games": list(cfg.games), "methods": list(cfg.methods)},
        "done": _done(finals, cfg.agent_steps),
        "random": {g: [r] * 20 for g, r in RANDOM.items()},
    }


def _atari(base: float, gain: float, seeds: int = 5, noise: float = 0.01) -> dict:
    """Rainbow at HNS `base` and CURL at `base + gain` on every game (seeded spread)."""
    rng = np.random.default_rng(1)
    cfg = atari100k.Config(games=ATARI, seeds=seeds)
    finals = {}
    for g in ATARI:
        lo, span = SCORES[g]["random"], SCORES[g]["human"] - SCORES[g]["random"]
        rb = base + noise * rng.standard_normal(seeds)
        finals[(g, "rainbow")] = lo + span * rb
        finals[(g, "curl")] = lo + span * (rb + gain + noise * rng.standard_normal(seeds))
    return {
        "config": cfg.__dict__ | {"games": list(cfg.games), "methods": list(cfg.methods)},
        "done": _done(finals, cfg.agent_steps),
    }


CASES = [(minatar_report, _minatar, 1.0, 0.5), (atari_report, _atari, 0.3, 0.2)]


def _headline(rep):
    (check,) = [c for c in rep.checks if c.headline]
    return check


@pytest.mark.parametrize(("report", "make", "base", "gain"), CASES)
def test_a_clear_gain_at_five_seeds_holds(report, make, base, gain):
    rep = report(make(base, gain))
    check = _headline(rep)
    assert check.held is True and check.n == 5 and check.p <= 0.05
    assert check.effect == pytest.approx(gain, abs=0.05) and check.ci[0] > check.claim["min_effect"]
    assert check.claim["units"] and len(check.claim["units"]) == 15  # 5 seeds × 3 games
    assert rep.verdict == "held"
    floors = [c for c in rep.checks if not c.headline and "beats the" in c.name and "random" in c.name]
    assert [c.held for c in floors] == [True, True]


@pytest.mark.parametrize(("report", "make", "base", "gain"), CASES)
def test_no_gain_is_not_a_win(report, make, base, gain):
    check = _headline(report(make(base, 0.0)))
    assert check.held is not True
    tie = _headline(report(make(base, 0.0, noise=0.0)))  # identical scores: a tie never wins
    assert tie.held is False and tie.verdict == "did not hold"


@pytest.mark.parametrize(("report", "make", "base", "gain"), CASES)
def test_below_the_random_floor_nothing_is_decided(report, make, base, gain):
    rep = report(make(-0.5, gain))  # both agents below the random policy; CURL "ahead" by the gain
    check = _headline(rep)
    assert check.held is None and "floor" in check.measured
    assert rep.verdict == "inconclusive"


@pytest.mark.parametrize(("report", "make", "base", "gain"), CASES)
def test_fewer_than_five_seeds_is_inconclusive(report, make, base, gain):
    check = _headline(report(make(base, gain, seeds=3)))
    assert check.held is None and check.n == 3 and "seeds needed" in check.measured


def test_minatar_normalisation_unit():
    assert normalised(0.5, [0.5, 0.5]) == 0.0  # the random policy
    assert normalised(1.5, [0.5]) == pytest.approx(1.0)  # random scores < 1: the unit is one point
    assert normalised(9.0, [3.0]) == pytest.approx(2.0)  # else one random-policy score


def test_min_effect_is_a_validated_config_field():
    assert curl_minatar.Config().min_effect == 0.1 and atari100k.Config().min_effect == 0.05
    for module in (curl_minatar, atari100k):
        with pytest.raises(ValueError, match="min_effect"):
            module.Config(min_effect=-0.1)


def test_grad_probe_table_in_the_minatar_report():
    results = _minatar(1.0, 0.5)
    for r in results["done"].values():
        if r["method"] == "curl":
            r["grad_probe"] = [
                dict(agent_steps=5000, updates=3401, coef=1.0, td_norm=0.1, curl_norm=1.0, ratio=10.0,
                     curl_accuracy=0.45),
            ]  # fmt: skip
    text = dict(minatar_report(results).sections)["CURL vs TD gradient on the shared encoder"]
    assert "| breakout | 5,000 | 3401 | 5 | 1 | 10 [10–10] |" in text
    assert "--curl-coef 0.05" in text


@pytest.mark.parametrize(("report", "make", "base", "gain"), CASES)
def test_results_from_before_the_field_use_the_registered_value(report, make, base, gain):
    old = make(base, gain)
    registered = old["config"].pop("min_effect")
    assert _headline(report(old)).claim["min_effect"] == registered
