"""`replab.track.aggregate` against numbers computed by `rliable` 1.2.0 (numpy 2.4.6) on the fixed score
matrices of `benchmarks/rliable_check.py`: printed by `build/venv-rliable/bin/python
benchmarks/rliable_check.py --reference` (reps 2000, seed 7; rliable seeds its bootstrap from the legacy
global numpy stream, which `aggregate.bootstrap_indices` reproduces). Point estimates within 1e-6; the
CIs too, since the resamples are the same draws; and a second computation (a plain loop over
replicates with scipy's Mann-Whitney U) checks the vectorised P(X > Y)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from replab.track import aggregate

_spec = importlib.util.spec_from_file_location(
    "rliable_check", Path(__file__).parents[2] / "benchmarks" / "rliable_check.py"
)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)
MATS = check.score_matrices()
TOL = 1e-6

# rliable 1.2.0: get_interval_estimates(..., reps=2000) after np.random.seed(7): [IQM, mean, median, gap]
RLIABLE_POINT = {
    "A": [0.5269230769230769, 0.552, 0.52, 0.47],
    "B": [0.6788461538461538, 0.7270000000000001, 0.725, 0.34699999999999986],
    "C": [0.4526315789473685, 0.53, 0.5214285714285715, 0.5157142857142858],
}
RLIABLE_CI = {
    "A": [[0.4364903846153847, 0.481, 0.405, 0.407975], [0.6173076923076923, 0.629, 0.67, 0.534]],
    "C": [
        [0.32631578947368434, 0.40853571428571434, 0.35, 0.41000000000000014],
        [0.6105921052631575, 0.6643214285714285, 0.7142857142857143, 0.61],
    ],
}
RLIABLE_POI = {  # probability_of_improvement with StratifiedIndependentBootstrap
    ("B", "A"): (0.636, 0.5239750000000001, 0.7460249999999998),
    ("A", "C"): (0.5585714285714286, 0.42857142857142855, 0.6871785714285713),
}
RLIABLE_PROFILE_C = (  # create_performance_profile(tau = 0, 0.25, ..., 1.25), reps 2000
    [
        0.9428571428571428,
        0.6285714285714286,
        0.42857142857142855,
        0.2571428571428571,
        0.14285714285714285,
        0.0857142857,
    ],
    [
        0.8857142857142857,
        0.4857142857142857,
        0.2857142857142857,
        0.11428571428571428,
        0.05642857142857269,
        0.0,
    ],
    [1.0, 0.7714285714285715, 0.6, 0.4, 0.2571428571428571, 0.17142857142857143],
)


@pytest.mark.parametrize("name", ["A", "B", "C"])
def test_point_estimates_match_rliable(name):
    x = MATS[name]
    got = [aggregate.iqm(x), aggregate.mean_score(x), aggregate.median_score(x), aggregate.optimality_gap(x)]
    np.testing.assert_allclose(got, RLIABLE_POINT[name], atol=TOL, rtol=0)


@pytest.mark.parametrize("name", ["A", "C"])
def test_stratified_bootstrap_cis_match_rliable(name):
    stats = aggregate.metrics(1.0)
    est = [aggregate.interval_estimate(MATS[name], stats[k], reps=2000, seed=7) for k in stats]
    np.testing.assert_allclose([e[0] for e in est], RLIABLE_POINT[name], atol=TOL, rtol=0)
    np.testing.assert_allclose([[e[1] for e in est], [e[2] for e in est]], RLIABLE_CI[name], atol=TOL, rtol=0)


@pytest.mark.parametrize("pair", list(RLIABLE_POI))
def test_probability_of_improvement_matches_rliable(pair):
    got = aggregate.poi_estimate(MATS[pair[0]], MATS[pair[1]], reps=2000, seed=7)
    np.testing.assert_allclose(got, RLIABLE_POI[pair], atol=TOL, rtol=0)


def test_performance_profile_matches_rliable():
    got = aggregate.performance_profile(MATS["C"], check.TAUS, reps=2000, seed=7)
    np.testing.assert_allclose(np.array(got), np.array(RLIABLE_PROFILE_C), atol=TOL, rtol=0)


def test_vectorised_poi_is_the_mann_whitney_u_of_each_task():
    x, y = MATS["A"], MATS["C"]
    per_task = [
        mannwhitneyu(x[:, t], y[:, t], alternative="greater")[0] / (len(x) * len(y)) for t in range(5)
    ]
    assert abs(aggregate.probability_of_improvement(x, y) - np.mean(per_task)) < 1e-12
    assert aggregate.probability_of_improvement(x, x) == pytest.approx(0.5, abs=1e-12)  # rliable's tie rule


def test_a_bad_score_matrix_is_named():
    with pytest.raises(ValueError, match="runs x tasks"):
        aggregate.interval_estimate(np.zeros((0, 3)), aggregate.METRICS["IQM"])


def test_compare_reads_the_stored_runs_and_gives_rliables_numbers(toy, db, tmp_path, capsys):
    """`replab compare --metric`: the score matrices come from the runs' stored summaries only (one run
    per seed of each method, one summary number per task) and the report's numbers are rliable's."""
    import json

    from replab.cli import main
    from replab.track.store import Store

    store = Store(db)
    for method, x in MATS.items():
        for seed, row in enumerate(x):
            rid = f"toy-{method}-s{seed}"
            store.create_run(rid, "toy", "smoke", {"steps": 20, "method": method}, seed, None)
            summary = {f"task{t}": float(v) for t, v in enumerate(row)} | {"other": 1.0}
            store.finish(rid, "finished", verdict="held", summary=summary)
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--name",
        "toy",
        "--metric",
        "task*",
        "--reps",
        "2000",
        "--seed",
        "7",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert 'P(method="A" > method="C")' in printed and "optimality gap [95% CI]" in printed
    got = json.loads((out / "compare.json").read_text())["toy/smoke"]
    assert got["tasks"] == [f"task{t}" for t in range(5)]  # "other" is not a task
    for name in "ABC":
        m = got["methods"][f'method="{name}"']
        assert m["runs"] == len(MATS[name])
        point = [m[k][0] for k in ("IQM", "mean", "median", "optimality gap")]
        np.testing.assert_allclose(point, RLIABLE_POINT[name], atol=TOL, rtol=0)
        if name in RLIABLE_CI:
            lows = [m[k][1] for k in ("IQM", "mean", "median", "optimality gap")]
            np.testing.assert_allclose(lows, RLIABLE_CI[name][0], atol=TOL, rtol=0)
    np.testing.assert_allclose(
        got["poi"]['method="A" > method="C"'], RLIABLE_POI[("A", "C")], atol=TOL, rtol=0
    )
    assert abs(got["poi"]['method="A" > method="B"'][0] - (1 - RLIABLE_POI[("B", "A")][0])) < TOL
    png = out / "profile-toy-smoke.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
