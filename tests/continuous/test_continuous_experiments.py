"""curl-reward-free's probe, rad-augmentations' cells and the random policy (the reports' claims:
test_continuous_claims.py)."""

import pytest


def test_reward_free_probe_uses_the_probe_layer():
    # the experiment's probe is replab.probe.regression.ridge_probe (tested in test_regression_probe.py)
    import replab.experiments.continuous.curl_reward_free as rf
    from replab.probe.regression import ridge_probe

    assert rf.ridge_probe is ridge_probe and not hasattr(rf, "ridge_r2")


def test_rad_job_options_follow_the_track_a_geometry():
    from replab.experiments.continuous._parts import aug_options

    assert aug_options(None, 38, 32) is None
    assert aug_options("crop-translate", 38, 32) == {"crop_size": 32, "translate_size": 38}
    opts = aug_options("cutout_color-flip", 38, 32)
    assert opts == {"cutout_color_min_cut": 2, "cutout_color_max_cut": 9}


def test_rad_matrix_cells():
    from replab.experiments.continuous.rad_augmentations import AUGS, Config, pairs

    assert pairs(("crop", "flip", "rand_conv"), ()) == [
        ("crop", "crop"),
        ("flip", "flip"),
        ("rand_conv",) * 2,
    ]
    assert len(pairs(AUGS)) == 21 and len(pairs(AUGS, ("crop", "translate"))) == 6 + 9
    with pytest.raises(ValueError, match="unknown augmentations"):
        Config(pairs_with=("crop", "jitter"))


def test_random_policy_scores_are_seeded_for_box_and_discrete_actions():
    from replab.envs import make
    from replab.rl.evaluate import random_policy_scores

    pytest.importorskip("minatar")
    for name, kw in [("pointmass", dict(obs_type="state", episode_steps=40)), ("minatar:breakout", {})]:
        a = random_policy_scores(make(name, **kw), 2, seed=3)
        assert len(a) == 2 and a == random_policy_scores(make(name, **kw), 2, seed=3)
