"""curl-pointmass / curl-reward-free: the probe's known answer and the reports' verdict logic."""

import pytest

from replab.experiments.continuous._curl_pointmass_report import report as pm_report
from replab.experiments.continuous.curl_pointmass import Config as PMConfig
from replab.experiments.continuous.curl_reward_free import ENCODERS
from replab.experiments.continuous.curl_reward_free import report as rf_report


def test_reward_free_probe_uses_the_probe_layer():
    # the experiment's probe is replab.probe.regression.ridge_probe (tested in test_regression_probe.py)
    import replab.experiments.continuous.curl_reward_free as rf
    from replab.probe.regression import ridge_probe

    assert rf.ridge_probe is ridge_probe and not hasattr(rf, "ridge_r2")


def fake_pm(finals: dict[str, list[float]]) -> dict:
    cfg = PMConfig(methods=tuple(finals), seeds=len(next(iter(finals.values()))))
    done = {
        f"{m}/s{i}": {"method": m, "final": v, "evals": [[20_000, [v]]], "update_ms": 1.0}
        for m, vs in finals.items()
        for i, v in enumerate(vs)
    }
    return {"config": cfg.__dict__ | {"methods": list(finals)}, "done": done}


def test_pointmass_report_decides_each_check_from_the_iqm():
    held = pm_report(
        fake_pm({"state": [9, 9, 9], "pixel": [1, 2, 1], "curl": [5, 6, 5], "rad_crop": [7, 7, 8]})
    )
    assert held.verdict == "held" and held.summary["iqm/curl"] == pytest.approx(5.0, abs=1)
    failed = pm_report(fake_pm({"state": [9, 9], "pixel": [6, 6], "curl": [5, 5], "rad_translate": [7, 7]}))
    assert [c.held for c in failed.checks] == [False, True, True] and failed.verdict == "partly held"
    missing = pm_report(fake_pm({"pixel": [1.0], "curl": [2.0]}))
    assert [c.held for c in missing.checks] == [True, None]


def test_reward_free_report_checks():
    good = {"position": 0.9, "velocity": 0.6, "goal": 0.8}
    r2 = {"curl_stack/s0": good, "curl_single/s0": dict(good, velocity=0.1)}
    r2 |= {"random_stack/s0": {"position": 0.3, "velocity": 0.1, "goal": 0.3}, "supervised_stack/s0": good}
    rep = rf_report({"config": {"ridge": 0.01, "stacks": 10, "steps": 1, "seeds": 1}, "r2": r2})
    assert rep.verdict == "held" and set(ENCODERS) == {k.split("/")[0] for k in r2}
    r2["curl_single/s0"] = good
    assert rf_report({"config": {"ridge": 0.01, "stacks": 10, "steps": 1, "seeds": 1}, "r2": r2}).verdict == (
        "partly held"
    )


def test_rad_job_options_follow_the_track_a_geometry():
    from replab.experiments.continuous._parts import aug_options

    assert aug_options(None, 38, 32) is None
    assert aug_options("crop-translate", 38, 32) == {"crop_size": 32, "translate_size": 38}
    opts = aug_options("cutout_color-flip", 38, 32)
    assert opts == {"cutout_color_min_cut": 2, "cutout_color_max_cut": 9}


def test_rad_matrix_cells_and_report_checks():
    from replab.experiments.continuous.rad_augmentations import AUGS, Config, pairs, report

    assert pairs(("crop", "flip", "rand_conv"), ()) == [
        ("crop", "crop"),
        ("flip", "flip"),
        ("rand_conv",) * 2,
    ]
    assert len(pairs(AUGS)) == 21 and len(pairs(AUGS, ("crop", "translate"))) == 6 + 9
    with pytest.raises(ValueError, match="unknown augmentations"):
        Config(pairs_with=("crop", "jitter"))

    def fake(finals: dict[str, list[float]], random: list[float]) -> dict:
        done = {f"{s}/s{i}": {"spec": s, "final": v} for s, vs in finals.items() for i, v in enumerate(vs)}
        return {"config": {"augs": ["crop", "flip"]}, "done": done, "random": random}

    held = report(fake({"crop": [50, 70], "flip": [30, 10]}, random=[10, 20]))
    assert [c.held for c in held.checks] == [True, True] and held.summary["single/crop"] == 60
    # flip best, but below the random policy: both checks fail, the first says the matrix is uninformative
    failed = report(fake({"crop": [1, 2], "flip": [5, 6], "crop-flip": [40]}, random=[10, 20]))
    assert [c.held for c in failed.checks] == [False, False] and failed.summary["random"] == 15


def test_random_policy_scores_are_seeded_for_box_and_discrete_actions():
    from replab.envs import make
    from replab.rl.evaluate import random_policy_scores

    pytest.importorskip("minatar")
    for name, kw in [("pointmass", dict(obs_type="state", episode_steps=40)), ("minatar:breakout", {})]:
        a = random_policy_scores(make(name, **kw), 2, seed=3)
        assert len(a) == 2 and a == random_policy_scores(make(name, **kw), 2, seed=3)
