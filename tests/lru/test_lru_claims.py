"""lru-ladder and lru-length decide their claims by the shared rule (issue 19), on planted results: paired
by seed (and task), chance / the trivial predictor as the floor, ties never win, at least 5 seeds."""

import numpy as np
import pytest

from replab.experiments.lru import lru_ladder, lru_length
from replab.experiments.lru._lru_ladder_report import report as ladder_report
from replab.experiments.lru._lru_length_report import TRIVIAL
from replab.experiments.lru._lru_length_report import report as length_report


@pytest.fixture(autouse=True)
def _close_figures():
    """Reports draw figures; close them so a worker does not pile them up."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


TASKS = ("digits", "delayed_recall")
RUNGS = ("tanh_rnn", "linear_rnn", "lru", "lru_rmin0")


def _ladder(acc: dict, seeds: int = 5, noise: float = 0.01) -> dict:
    """Results with accuracy acc[(task, rung)] ± a small seeded spread per seed."""
    rng = np.random.default_rng(0)
    cfg = {"tasks": list(TASKS), "rungs": list(RUNGS), "seeds": seeds, "steps": [10, 10]}
    cfg |= {"recall_delay": 20, "listops_max_length": 200, "d_model": 8, "d_state": 8, "n_layers": 1}
    cfg |= {"min_effect": 0.08, "step_min_effect": 0.02}
    res = {
        f"{t}/{r}/{s}": dict(
            accuracy=float(acc[(t, r)] + noise * rng.standard_normal()), seconds_per_step=0.01,
            parameters=100, length=64, diverged=False,
        )
        for t in TASKS
        for r in RUNGS
        for s in range(seeds)
    }  # fmt: skip
    return {"config": cfg, "results": res}


def _accs(tanh: float, lru: float) -> dict:
    out = {("digits", r): 0.5 for r in RUNGS}
    out |= {("delayed_recall", r): 0.3 for r in RUNGS}
    out[("delayed_recall", "tanh_rnn")], out[("delayed_recall", "lru")] = tanh, lru
    return out


def _headline(rep, key="claim"):
    (check,) = [c for c in rep.checks if c.headline and c.claim["key"] == key]
    return check


def test_ladder_a_clear_lru_gain_at_five_seeds_holds():
    rep = ladder_report(_ladder(_accs(0.13, 0.85)))
    check = _headline(rep)
    assert check.held is True and check.n == 5 and check.effect == pytest.approx(0.72, abs=0.02)
    assert check.claim["floor"] == "chance" and check.claim["min_effect"] == 0.08
    assert [c.held for c in rep.checks if c.name.startswith("LRU beats chance")] == [True]
    assert "95% bootstrap CI" not in "\n".join(body for _, body in rep.sections)


def test_ladder_no_gain_is_not_held_and_a_tie_does_not_win():
    assert _headline(ladder_report(_ladder(_accs(0.5, 0.5)))).held is not True
    tie = _headline(ladder_report(_ladder(_accs(0.5, 0.5), noise=0.0)))
    assert tie.verdict == "did not hold"


def test_ladder_below_chance_is_inconclusive():
    # the LRU "beats" the tanh RNN by 0.1 but sits at chance (1/8) itself: nothing is decided
    check = _headline(ladder_report(_ladder(_accs(0.02, 0.12))))
    assert check.held is None and "floor" in check.measured


def test_ladder_fewer_than_five_seeds_is_inconclusive():
    check = _headline(ladder_report(_ladder(_accs(0.13, 0.85), seeds=3)))
    assert check.held is None and check.n == 3


def test_ladder_steps_need_their_minimum_effect():
    acc = _accs(0.13, 0.85)
    acc[("digits", "linear_rnn")] = acc[("delayed_recall", "linear_rnn")] = 0.6  # +0.1 / +0.3 over tanh
    acc[("delayed_recall", "lru_rmin0")] = 0.85 - 0.01  # ring near 1 ahead by 0.01 < 0.02
    rep = ladder_report(_ladder(acc, noise=0.002))
    by = {c.name.split(" (")[0]: c for c in rep.checks}
    assert by["linearize the recurrence helps"].held is True
    assert by["ring near 1 beats r_min = 0 on delayed_recall"].held is False  # 0.01 < 0.02: excluded
    assert not any(c.headline for c in by.values() if "helps" in c.name)


def _length(lru_acc, gru_acc, lru_sps=0.04, gru_sps=0.25, seeds=5, noise=0.01) -> dict:
    rng = np.random.default_rng(1)
    cfg = {"task": "adding", "lengths": [64, 256], "models": ["lru", "gru"], "seeds": seeds}
    cfg |= {"steps": 10, "batch": 4, "max_train_seconds": 0.0, "min_effect": 0.05, "speed_min_effect": 0.5}
    base = {"lru": (lru_acc, lru_sps), "gru": (gru_acc, gru_sps)}
    res = {
        f"{L}/{m}/{s}": dict(
            accuracy=float(base[m][0] + noise * rng.standard_normal()),
            seconds_per_step=float(base[m][1] * (1 + noise * rng.standard_normal())),
            test_loss=0.01, steps=10, parameters=1000, model=m, seed=s,
        )
        for L in cfg["lengths"]
        for m in cfg["models"]
        for s in range(seeds)
    }  # fmt: skip
    return {"config": cfg, "results": res}


def test_length_clear_accuracy_and_speed_gains_hold():
    rep = length_report(_length(0.6, 0.3))
    acc, speed = _headline(rep, "claim"), _headline(rep, "speed")
    assert acc.held is True and acc.effect == pytest.approx(0.3, abs=0.02)
    assert speed.held is True and speed.effect == pytest.approx(0.16, rel=0.05)  # a ratio of means
    assert rep.verdict == "held"


def test_length_no_gain_is_not_held():
    rep = length_report(_length(0.5, 0.5, lru_sps=0.1, gru_sps=0.1))
    assert _headline(rep, "claim").held is not True and _headline(rep, "speed").held is not True
    tie = length_report(_length(0.5, 0.5, lru_sps=0.1, gru_sps=0.1, noise=0.0))
    assert _headline(tie, "claim").verdict == "did not hold"
    assert _headline(tie, "speed").verdict == "did not hold"
    faster = length_report(_length(0.5, 0.5, lru_sps=0.08, gru_sps=0.1))  # 1.25× faster: not 2×
    assert _headline(faster, "speed").held is False


def test_length_at_the_trivial_predictor_is_inconclusive():
    rep = length_report(_length(TRIVIAL["adding"], 0.0))  # LRU "ahead" but no better than predicting 1
    check = _headline(rep, "claim")
    assert check.held is None and "floor" in check.measured
    assert TRIVIAL["adding"] == pytest.approx(0.0784)


def test_length_fewer_than_five_seeds_is_inconclusive():
    rep = length_report(_length(0.6, 0.3, seeds=2))
    assert _headline(rep, "claim").held is None and _headline(rep, "speed").held is None
    assert rep.verdict == "inconclusive"


def test_min_effects_are_validated_config_fields():
    assert (lru_ladder.Config().min_effect, lru_ladder.Config().step_min_effect) == (0.08, 0.02)
    assert (lru_length.Config().min_effect, lru_length.Config().speed_min_effect) == (0.05, 0.5)
    with pytest.raises(ValueError, match="min_effect"):
        lru_ladder.Config(step_min_effect=-1.0)
    with pytest.raises(ValueError, match="speed_min_effect"):
        lru_length.Config(speed_min_effect=1.0)


def test_results_from_before_the_fields_use_the_registered_values():
    old = _ladder(_accs(0.13, 0.85))
    del old["config"]["min_effect"], old["config"]["step_min_effect"]
    assert _headline(ladder_report(old)).claim["min_effect"] == 0.08
    old = _length(0.6, 0.3)
    del old["config"]["min_effect"], old["config"]["speed_min_effect"]
    rep = length_report(old)
    assert _headline(rep, "claim").claim["min_effect"] == 0.05
    assert _headline(rep, "speed").claim["min_effect"] == 0.5
