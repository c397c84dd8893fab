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


def _rho_results(const: float | None, reg_share=0.8, td_share=0.4):
    """Chain results with ρ′ r₂ shares and (unless None) the constant predictor's test MSE per unit."""
    out = _results([0.01 * (1 + s) for s in range(5)], [-0.01] * 5)  # test MSE within 0.08–0.13
    for k, u in out["results"].items():
        s = int(k.rsplit("/s", 1)[1])
        u["rho_prime"] = {"r2_pos": (reg_share if k.startswith("regression") else td_share) + 0.01 * s}
        if const is not None:
            u["const_test_mse"] = const + 0.001 * s
    return out


def test_rho_claim_needs_both_arms_above_the_constant_floor():
    name = "share of r₂ > 0: regression > TD(0)"
    rep = report(_rho_results(const=0.5))  # both arms' test MSE (≈ 0.1) far below the constant's 0.5
    checks = {c.name: c for c in rep.checks}
    assert checks["floor: regression test MSE < the constant predictor's"].verdict == "held"
    assert checks["floor: TD(0) test MSE < the constant predictor's"].verdict == "held"
    assert checks[name].verdict == "held"
    low = {c.name: c for c in report(_rho_results(const=0.05)).checks}  # worse than a constant
    assert low[name].verdict == "inconclusive" and "floor guard did not hold" in low[name].measured
    old = {c.name: c for c in report(_rho_results(const=None)).checks}  # results before the floor was stored
    assert old[name].verdict == "held" and old[name].measured.startswith("no floor guard")
    assert not any(c.name.startswith("floor:") for c in old.values())


def test_train_unit_stores_the_constant_predictors_test_mse():
    """const_test_mse against its direct computation: the training mean of V, scored on the test digits."""

    class _Run:
        seed = 0

        def log(self, metrics, step):
            pass

    cfg = dataclasses.replace(tdi.SMOKE, steps=2, probes="none", methods=("regression",))
    out = tdi.train_unit(cfg, _Run(), "regression", 20, 8, 0, 0)
    (_, _, v), (_, vt) = tdi._digits(cfg, 20, 0, 0)
    want = sum((float(t) - float(v.mean())) ** 2 for t in vt) / len(vt)
    assert out["const_test_mse"] == pytest.approx(want, rel=1e-5)
