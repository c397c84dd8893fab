"""The shared decision rules (track/claims.py, issue 19): planted effects are found at n = 5, null effects
are rarely "held", ties never win, the floor guard blocks, the permutation p-value is exact."""

import itertools
import math

import numpy as np
import pytest

from replab.track.claims import MIN_SEEDS, one_sample, paired
from replab.track.report import Check, Report
from replab.track.stats import percentile_interval, seeds_needed, sign_flip_p


def planted(n, effect, noise=0.3, seed=0, tasks=None):
    rng = np.random.default_rng(seed)
    keys = list(range(n)) if tasks is None else [(s, t) for s in range(n) for t in tasks]
    b = {k: float(rng.normal()) for k in keys}
    a = {k: b[k] + effect + noise * float(rng.normal()) for k in keys}
    return a, b


def test_a_planted_effect_is_found_at_five_seeds():
    a, b = planted(5, effect=2.0)
    d = paired(a, b, min_effect=1.0, a_label="new", b_label="old")
    assert d.verdict == "held" and d.held is True and d.n == 5
    assert d.ci_low > 1.0 and d.effect == pytest.approx(np.mean([a[s] - b[s] for s in a]))
    assert d.p == pytest.approx(1 / 32)  # every seed clears: the smallest exact p at n = 5
    assert d.seeds_needed is None and "new − old" in d.rule and "n ≥ 5" in d.rule


def test_lower_is_better_and_ratio_effects():
    a, b = planted(6, effect=-2.0)
    assert paired(a, b, min_effect=1.0, direction="less").verdict == "held"
    assert paired(a, b, min_effect=1.0, direction="greater").verdict == "did not hold"
    rng = np.random.default_rng(3)
    base = {s: float(rng.uniform(5, 10)) for s in range(6)}
    fast = {s: 2.0 * base[s] * float(rng.uniform(0.95, 1.05)) for s in range(6)}
    d = paired(fast, base, min_effect=0.5, effect="ratio")  # at least 1.5 times
    assert d.verdict == "held" and d.effect == pytest.approx(2.0, abs=0.1) and d.threshold == 1.5
    assert paired(fast, base, min_effect=1.5, effect="ratio").verdict == "did not hold"  # not 2.5×
    with pytest.raises(ValueError, match="> 0 in every unit"):
        paired(fast, {s: 0.0 for s in range(6)}, min_effect=0.1, effect="ratio")


@pytest.mark.parametrize("n", [5, 10])
def test_a_zero_effect_is_rarely_held(n):
    """200 null datasets: false "held" at most 5% (the rule's exact permutation gate bounds it by 5%, by
    1/32 at n = 5; the bootstrap CI alone gave 4-5% at n = 5), every other outcome "inconclusive" or
    "did not hold"."""
    rng = np.random.default_rng(12345)
    verdicts = []
    for i in range(200):
        a, b = rng.normal(size=n), rng.normal(size=n)
        verdicts.append(paired(a, b, min_effect=0.0, seed=i).verdict)
    assert verdicts.count("held") / 200 <= 0.05
    assert set(verdicts) <= {"held", "did not hold", "inconclusive"}


def test_a_tie_is_never_a_win():
    x = {s: 0.5 for s in range(6)}
    d = paired(x, dict(x), min_effect=0.0)
    assert d.verdict == "did not hold" and d.ci == (0.0, 0.0) and d.p == 1.0
    assert "ties are not wins" in d.reason
    assert paired(x, dict(x), min_effect=0.0, direction="less").verdict == "did not hold"
    # a tiny edge on a constant difference is a win only beyond the minimum effect
    y = {s: 0.5 + 1e-3 for s in range(6)}
    assert paired(y, x, min_effect=0.0).verdict == "held"
    assert paired(y, x, min_effect=1e-3).verdict == "did not hold"
    # both at the floor: nothing learned, nothing decided
    d = paired(x, dict(x), min_effect=0.0, floor=0.5)
    assert d.verdict == "inconclusive" and d.reason.startswith("did not beat the floor")


