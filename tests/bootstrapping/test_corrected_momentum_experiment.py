"""corrected-momentum: Config validation, and the report's decision on constructed results."""

import dataclasses

import pytest

from replab.experiments.bootstrapping import corrected_momentum as cm
from replab.experiments.bootstrapping._corrected_momentum_report import report


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
