"""td-interference's descriptive readings: Fig 3.5's pooled r and Fig 3.16's capacity trend on constructed
results (known answers), and the parameter count of the masked-digits MLP."""

import math

import numpy as np
import pytest

from replab.experiments.bootstrapping import _td_interference_trends as tr
from replab.experiments.bootstrapping._masked_digits_arms import mlp

CFG = {"seeds": 2, "n_train": [20, 100], "widths": [16, 32], "depths": [0, 1]}


def _results(rho, gap):
    """units[method/n/h/L/s] with ρ̄ = rho(n, w, d, s) and gap = gap(n, w, d, s)."""
    return {
        f"m/n{n}/h{w}L{d}/s{s}": {"rho": rho(n, w, d, s), "gap": gap(n, w, d, s)}
        for n in CFG["n_train"]
        for w in CFG["widths"]
        for d in CFG["depths"]
        for s in range(CFG["seeds"])
    }


def test_n_params_counts_the_mlp():
    for w, d, out in ((16, 0, 14), (32, 1, 10), (64, 1, 14)):
        net = mlp(128, w, d, out, 0)
        assert tr.n_params(w, d, d_out=out) == sum(p.numel() for p in net.parameters())


def test_pooled_r_uses_every_n_t_and_capacity():
    """gap = log ρ̄ exactly over all 8 units of a seed → pooled r = 1, though within one n_T it would be too;
    gap = −log ρ̄ → −1; a ρ̄ ≤ 0 unit is dropped (no log)."""
    res = _results(lambda n, w, d, s: n * w * (d + 1.0) * (s + 1), lambda n, w, d, s: 0.0)
    for u in res.values():
        u["gap"] = math.log(u["rho"])
    assert tr.pooled_r(res, CFG, "m") == pytest.approx({0: 1.0, 1: 1.0}, abs=1e-12)
    for u in res.values():
        u["gap"] = -u["gap"]
    res["m/n20/h16L0/s0"]["rho"] = 0.0
    assert tr.pooled_r(res, CFG, "m") == pytest.approx({0: -1.0, 1: -1.0}, abs=1e-12)


def test_capacity_trend_is_the_rank_correlation_with_parameters():
    """ρ̄ rising with the parameter count → +1 at every (seed, n_T); falling → −1; the per-capacity means in
    parameter order (h16L0 < h16L1 < h32L0 < h32L1)."""
    up = _results(lambda n, w, d, s: float(tr.n_params(w, d)), lambda *a: 0.0)
    means, trend = tr.capacity_trend(up, CFG, "m")
    assert trend == pytest.approx({0: 1.0, 1: 1.0}, abs=1e-12)
    np.testing.assert_allclose(means, [tr.n_params(w, d) for w, d in ((16, 0), (16, 1), (32, 0), (32, 1))])
    down = _results(lambda n, w, d, s: 1.0 / tr.n_params(w, d), lambda *a: 0.0)
    assert tr.capacity_trend(down, CFG, "m")[1] == pytest.approx({0: -1.0, 1: -1.0}, abs=1e-12)
    section = tr.trends_section(CFG, up, ["m"], {"m": "M"})
    assert "| M | " in section and "+1.000 [+1.000, +1.000] (n=2)" in section