def test_fewer_than_five_seeds_are_inconclusive_with_the_seeds_needed():
    a, b = planted(3, effect=0.5, noise=1.0, seed=4)
    d = paired(a, b, min_effect=0.0)
    assert d.n == 3 < MIN_SEEDS and d.verdict == "inconclusive" and d.held is None
    u = np.array([a[s] - b[s] for s in a])
    expected = math.ceil(((1.959964 + 0.841621) * u.std(ddof=1) / abs(u.mean())) ** 2)
    assert d.seeds_needed == max(MIN_SEEDS, expected) and f"≈ {d.seeds_needed} seeds" in d.reason
    # even a clear effect needs five seeds
    a, b = planted(4, effect=5.0)
    d = paired(a, b, min_effect=0.0)
    assert d.verdict == "inconclusive" and "already clears" in d.reason and d.seeds_needed == MIN_SEEDS
    # one seed: no spread, no interval
    d = paired({0: 1.0}, {0: 0.0}, min_effect=0.0)
    assert d.verdict == "inconclusive" and math.isnan(d.ci_low) and "no CI" in d.reason
    assert d.seeds_needed == MIN_SEEDS and "run at least 5 seeds" in d.reason


def test_straddling_reversed_and_excluded_effects():
    a, b = planted(8, effect=0.2, noise=1.0, seed=1)
    d = paired(a, b, min_effect=0.2)
    assert d.verdict == "inconclusive" and "straddles" in d.reason and d.seeds_needed > 8
    a, b = planted(8, effect=-3.0)
    d = paired(a, b, min_effect=1.0, a_label="A", b_label="B")
    assert d.verdict == "did not hold" and "reversed, B beats A" in d.reason
    # a precise effect of about zero: the claimed effect of at least 1 is excluded
    a, b = planted(8, effect=0.0, noise=0.05)
    d = paired(a, b, min_effect=1.0)
    assert -1 < d.ci_low < d.ci_high < 1 and d.verdict == "did not hold" and "excluded" in d.reason


def test_the_floor_guard_blocks_a_win():
    a, b = planted(6, effect=2.0)
    d = paired(a, b, min_effect=1.0, floor=10.0, a_label="curl", floor_label="random policy")
    assert d.verdict == "inconclusive" and d.reason.startswith("did not beat the floor (curl − random policy")
    assert d.floor.verdict == "did not hold" and d.seeds_needed is None  # more seeds cannot help
    assert "first curl − random policy > +0" in d.rule
    floor = {s: v - 1.0 for s, v in a.items()}  # A beats its floor on every seed
    assert paired(a, b, min_effect=1.0, floor=floor).verdict == "held"
    # "did not hold" stands when B beat the floor; not when neither did
    assert paired(b, a, min_effect=0.0, floor={s: v - 1 for s, v in b.items()}).verdict == "did not hold"
    d = paired(b, a, min_effect=0.0, floor=100.0)
    assert d.verdict == "inconclusive" and "neither" in d.reason
    with pytest.raises(ValueError, match="unpaired units: A has \\(seed 5\\) without floor"):
        paired(a, b, min_effect=0.0, floor={s: 0.0 for s in range(5)})


def test_tasks_are_strata_and_a_floor_can_be_per_task():
    a, b = planted(5, effect=1.0, tasks=["pong", "breakout"])
    d = paired(a, b, min_effect=0.5, floor={"pong": -5.0, "breakout": -4.0})
    assert (d.verdict, d.n, d.units, d.tasks) == ("held", 5, 10, 2)
    del a[(4, "pong")], b[(4, "pong")]
    d = paired(a, b, min_effect=0.5)
    assert d.n == 4 and d.verdict == "inconclusive"  # a task with four seeds
    with pytest.raises(ValueError, match="no floor value for task"):
        paired(a, b, min_effect=0.5, floor={"pong": 0.0})
    arr_a, arr_b = np.ones((5, 3)), np.zeros((5, 3))  # arrays: (seeds, tasks)
    assert paired(arr_a, arr_b, min_effect=0.5).tasks == 3


def test_permutation_p_matches_brute_force():
    rng = np.random.default_rng(7)
    for n in (1, 3, 6, 9):
        u = rng.normal(0.3, 1.0, size=n)
        brute = np.mean(
            [np.mean(np.array(s) * u) >= u.mean() - 1e-12 for s in itertools.product((1, -1), repeat=n)]
        )
        assert sign_flip_p(u) == pytest.approx(brute)
    u = rng.normal(0.3, 1.0, size=18)  # the seeded Monte-Carlo p is close to the exact one
    exact = sign_flip_p(u, exact_units=18)
    assert sign_flip_p(u) == pytest.approx(exact, abs=0.01) and sign_flip_p(u) == sign_flip_p(u)
    assert sign_flip_p(np.zeros(5)) == 1.0


def test_the_bootstrap_is_deterministic_given_its_seed():
    a, b = planted(7, effect=0.5, noise=1.0, seed=2)
    assert paired(a, b, min_effect=0.0, seed=3).ci == paired(a, b, min_effect=0.0, seed=3).ci
    assert paired(a, b, min_effect=0.0, seed=3).ci != paired(a, b, min_effect=0.0, seed=4).ci
    assert percentile_interval(np.arange(101.0)) == pytest.approx((2.5, 97.5))
    lo, hi = percentile_interval(np.arange(101.0), n=5)  # expanded: wider
    assert lo < 2.5 and hi > 97.5


