"""Continual World metrics on hand-made success curves, against values computed by hand (CW §4)."""

import numpy as np
import pytest

from replab.continual.cw_metrics import (
    auc,
    average_performance,
    cw_summary,
    forgetting,
    forward_transfer,
)

# 3 tasks, Δ = 100 steps, evaluations every 50 steps (steps 50 … 300): columns are tasks 1..3
STEPS = [50, 100, 150, 200, 250, 300]
SUCCESS = np.array(
    [
        [0.2, 0.0, 0.0],  # task 1 training
        [0.8, 0.1, 0.0],
        [0.6, 0.4, 0.1],  # task 2 training: task 1 decays
        [0.5, 0.9, 0.2],
        [0.3, 0.7, 0.6],  # task 3 training
        [0.1, 0.5, 1.0],
    ]
)


def test_performance_is_the_mean_over_tasks_at_the_end():
    assert average_performance(STEPS, SUCCESS, window=1) == pytest.approx((0.1 + 0.5 + 1.0) / 3, abs=1e-12)
    # window 2: the mean of the last two evaluations per task, then over tasks
    want = np.mean([(0.3 + 0.1) / 2, (0.7 + 0.5) / 2, (0.6 + 1.0) / 2])
    assert average_performance(STEPS, SUCCESS, window=2) == pytest.approx(want, abs=1e-12)


def test_forgetting_is_own_end_minus_sequence_end():
    f = forgetting(STEPS, SUCCESS, 100, window=1)
    np.testing.assert_allclose(f, [0.8 - 0.1, 0.9 - 0.5, 0.0], atol=1e-12)
    f2 = forgetting(STEPS, SUCCESS, 100, window=2)
    np.testing.assert_allclose(
        f2, [(0.2 + 0.8) / 2 - (0.3 + 0.1) / 2, (0.4 + 0.9) / 2 - (0.7 + 0.5) / 2, 0.0], atol=1e-12
    )


def test_forward_transfer_normalises_the_auc_gap():
    ref = [([50, 100], [0.4, 0.6]), ([50, 100], [0.0, 0.5]), ([50, 100], [0.5, 0.5])]
    ft, a, b = forward_transfer(STEPS, SUCCESS, 100, ref)
    np.testing.assert_allclose(a, [0.5, 0.65, 0.8], atol=1e-12)  # means inside (0,100], (100,200], (200,300]
    np.testing.assert_allclose(b, [0.5, 0.25, 0.5], atol=1e-12)
    np.testing.assert_allclose(ft, [0.0, (0.65 - 0.25) / 0.75, (0.8 - 0.5) / 0.5], atol=1e-12)
    # a trapezoid integral of the same curve would differ: the CW mean of evaluations is what is computed
    s = cw_summary(STEPS, SUCCESS, 100, ref, window=1)
    assert s["forward_transfer"] == pytest.approx(ft.mean(), abs=1e-12)
    assert s["forgetting"] == pytest.approx((0.7 + 0.4) / 3, abs=1e-12)


def test_auc_interval_is_half_open():
    assert auc([1, 2, 3, 4], [1.0, 0.0, 0.0, 1.0], 1, 3) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="no evaluation inside"):
        auc([1, 2], [0.5, 0.5], 2, 3)


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="strictly increasing"):
        average_performance([2, 1], np.zeros((2, 1)))
    with pytest.raises(ValueError, match="not finished"):
        forgetting(STEPS[:4], SUCCESS[:4], 100)
    with pytest.raises(ValueError, match="FT is undefined"):
        forward_transfer(STEPS, SUCCESS, 100, [([100], [1.0])] * 3)
