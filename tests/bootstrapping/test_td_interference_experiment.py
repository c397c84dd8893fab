"""td-interference: Config validation, the per-seed correlation, the report's decision on constructed results."""

import dataclasses
import math

import pytest

from replab.experiments.bootstrapping import td_interference as tdi
from replab.experiments.bootstrapping._td_interference_report import pearson, per_seed_r, report


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("methods", ("td", "nope"), "methods: unknown method 'nope'"),
        ("n_train", (25,), r"n_train values must be multiples of 10"),
        ("widths", (8,), "at least 3 capacities"),
        ("gamma", 1.0, r"gamma must be in \(0, 1\), got 1.0"),
        ("steps", 0, "steps must be >= 1, got 0"),
    ],
)
def test_config_rejects_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(tdi.SMOKE, **{field: value})


def test_pearson_known_cases():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0, abs=1e-12)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0, abs=1e-12)
    assert math.isnan(pearson([1, 2], [1, 2]))
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))


def _results(slopes_reg, slopes_td):
    cfg = dataclasses.asdict(tdi.SMOKE) | {"seeds": len(slopes_reg)}
    res = {}
    for method, slopes in (("regression", slopes_reg), ("td", slopes_td)):
        for s, slope in enumerate(slopes):
            for k, w in enumerate(cfg["widths"]):
                rho = math.exp(k + 0.1 * s)
                gap = slope * k + (0.01 * s if k == 1 else 0.0)
                res[f"{method}/n20/h{w}L0/s{s}"] = {
                    "train_mse": 0.1,
                    "test_mse": 0.1 + gap,
                    "gap": gap,
                    "rho": rho,
                }
    return {"config": cfg, "results": res}


def test_per_seed_r_is_the_correlation_across_capacities():
    r = per_seed_r(_results([1.0, -1.0], [1.0, 1.0])["results"], dataclasses.asdict(tdi.SMOKE), "regression")
    assert r[0] > 0.99 and r[1] < -0.99


def test_report_decides_with_the_shared_rule():
    held = report(_results([1.0] * 5, [-1.0] * 5))
    head = next(c for c in held.checks if c.headline)
    assert head.verdict == "held"
    assert next(c for c in held.checks if not c.headline).verdict == "held"
    flat = report(_results([-1.0] * 5, [-1.0] * 5))
    assert next(c for c in flat.checks if c.headline).verdict == "did not hold"
