"""`replab.track.aggregate` against `rliable` itself on a fixed score matrix (issue 27).

rliable 1.2.0 needs `arch`, whose release that rliable pins does not import beside the pandas of .venv
(pandas 3), so rliable runs in its own environment and this script runs twice: under that environment's
Python it prints rliable's numbers as JSON (`--reference`); under .venv it starts that Python, computes
the same numbers with replab and prints the largest differences.

    python3 -m venv build/venv-rliable
    build/venv-rliable/bin/pip install rliable==1.2.0 pandas==2.3.3
    .venv/bin/python benchmarks/rliable_check.py --rliable-python build/venv-rliable/bin/python

Point estimates must agree to 1e-6. The bootstrap CIs are drawn from the same legacy `numpy.random`
stream as rliable's (`aggregate.bootstrap_indices`), so they agree to round-off at the same seed and reps.
The numbers the test `tests/track/test_aggregate_rliable.py` holds were printed by `--reference`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

REPS = 2000
SEED = 7
TAUS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]


def score_matrices() -> dict[str, np.ndarray]:
    """Three methods on five tasks: normalised scores in [-0.2, 1.6], rounded to 0.05 so that runs tie
    (the ½ of P(X > Y)); C has fewer runs (the unequal-runs path of the bootstrap)."""
    rng = np.random.default_rng(2021)
    mats = {}
    for name, runs, shift in (("A", 10, 0.0), ("B", 10, 0.15), ("C", 7, -0.1)):
        x = rng.gamma(2.0, 0.3, size=(runs, 5)) + shift + np.linspace(-0.2, 0.3, 5)
        mats[name] = np.round(np.clip(x, -0.2, 1.6) / 0.05) * 0.05
    return mats


PAIRS = (("B", "A"), ("A", "C"), ("B", "C"))


def reference() -> dict:
    """rliable's numbers (run with rliable's Python)."""
    import rliable
    from rliable import library as rly
    from rliable import metrics

    def all4(x):
        return np.array(
            [
                metrics.aggregate_iqm(x),
                metrics.aggregate_mean(x),
                metrics.aggregate_median(x),
                metrics.aggregate_optimality_gap(x, 1.0),
            ]
        )

    out = {"rliable": getattr(rliable, "__version__", "1.2.0"), "numpy": np.__version__, "methods": {}}
    for name, x in score_matrices().items():
        np.random.seed(SEED)  # noqa: NPY002 (rliable draws from the global legacy stream)
        point, ci = rly.get_interval_estimates({name: x}, all4, reps=REPS)
        np.random.seed(SEED)  # noqa: NPY002 (rliable draws from the global legacy stream)
        prof, prof_ci = rly.create_performance_profile({name: x}, TAUS, reps=REPS)
        out["methods"][name] = {
            "point": point[name].tolist(),
            "ci": ci[name].tolist(),
            "profile": prof[name].tolist(),
            "profile_ci": prof_ci[name].tolist(),
        }
    mats = score_matrices()
    out["poi"] = {}
    for a, b in PAIRS:
        np.random.seed(SEED)  # noqa: NPY002 (rliable draws from the global legacy stream)
        point, ci = rly.get_interval_estimates(
            {f"{a}>{b}": [mats[a], mats[b]]}, metrics.probability_of_improvement, reps=REPS
        )
        out["poi"][f"{a}>{b}"] = {"point": float(point[f"{a}>{b}"]), "ci": np.ravel(ci[f"{a}>{b}"]).tolist()}
    return out


def ours() -> dict:
    from replab.track import aggregate

    stats = aggregate.metrics(1.0)
    out = {"methods": {}, "poi": {}}
    for name, x in score_matrices().items():
        est = [aggregate.interval_estimate(x, stats[k], reps=REPS, seed=SEED) for k in stats]
        prof, lo, hi = aggregate.performance_profile(x, TAUS, reps=REPS, seed=SEED)
        out["methods"][name] = {
            "point": [e[0] for e in est],
            "ci": [[e[1] for e in est], [e[2] for e in est]],
            "profile": prof.tolist(),
            "profile_ci": [lo.tolist(), hi.tolist()],
        }
    mats = score_matrices()
    for a, b in PAIRS:
        p, lo, hi = aggregate.poi_estimate(mats[a], mats[b], reps=REPS, seed=SEED)
        out["poi"][f"{a}>{b}"] = {"point": p, "ci": [lo, hi]}
    return out


def differences(ref: dict, got: dict) -> dict[str, float]:
    """The largest absolute difference of each kind of number."""
    worst = {"point": 0.0, "ci": 0.0, "profile": 0.0, "profile_ci": 0.0, "poi point": 0.0, "poi ci": 0.0}
    for name, r in ref["methods"].items():
        g = got["methods"][name]
        for k in ("point", "ci", "profile", "profile_ci"):
            worst[k] = max(worst[k], float(np.max(np.abs(np.subtract(r[k], g[k])))))
    for pair, r in ref["poi"].items():
        g = got["poi"][pair]
        worst["poi point"] = max(worst["poi point"], abs(r["point"] - g["point"]))
        worst["poi ci"] = max(worst["poi ci"], float(np.max(np.abs(np.subtract(r["ci"], g["ci"])))))
    return worst


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--reference", action="store_true", help="print rliable's numbers as JSON (rliable's Python)"
    )
    p.add_argument("--rliable-python", default="build/venv-rliable/bin/python")
    a = p.parse_args()
    if a.reference:
        print(json.dumps(reference()))
        return 0
    if not Path(a.rliable_python).exists():
        print(
            f"no Python at {a.rliable_python}; create rliable's environment (see the docstring)",
            file=sys.stderr,
        )
        return 2
    ref = json.loads(
        subprocess.run(
            [a.rliable_python, __file__, "--reference"], check=True, capture_output=True, text=True
        ).stdout
    )
    got = ours()
    worst = differences(ref, got)
    print(
        f"rliable {ref['rliable']} (numpy {ref['numpy']}) vs replab.track.aggregate, reps {REPS}, seed {SEED}"
    )
    for name, r in ref["methods"].items():
        iqm, mean, median, gap = r["point"]
        print(f"  {name}: IQM {iqm:.6f}, mean {mean:.6f}, median {median:.6f}, optimality gap {gap:.6f}")
    for pair, r in ref["poi"].items():
        print(f"  P({pair.replace('>', ' > ')}) = {r['point']:.6f}, CI [{r['ci'][0]:.6f}, {r['ci'][1]:.6f}]")
    print("largest |rliable - replab|: " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    ok = worst["point"] <= 1e-6 and worst["poi point"] <= 1e-6 and max(worst.values()) <= 1e-6
    print("agree to 1e-6" if ok else "DISAGREE beyond 1e-6")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
