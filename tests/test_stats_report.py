import numpy as np
import pytest
from scipy.stats import trim_mean

from replab.track.report import Check, Report, markdown_table
from replab.track.stats import aggregate, bootstrap_ci, iqm


def test_iqm_known_values():
    assert iqm([1, 2, 3, 4, 5, 6, 7, 8]) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert iqm([0, 0, 10, 10, 10, 10, 1000, -1000]) == pytest.approx(7.5)  # the outliers are cut
    x = np.random.default_rng(0).normal(size=(10, 3))
    assert iqm(x) == pytest.approx(trim_mean(x.ravel(), 0.25))


def test_bootstrap_ci_brackets_and_shrinks():
    rng = np.random.default_rng(1)
    small, large = rng.normal(5, 1, 10), rng.normal(5, 1, 400)
    lo_s, hi_s = bootstrap_ci(small, seed=0)
    lo_l, hi_l = bootstrap_ci(large, seed=0)
    assert lo_s <= iqm(small) <= hi_s and lo_l <= iqm(large) <= hi_l
    assert hi_l - lo_l < hi_s - lo_s
    assert 4.6 < lo_l < 5 < hi_l < 5.4
    assert bootstrap_ci([3.0]) == (3.0, 3.0)
    assert bootstrap_ci(small, seed=0) == bootstrap_ci(small, seed=0)


def test_stratified_bootstrap_keeps_tasks_apart():
    # task 0 always scores 0, task 1 always 10: resampling runs within tasks cannot move the IQM
    scores = np.stack([np.zeros(6), np.full(6, 10.0)], axis=1)
    assert bootstrap_ci(scores) == (5.0, 5.0)


def test_aggregate_drops_nans():
    a = aggregate([1.0, float("nan"), 3.0])
    assert a["n"] == 2 and a["mean"] == 2.0
    assert np.isnan(aggregate([])["iqm"])


def test_verdict_rules():
    def rep(*held):
        return Report("t", "c", "s", [Check(str(i), h, "") for i, h in enumerate(held)])

    assert rep(True, True).verdict == "held"
    assert rep(False, False).verdict == "did not hold"
    assert rep(True, False).verdict == "partly held"
    assert rep(True, None).verdict == "partly held"
    assert rep(None).verdict == "inconclusive" and rep().verdict == "inconclusive"


def test_report_writes_markdown_figures_and_summary(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from replab.track.report import Figure

    fig = plt.figure()
    r = Report(
        "T",
        "claim",
        "src",
        [Check("c", False, "3 < 4")],
        [("S", "body")],
        [Figure("f", fig, "cap")],
        {"x": 1.0},
    )
    path = r.write(tmp_path, {"run": "abc"})
    text = path.read_text()
    assert (
        "**Verdict: did not hold**" in text and "![cap](f.png)" in text and "| c | **no** | 3 < 4 |" in text
    )
    assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "summary.json").exists()
    assert markdown_table(["a"], [[1.23456], ["x|y"]]).splitlines()[2:] == ["| 1.235 |", "| x\\|y |"]
