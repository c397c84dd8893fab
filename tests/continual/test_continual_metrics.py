"""NEVIS stream metrics and the compute/error curves on hand-made event logs (seed002 §7.3, §7.6 tests)."""

import math

import numpy as np
import pytest

from replab.continual import metrics

LOG = [  # hand-made: three single-label events (sizes 10, 30, 60) and two multi-label events
    {"task": "a", "kind": "single", "n": 10, "error": 0.5, "flops": 100.0},
    {"task": "b", "kind": "multi", "n": 20, "map": 0.8, "flops": 50.0},
    {"task": "c", "kind": "single", "n": 30, "error": 0.1, "flops": 200.0},
    {"task": "d", "kind": "single", "n": 60, "error": 0.2, "flops": 25.0},
    {"task": "e", "kind": "multi", "n": 5, "map": 0.6, "flops": 25.0},
]


def test_unweighted_and_weighted_single_label_error():
    assert metrics.average_single_label_error(LOG) == pytest.approx((0.5 + 0.1 + 0.2) / 3)
    # Σ wrong / Σ examples = (5 + 3 + 12) / 100
    assert metrics.weighted_single_label_error(LOG) == pytest.approx(20 / 100)


def test_mean_map_and_stream_error():
    assert metrics.mean_map(LOG) == pytest.approx(0.7)
    assert metrics.stream_error(LOG) == pytest.approx((0.5 + 0.2 + 0.1 + 0.2 + 0.4) / 5)


def test_cumulative_flops_and_error_vs_compute():
    assert metrics.cumulative_flops(LOG) == [100, 150, 350, 375, 400]
    f, e = metrics.error_vs_compute(LOG)
    assert f == [100, 150, 350, 375, 400]
    assert e[0] == pytest.approx(0.5) and e[1] == pytest.approx(0.35) and e[-1] == pytest.approx(0.28)


def test_no_event_of_a_kind_is_nan_and_a_bad_kind_is_refused():
    assert math.isnan(metrics.mean_map(LOG[:1])) and math.isnan(metrics.average_single_label_error(LOG[1:2]))
    with pytest.raises(ValueError, match="kind must be one of"):
        metrics.stream_error([{"kind": "regression", "n": 1}])
    with pytest.raises(ValueError, match="lacks 'map'"):
        metrics.mean_map([{"kind": "multi", "n": 1, "error": 0.1}])


def test_top1_error():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    assert metrics.top1_error(scores, np.array([0, 1, 1, 0])) == 0.5


def test_mean_average_precision_by_hand():
    # label 0: scores ranked 0.9 (pos), 0.8 (neg), 0.3 (pos) → AP = (1/1 + 2/3) / 2 = 5/6
    # label 1: 0.7 (pos), 0.4 (neg), 0.1 (neg) → AP = 1; label 2 has no positive: left out (as NEVIS's sklearn)
    scores = np.array([[0.9, 0.1, 0.5], [0.8, 0.4, 0.2], [0.3, 0.7, 0.9]])
    labels = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0]])
    assert metrics.mean_average_precision(scores, labels) == pytest.approx((5 / 6 + 1) / 2)


def test_forgetting_and_forward_transfer():
    # R[i, j]: accuracy on task j after training through task i
    acc = np.array([[0.9, 0.0, 0.0], [0.7, 0.8, 0.0], [0.6, 0.85, 0.5]])
    # task 0: best 0.9 before the end, final 0.6 → 0.3; task 1: best 0.8, final 0.85 → −0.05 (backward transfer)
    assert metrics.forgetting(acc) == pytest.approx([0.3, -0.05])
    assert metrics.forward_transfer(acc, [0.8, 0.8, 0.6]) == pytest.approx([0.1, 0.0, -0.1])
    with pytest.raises(ValueError, match="square"):
        metrics.forgetting(np.zeros((2, 3)))


def test_pareto_frontier_and_budgeted_error():
    flops = [10, 20, 20, 40, 80]
    errs = [0.5, 0.6, 0.4, 0.45, 0.2]
    f, e = metrics.pareto_frontier(flops, errs)
    assert f.tolist() == [10, 20, 80] and e.tolist() == [0.5, 0.4, 0.2]
    assert metrics.frontier_error(flops, errs, 39) == 0.4
    assert math.isnan(metrics.frontier_error(flops, errs, 5))
    # model selection on dev: within 40 FLOPs the best dev error (0.1, tied at 20 and 40) picks the cheaper
    # point, whose test error is returned even though another point's test error is lower
    dev = [0.3, 0.1, 0.2, 0.1, 0.0]
    assert metrics.frontier_error(flops, errs, 40, select=dev) == 0.6
    assert metrics.frontier_error(flops, errs, 80, select=dev) == 0.2
    assert metrics.frontier_error(flops, errs, 80 * (1 - 1e-12), select=dev) == 0.2  # 1e-9 relative slack
    assert metrics.frontier_error(flops, errs, 80 * (1 - 1e-6), select=dev) == 0.6


def test_frontier_auc_is_a_log_flops_mean_of_the_step_frontier():
    # a frontier at 0.5 from 1 FLOP and 0.1 from 100 FLOPs, read over [1, 10^4]: half the log range at each
    grid_mean = metrics.frontier_auc([1, 100], [0.5, 0.1], 1, 1e4, points=1001)
    assert grid_mean == pytest.approx(0.3, abs=0.01)


def test_auc_is_the_trapezoid_mean():
    assert metrics.auc([0, 1, 3], [1, 1, 0]) == pytest.approx((1 + 1) / 3)
    with pytest.raises(ValueError, match="increasing"):
        metrics.auc([0, 0], [1, 1])
