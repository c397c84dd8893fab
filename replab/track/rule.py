"""The decision rule of `replab.track.claims` on one column pair of (seed, task, a, b, floor) rows.

**The rule.** The claim "A beats B by at least m" is the statement effect > t, with t = +m for
direction "greater" (−m for "less"; for a ratio of means t = 1 + m, or 1 − m). With n = the number of
seeds (the smallest number in any task) and the 95% confidence interval [lo, hi] of the effect:

- **held** when n ≥ 5, the CI lies entirely beyond t (lo > t; hi < t for "less") and the one-sided
  permutation test rejects an effect of t at 1 − level = 5% (below);
- **did not hold** when n ≥ 5 and the CI lies entirely on the other side of t, t included (hi ≤ t): an
  effect of at least m in the claimed direction is excluded, whether the true effect is reversed, zero
  or merely smaller than claimed;
- **inconclusive** when the CI straddles t or n < 5; `seeds_needed` then says how many seeds the
  observed spread would need.

Why "did not hold" is not reserved for a CI beyond −m (a reversed effect): the claim registered is
"at least m better". A precise CI inside (−m, +m) is evidence of no effect of that size, so the claim
did not hold; calling it inconclusive would ask for more seeds that cannot change the answer.
The reason text tells the cases apart ("reversed", "excluded", "no effect in the claimed direction").
t itself counts against the claim, so a tie is never a win: identical values give the CI [0, 0] and,
with m = 0, "did not hold".

**The effect** is the mean paired difference mean(A − B) over all (seed, task) units (`effect=
"difference"`) or the ratio of means mean(A) / mean(B) (`effect="ratio"`, B > 0).

**The CI** is a stratified bootstrap: seeds resampled with replacement within each task (10,000
resamples, seeded, deterministic), A and B resampled together (paired). Its interval is the *expanded*
percentile interval (`stats.percentile_interval`, Hesterberg 2015): the plain percentile interval
covers ≈ 88% at n = 5 and alone gave 7% false "held" on normal null data.

**The p-value** (`stats.sign_flip_p`) is a one-sided paired sign-flip permutation test of the claim's null (effect = t):
the margins u = σ(A − B) − m (difference; σ = ±1 for the direction) or u = A − (1 + m) B and
(1 − m) B − A (ratio, since mean(A)/mean(B) > t ⟺ mean(A − tB) > 0) have their signs flipped, exactly
over all 2^N patterns when N ≤ 16 units, else 20,000 seeded random patterns (p = (1 + hits)/(1 + draws)).
p = P(mean(±u) ≥ mean(u)); identical values give p = 1. "held" needs p ≤ 0.05 besides the CI: the
sign-flip test is exact under any null symmetric about t, so a false "held" is at most 5% whatever the
distribution (3.1% at n = 5, where p ≤ 0.05 needs every seed to clear t), while the bootstrap alone,
coarse with 5 values, gave 4–5% on normal null data at n = 5 (2–3% at n ≥ 10; the 200-dataset test
in tests/track/test_claims.py). "did not hold" needs the CI alone, so an exact tie (p = 1) is not a win but a loss.

**Seeds needed** (`stats.seeds_needed`; normal approximation, two-sided 5% level, 80% power):
n ≈ ((z_0.975 + z_0.8) · s / |ū|)² / T, with ū the mean margin, s the within-task standard deviation
of the margins u and T the number of tasks; at least 5, None when ū = 0 (no number of seeds decides a
mean that sits on t) or with one seed (no spread); 5 when s = 0.

**The floor guard.** A comparison may carry a floor (the random policy, a random encoder, the uniform
sampler): per-unit values paired the same way (or one value per task, or one number). A must beat the
floor — the same rule, a difference in the claim's direction greater than `floor_min_effect` (default
0: strictly) — before "A beats B" can be "held"; and "did not hold" needs A or B to have beaten it (a
budget at which nothing learns decides nothing). Otherwise the verdict is "inconclusive", with the
reason "did not beat the floor (...)".

Units whose values are not finite (a diverged run) are dropped and the reason says so.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from replab.track.pairing import strata
from replab.track.stats import percentile_interval, seeds_needed, sign_flip_p, stratified_indices

MIN_SEEDS = 5
"""Seeds needed before a claim can be held or not held."""
REPS = 10_000
"""Bootstrap resamples."""
EXACT_UNITS = 16
"""Up to this many units the permutation test enumerates every sign pattern."""
PERMUTATIONS = 20_000
"""Random sign patterns beyond EXACT_UNITS."""
DIRECTIONS = ("greater", "less")
EFFECTS = ("difference", "ratio")


def decide_columns(
    rows, ia, ib, a_label, b_label, *, min_effect, direction, effect, level, reps, seed, min_seeds, **_
) -> dict:
    """The rule on columns `ia` (A) and `ib` (B) of the (seed, task, a, b, floor) rows."""
    a = np.array([r[ia] for r in rows], dtype=float)
    b = np.array([r[ib] for r in rows], dtype=float)
    groups = strata([r[1] for r in rows])
    n = min((len(s) for s in groups), default=0)
    sign = 1.0 if direction == "greater" else -1.0
    ratio = effect == "ratio"
    if ratio and (b <= 0).any():
        raise ValueError(f"effect='ratio' needs {b_label} > 0 in every unit; use effect='difference'")
    t = (1 + sign * min_effect if ratio else sign * min_effect) + 0.0  # + 0.0: no "-0"
    op = ">" if sign > 0 else "<"
    what = f"mean({a_label}) / mean({b_label})" if ratio else f"mean({a_label} − {b_label})"
    shown_t = f"{t:.4g}" if ratio else f"{t:+.4g}"
    rule = f"{what} {op} {shown_t} ({100 * level:g}% CI, paired, n ≥ {min_seeds})"
    out = {"n": n, "units": len(rows), "tasks": len(groups), "threshold": t, "rule": rule, "op": op}
    if not rows:
        nan = float("nan")
        return out | {
            "effect": nan,
            "ci": (nan, nan),
            "p": nan,
            "effect_text": "no units",
            "clears": False,
            "verdict": "inconclusive",
            "reason": "no paired units",
            "seeds_needed": min_seeds,
        }
    est = a.mean() / b.mean() if ratio else (a - b).mean()
    if n >= 2:
        idx = stratified_indices(groups, reps, np.random.default_rng(seed))
        boot = a[idx].mean(1) / b[idx].mean(1) if ratio else (a[idx] - b[idx]).mean(1)
        df = sum(len(s) - 1 for s in groups)
        lo, hi = percentile_interval(boot, level, n=n, df=df)
        lo, hi = min(lo, est), max(hi, est)  # float round-off of a constant difference
    else:
        lo = hi = float("nan")
    # margins: the claim holds iff mean(u) > 0
    u = sign * (a - t * b) if ratio else sign * (a - b) - min_effect
    p = sign_flip_p(u, PERMUTATIONS, seed, EXACT_UNITS)
    needed = seeds_needed(u, groups, level, min_seeds)
    text = interval_text(est, lo, hi, ratio)
    tol = 1e-9 * max(abs(t), abs(lo), abs(hi)) if n >= 2 else 0.0  # round-off of an exact tie is a tie
    clears = lo > t + tol if sign > 0 else hi < t - tol
    excluded = hi <= t + tol if sign > 0 else lo >= t - tol
    if n < min_seeds:
        verdict = "inconclusive"
        would = ", the CI already clears it" if clears else ""
        reason = f"{n} seed(s) < {min_seeds} ({text}{would}); " + (
            f"≈ {needed} seeds needed" if needed else f"run at least {min_seeds} seeds"
        )
        needed = needed or min_seeds
    elif clears and p <= 1 - level:
        verdict, reason = "held", f"the CI {text} lies {'above' if sign > 0 else 'below'} {shown_t}"
    elif clears:
        verdict = "inconclusive"
        needed = max(needed or min_seeds, n + 1)
        reason = (
            f"the CI {text} lies {'above' if sign > 0 else 'below'} {shown_t} but the permutation test "
            f"does not reject an effect of {shown_t} (p = {p:.3g} > {1 - level:.2g}); ≈ {needed} seeds needed"
        )
    elif excluded:
        verdict = "did not hold"
        mirror = 2 * (1.0 if ratio else 0.0) - t  # the threshold on the other side of no effect
        side = "at or below" if sign > 0 else "at or above"
        reason = f"the CI {text} lies {side} {shown_t}"
        if (hi < mirror) if sign > 0 else (lo > mirror):
            by = " by at least the minimum effect" if min_effect > 0 else ""
            reason += f": reversed, {b_label} beats {a_label}{by}"
        elif min_effect > 0:
            reason += ": an effect of the claimed size is excluded"
        else:
            reason += ": no effect in the claimed direction (ties are not wins)"
    else:
        verdict = "inconclusive"
        reason = f"the CI {text} straddles {shown_t}; " + (
            f"≈ {needed} seeds needed" if needed else "the mean sits on the threshold"
        )
    return out | {
        "effect": float(est),
        "ci": (lo, hi),
        "p": p,
        "effect_text": text,
        "clears": clears,
        "verdict": verdict,
        "reason": reason,
        "seeds_needed": needed if verdict == "inconclusive" else None,
    }


def interval_text(est: float, lo: float, hi: float, ratio: bool) -> str:
    f = "{:.4g}" if ratio else "{:+.4g}"
    ci = "(one seed, no CI)" if math.isnan(lo) else f"[{f.format(lo)}, {f.format(hi)}]"
    return f"{f.format(est)} {ci}"


def check_rule(min_effect, direction, effect, level, reps, floor_min_effect) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if effect not in EFFECTS:
        raise ValueError(f"effect must be one of {EFFECTS}, got {effect!r}")
    for label, m in (("min_effect", min_effect), ("floor_min_effect", floor_min_effect)):
        if not (isinstance(m, numbers.Real) and math.isfinite(m) and m >= 0):
            raise ValueError(f"{label} must be a finite number >= 0 (in the claimed direction), got {m!r}")
    if effect == "ratio" and direction == "less" and min_effect >= 1:
        raise ValueError(f"a ratio below 1 − min_effect needs min_effect < 1, got {min_effect}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if reps < 100:
        raise ValueError(f"reps must be >= 100 bootstrap resamples, got {reps}")


VERDICT_CODE = {"held": 1.0, "inconclusive": 0.0, "did not hold": -1.0}
"""How a claim's verdict is stored among a report's scalar summary numbers."""


def claim_summary(key, effect, ci, n, p, min_effect, verdict) -> dict[str, float]:
    """A decision's numbers among a report's scalar summary: `<key>/effect`, `/ci_low`, `/ci_high`, `/n`,
    `/p`, `/min_effect`, `/verdict` (`VERDICT_CODE`)."""
    return {
        f"{key}/effect": float(effect),
        f"{key}/ci_low": float(ci[0]),
        f"{key}/ci_high": float(ci[1]),
        f"{key}/n": float(n),
        f"{key}/p": float(p),
        f"{key}/min_effect": float(min_effect),
        f"{key}/verdict": VERDICT_CODE[verdict],
    }
