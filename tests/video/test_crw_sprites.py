"""crw-sprites: config validation and the report on hand-made results (the SMOKE run is in
tests/test_experiments_smoke.py)."""

import dataclasses

import pytest

from replab.experiments.video._crw_sprites_report import report
from replab.experiments.video.crw_sprites import SMOKE


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="clip"):
        dataclasses.replace(SMOKE, clip=10)
    with pytest.raises(ValueError, match="psize"):
        dataclasses.replace(SMOKE, psize=7)
    with pytest.raises(ValueError, match="difficulty"):
        dataclasses.replace(SMOKE, difficulty="brutal")


def _results(gap, seeds=6):
    scores = lambda s: {  # noqa: E731
        m: {"J": v, "F": v, "J&F": v}
        for m, v in {
            "crw": 0.7 + gap + 0.01 * s,
            "random_init": 0.7,
            "pixels": 0.6,
            "copy_first": 0.5,
        }.items()
    }
    cfg = dict(
        seeds=seeds,
        steps=1,
        batch=1,
        clip=2,
        size=32,
        tau=0.07,
        edge_drop=0.1,
        prop_k=4,
        prop_m=2,
        prop_radius=4.0,
        min_effect=0.05,
        train_videos=2,
        test_videos=1,
        video_frames=4,
    )
    return {
        "config": cfg,
        "results": {str(s): {"scores": scores(s), "final_loss": 1.0} for s in range(seeds)},
    }


def test_report_decides_the_claim_with_the_shared_rule():
    assert report(_results(0.2)).verdict == "held"
    assert report(_results(0.0)).verdict == "did not hold"
    assert report(_results(0.2, seeds=1)).verdict == "inconclusive"