def test_unpaired_keys_are_an_error_naming_them():
    a = {0: 1.0, 1: 2.0, 2: 3.0, 7: 4.0}
    b = {0: 1.0, 1: 2.0, 2: 3.0, 9: 4.0}
    with pytest.raises(
        ValueError, match=r"curl has \(seed 7\) without pixel; pixel has \(seed 9\) without curl"
    ):
        paired(a, b, min_effect=0.0, a_label="curl", b_label="pixel")
    with pytest.raises(ValueError, match="task 'pong'"):
        paired({(0, "pong"): 1.0}, {(0, "breakout"): 1.0}, min_effect=0.0)
    with pytest.raises(ValueError, match="direction"):
        paired(a, a, min_effect=0.0, direction="bigger")
    with pytest.raises(ValueError, match="min_effect"):
        paired(a, a, min_effect=-1.0)


def test_non_finite_units_are_dropped_and_said():
    a, b = planted(6, effect=2.0)
    a[5] = float("nan")
    d = paired(a, b, min_effect=0.0)
    assert d.n == 5 and d.verdict == "held" and "1 unit(s) with non-finite values dropped" in d.reason
    assert len(d.record()["units"]) == 6  # the record keeps them


def test_one_sample_claims():
    rho = {s: 0.1 + 0.01 * s for s in range(6)}
    d = one_sample(rho, 0.3, min_effect=0.0, direction="less", label="rho")
    assert d.verdict == "held" and d.b_label == "0.3" and "mean(rho − 0.3) < +0" in d.rule
    assert one_sample(rho, 0.3, min_effect=0.25, direction="less").verdict == "did not hold"


def test_seeds_needed_formula():
    u = np.array([1.0, 2.0, 3.0, 0.0, -1.0])
    expected = math.ceil(((1.959964 + 0.841621) * u.std(ddof=1) / u.mean()) ** 2)
    assert seeds_needed(u) == expected
    assert seeds_needed(np.zeros(5)) is None  # the mean sits on the threshold
    assert seeds_needed(np.ones(5)) == MIN_SEEDS  # no spread
    assert seeds_needed(np.ones(1)) is None
    # two tasks with different levels: only the spread within each task counts, per task
    two = np.concatenate([u, u + 100.0])
    strata = [np.arange(5), np.arange(5, 10)]
    within = math.ceil(((1.959964 + 0.841621) * u.std(ddof=1) * math.sqrt(4 / 4) / two.mean()) ** 2 / 2)
    assert seeds_needed(two, strata) == max(MIN_SEEDS, within)


def test_a_decision_as_a_report_check():
    a, b = planted(5, effect=2.0)
    held = paired(a, b, min_effect=1.0, name="new beats old", key="claim", paper="+2 (Table 1)")
    few = paired({s: a[s] for s in range(3)}, {s: b[s] for s in range(3)}, min_effect=1.0, key="small")
    check = held.check()
    assert isinstance(check, Check) and check.held is True and check.headline and check.n == 5
    assert check.claim["paper"] == "+2 (Table 1)" and len(check.claim["units"]) == 5
    rep = Report("t", "c", "s", [check, Check("a side check", True, "ok")], summary={"x": 1.0})
    assert rep.verdict == "held"
    summary = rep.stored_summary()
    assert summary["x"] == 1.0 and summary["claim/verdict"] == 1.0 and summary["claim/n"] == 5.0
    assert summary["claim/ci_low"] == held.ci_low and summary["claim/min_effect"] == 1.0
    md = rep.markdown()
    assert "| **new beats old** (headline) | yes | mean(A − B) > +1" in md and "| effect [95% CI] | p |" in md
    # an inconclusive headline makes the report inconclusive, and the table says so
    rep.checks.append(few.check())
    assert rep.verdict == "inconclusive" and "| inconclusive |" in rep.markdown()
    assert [r["key"] for r in rep.claim_records()] == ["claim", "small"]
    # a failed side check under a held headline: partly held; a non-headline decision does not decide
    rep = Report("t", "c", "s", [check, Check("side", False, "no"), few.check(headline=False)])
    assert rep.verdict == "partly held" and rep.claim_records() == [check.claim]
    with pytest.raises(ValueError, match="distinct keys"):
        Report("t", checks=[check, check]).claim_records()
