"""Factorial ANOVA recovers planted main effects and an interaction, and finds none in pure noise at the
nominal rate (seed002 §8.5 unit tests)."""

import itertools

import numpy as np
import pytest

pytest.importorskip("statsmodels")

from replab.track.anova import cell_means, factorial_anova, levene  # noqa: E402


def design(effect, reps: int, rng, noise: float = 1.0) -> dict:
    rows = {"a": [], "b": [], "c": [], "y": []}
    for a, b, c in itertools.product((0, 1), repeat=3):
        for _ in range(reps):
            rows["a"].append(a)
            rows["b"].append(b)
            rows["c"].append(c)
            rows["y"].append(effect(a, b, c) + noise * rng.standard_normal())
    return rows


def test_planted_main_effects_and_interaction_are_recovered():
    rng = np.random.default_rng(0)
    # a and b have main effects, a×b interacts; c does nothing
    data = design(lambda a, b, c: 2.0 * a + 1.5 * b + 2.0 * a * b, reps=6, rng=rng)
    t = factorial_anova(data, "y", ["a", "b", "c"])
    assert t["a"].p < 1e-6 and t["b"].p < 1e-6 and t["a:b"].p < 1e-3
    assert t["c"].p > 0.01 and t["a:b:c"].p > 0.01
    assert {x.name for x in t.significant(0.001)} == {"a", "b", "a:b"}
    # SS of the effects + residual = total SS, so the η² (variance explained) sum to 1
    assert sum(x.eta2 for x in t.terms) == pytest.approx(1.0, abs=1e-9)
    # partial η² of a by hand: SS_a / (SS_a + SS_error)
    assert t["a"].partial_eta2 == pytest.approx(t["a"].ss / (t["a"].ss + t["Residual"].ss), rel=1e-12)
    # balanced cells: SS_a from the cell means by hand (N/4 · (ȳ_a1 − ȳ_a0)²)
    y, a = np.array(data["y"]), np.array(data["a"])
    assert t["a"].ss == pytest.approx(len(y) / 4 * (y[a == 1].mean() - y[a == 0].mean()) ** 2, rel=1e-9)
    # typ 3 and the rank transform agree on what matters here
    t3 = factorial_anova(data, "y", ["a", "b", "c"], typ=3)
    assert t3["a:b"].ss == pytest.approx(t["a:b"].ss, rel=1e-9)  # balanced: the same highest-order SS
    assert factorial_anova(data, "y", ["a", "b", "c"], rank=True)["a"].p < 1e-4
    assert t.explained(interactions=True) > 0.1


def test_pure_noise_rejects_at_the_nominal_rate():
    rng = np.random.default_rng(1)
    hits = total = 0
    for _ in range(80):
        t = factorial_anova(design(lambda a, b, c: 0.0, reps=3, rng=rng), "y", ["a", "b", "c"])
        hits += len(t.significant(0.05))
        total += len(t.effects())
    assert 0.02 <= hits / total <= 0.09, hits / total  # nominal 5% (560 tests)


def test_levene_and_cell_means():
    rng = np.random.default_rng(2)
    data = design(lambda a, b, c: 0.0, reps=20, rng=rng)
    data["y"] = [y * (5.0 if a else 1.0) for y, a in zip(data["y"], data["a"])]
    assert levene(data, "y", ["a", "b", "c"])[1] < 1e-3
    means = cell_means({"f": [0, 0, 1, 1], "y": [1.0, 3.0, 5.0, 7.0]}, "y", ["f"])
    assert means == {(0,): 2.0, (1,): 6.0}


def test_bad_inputs():
    with pytest.raises(ValueError, match="saturated"):
        factorial_anova({"a": [0, 1], "y": [0.0, 1.0]}, "y", ["a"])
    with pytest.raises(ValueError, match="single level"):
        factorial_anova({"a": [0, 0, 0], "y": [0.0, 1.0, 2.0]}, "y", ["a"])
    with pytest.raises(ValueError, match="missing"):
        factorial_anova({"a": [0, 1]}, "y", ["a"])
