"""td-gain: Config validation, the objectives' targets, the report's decision on constructed results."""

import dataclasses

import numpy as np
import pytest
import torch

from replab.experiments.bootstrapping import td_gain as tg
from replab.experiments.bootstrapping._td_gain_report import band, report


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("objectives", ("mc", "nope"), "objectives: unknown objective 'nope'"),
        ("lambdas", (1.5,), r"lambdas must lie in \[0, 1\], got 1.5"),
        ("ql_bootstrap", "mean", "ql_bootstrap must be one of"),
        ("gain_loss", "huber", "gain_loss must be one of"),
        ("near", 9, r"near must be in \[1, max_offset=5\], got 9"),
        ("steps", 0, "steps must be >= 1, got 0"),
    ],
)
def test_config_rejects_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(tg.SMOKE, **{field: value})


def test_arms():
    assert tg.DEFAULT.arms() == ["mc", "ql", "lambda0", "lambda0.5", "lambda0.9", "lambda1"]


def test_targets_lambda_endpoints_on_a_real_buffer():
    cfg = dataclasses.replace(tg.SMOKE, epsilon=0.3, transitions=800, tail=0)
    data = tg._data(cfg, 0, 0)
    frozen = tg._net(cfg, 0)
    with torch.no_grad():
        q2 = frozen(data["s2"]).double()
    logged = q2.gather(1, data["a2"][:, None]).squeeze(1)
    one_step = data["r"].double() + data["disc"].double() * logged
    np.testing.assert_allclose(tg.targets(cfg, "lambda0", data, frozen), one_step, rtol=1e-5)
    maxed = data["r"].double() + data["disc"].double() * q2.max(1).values
    np.testing.assert_allclose(tg.targets(cfg, "ql", data, frozen), maxed, rtol=1e-5)
    # λ = 1 with tail = 0 is the Monte-Carlo return wherever the trajectory terminated
    g1 = tg.targets(cfg, "lambda1", data, frozen).numpy()
    ends = np.flatnonzero(data["last"].numpy())
    starts = np.r_[0, ends[:-1] + 1]
    terminated = [(a, b) for a, b in zip(starts, ends) if data["terminal"][b]]
    assert terminated
    for a, b in terminated:
        np.testing.assert_allclose(g1[a : b + 1], data["returns"][a : b + 1].numpy(), rtol=1e-5)


def _results(mc, ql, lam0, lam9, seeds=5):
    cfg = {f.name: getattr(tg.SMOKE, f.name) for f in dataclasses.fields(tg.SMOKE)}
    cfg |= {"seeds": seeds, "arms": ["mc", "ql", "lambda0", "lambda0.9"], "lambdas": [0.0, 0.9]}
    k = np.arange(-cfg["max_offset"], cfg["max_offset"] + 1)
    res = {}
    for arm, level in (("mc", mc), ("ql", ql), ("lambda0", lam0), ("lambda0.9", lam9)):
        for s in range(seeds):
            g = (level + 0.01 * s) * np.exp(-np.abs(k) / 3.0)
            res[f"{arm}/s{s}"] = {
                "gain_ql": g.tolist(),
                "first_order_ql": (1.01 * g).tolist(),
                "gain_own": (2 * g).tolist(),
                "first_order_own": (2 * g).tolist(),
                "cosine": np.exp(-np.abs(k) / 5.0).tolist(),
                "count": [1.0] * len(k),
                "series": [[10, level, 2 * level, 0.5, 0.1], [20, level, 2 * level, 0.6, 0.2]],
                "mse_returns": 1.0,
                "sign_variance": 0.1,
                "mean_abs_td": 0.1,
                "mean_q": 1.0,
            }
    res["mc/s0"]["gain_ql"][0] = None  # an offset never measured is skipped, not a zero
    return {"config": cfg, "results": res}


def test_band_skips_unmeasured_offsets():
    r = _results(1.0, 0.1, 0.1, 0.2)
    cfg = r["config"]
    unit = r["results"]["mc/s0"]
    k = np.arange(-cfg["max_offset"], cfg["max_offset"] + 1)
    expected = np.mean([np.exp(-abs(x) / 3.0) for x in k[1:] if 1 <= abs(x) <= cfg["near"]])
    assert band(unit, cfg, 1, cfg["near"]) == pytest.approx(expected, rel=1e-12)


def test_report_decides_with_the_shared_rule():
    held = report(_results(1.0, 0.05, 0.05, 0.3))
    assert next(c for c in held.checks if c.headline).verdict == "held"
    assert next(c for c in held.checks if not c.headline).verdict == "held"
    assert {f.name for f in held.figures} == {"gain_ql", "gain_own", "cosine", "over_training"}
    tie = report(_results(0.05, 0.05, 0.3, 0.3))
    assert next(c for c in tie.checks if c.headline).verdict == "did not hold"  # ties are not wins
    assert next(c for c in tie.checks if not c.headline).verdict == "did not hold"
    negative = report(_results(-1.0, -2.0, 0.1, 0.1))  # mc beats ql but helps no neighbour: the floor
    head = next(c for c in negative.checks if c.headline)
    assert head.verdict == "inconclusive"
