"""Decision rules for claims (DESIGN §3 "Decisions", issue 19): every experiment decides through these.

An experiment's report decides its headline claim like this::

    from replab.track.claims import paired

    # per-unit values, keyed by seed, or by (seed, task) when the claim spans tasks (games, environments)
    curl = {s: r["final"] for s, r in results["curl"].items()}
    pixel = {s: r["final"] for s, r in results["pixel"].items()}
    rand = {s: r["final"] for s, r in results["random"].items()}    # the floor, paired the same way
    d = paired(curl, pixel, min_effect=cfg.min_effect, direction="greater", floor=rand,
               name="CURL vs pixel SAC: final return", a_label="curl", b_label="pixel",
               floor_label="random policy", paper="CURL 114.6 vs pixel SAC 42.8 (thesis Table 3.1)")
    rep.checks.append(d.check(headline=True))   # the report's verdict, the ledger's row

`min_effect` comes from the experiment's Config (registered before any run, never tuned after one).

The rule itself (held / did not hold / inconclusive, the CI, the p-value, the floor guard, seeds
needed) is `replab.track.rule`'s docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from replab.track.pairing import check_paired, floor_values, keyed, sorted_keys
from replab.track.report import Check
from replab.track.rule import (  # noqa: F401 (MIN_SEEDS and the constants are part of this API)
    DIRECTIONS,
    EFFECTS,
    EXACT_UNITS,
    MIN_SEEDS,
    PERMUTATIONS,
    REPS,
    VERDICT_CODE,
    check_rule,
    claim_summary,
    decide_columns,
    interval_text,
)


@dataclass(frozen=True)
class Decision:
    """The decision of one claim: what was compared, under which rule, what was measured, the verdict."""

    name: str
    key: str
    """Short identifier: the prefix of its summary numbers (`claim/effect`, ...) and of its ledger entry."""
    a_label: str
    b_label: str
    effect_kind: str
    direction: str
    min_effect: float
    threshold: float
    """t: the effect must lie beyond it (in `direction`) for the claim to hold."""
    level: float
    n: int
    """Seeds: the smallest number of seeds in any task."""
    units: int
    tasks: int
    effect: float
    ci_low: float
    ci_high: float
    p: float
    verdict: str
    reason: str
    seeds_needed: int | None
    rule: str
    paper: str = ""
    floor_label: str | None = None
    floor_min_effect: float = 0.0
    floor: Decision | None = None
    """A against the floor (None without a floor)."""
    floor_b: Decision | None = None
    """B against the floor."""
    data: tuple = field(default=(), repr=False)
    """The units as (seed, task, a, b, floor) rows, non-finite ones included (the ledger pools them)."""
    absolute_seeds: bool = False

    @property
    def held(self) -> bool | None:
        return {"held": True, "did not hold": False}.get(self.verdict)

    @property
    def ci(self) -> tuple[float, float]:
        return (self.ci_low, self.ci_high)

    def measured(self) -> str:
        """One line: the effect, its CI, n, p and the reason."""
        return f"{self.effect_text()}, n = {self.n}, p = {self.p:.3g}: {self.reason}"

    def effect_text(self) -> str:
        return interval_text(self.effect, self.ci_low, self.ci_high, self.effect_kind == "ratio")

    def check(self, name: str | None = None, headline: bool = True) -> Check:
        """This decision as a report check (held True/False, None when inconclusive), carrying the rule,
        n, effect, CI and p; a headline check also carries the record the ledger pools."""
        return Check(
            name or self.name,
            self.held,
            self.reason,
            rule=self.rule,
            n=self.n,
            effect=self.effect,
            ci=self.ci,
            p=self.p,
            headline=headline,
            claim=self.record() if headline else None,
        )

    def summary(self) -> dict[str, float]:
        """Scalar numbers for a report's summary: `<key>/effect`, `/ci_low`, `/ci_high`, `/n`, `/p`,
        `/min_effect`, `/verdict` (1 held, 0 inconclusive, −1 did not hold)."""
        return claim_summary(self.key, self.effect, self.ci, self.n, self.p, self.min_effect, self.verdict)

    def record(self) -> dict:
        """The JSON record the run store keeps (`runs.claims`) and the ledger pools across runs."""
        return {
            "key": self.key,
            "name": self.name,
            "a": self.a_label,
            "b": self.b_label,
            "floor": self.floor_label,
            "effect": self.effect_kind,
            "direction": self.direction,
            "min_effect": self.min_effect,
            "floor_min_effect": self.floor_min_effect,
            "level": self.level,
            "paper": self.paper,
            "absolute_seeds": self.absolute_seeds,
            "units": [list(row) for row in self.data],
        }


def paired(
    a,
    b,
    *,
    min_effect: float,
    direction: str = "greater",
    effect: str = "difference",
    floor=None,
    floor_min_effect: float = 0.0,
    name: str = "",
    key: str = "claim",
    a_label: str = "A",
    b_label: str = "B",
    floor_label: str = "floor",
    paper: str = "",
    level: float = 0.95,
    reps: int = REPS,
    seed: int = 0,
    min_seeds: int = MIN_SEEDS,
    absolute_seeds: bool = False,
) -> Decision:
    """Decide "A beats B by at least `min_effect`" from values paired by seed (and task).

    `a`, `b`: {seed: value} or {(seed, task): value}, or arrays (seeds,) / (seeds, tasks) aligned by
    position; every unit must be in both (unpaired units raise a ValueError naming them). `direction`:
    "greater" (A > B) or "less" (A < B: lower is better, e.g. an L1 error). `effect`: "difference"
    (mean(A − B), `min_effect` in the values' units) or "ratio" (mean(A) / mean(B): at least 1 +
    `min_effect` for "greater", at most 1 − `min_effect` for "less"; B must be > 0). `floor`: values
    paired the same way, {task: value}, or one number; A must beat it by more than `floor_min_effect`
    (a difference, in `direction`) first. `seed` seeds the bootstrap and the random sign patterns.
    `absolute_seeds`: the seeds are the seeds themselves, not indices within the run (tells the ledger
    whether seed 0 of two runs is one unit or two). See the module docstring for the rule.
    """
    check_rule(min_effect, direction, effect, level, reps, floor_min_effect)
    av, bv = keyed(a, a_label), keyed(b, b_label)
    check_paired(av, bv, a_label, b_label)
    keys = sorted_keys(av)
    fv = floor_values(floor, keys, floor_label, a_label) if floor is not None else None
    data = tuple((k[0], k[1], av[k], bv[k], None if fv is None else fv[k]) for k in keys)
    return _decide_rows(
        data,
        min_effect=min_effect,
        direction=direction,
        effect=effect,
        floor_min_effect=floor_min_effect,
        name=name or f"{a_label} vs {b_label}",
        key=key,
        labels=(a_label, b_label, floor_label if floor is not None else None),
        paper=paper,
        level=level,
        reps=reps,
        seed=seed,
        min_seeds=min_seeds,
        absolute_seeds=absolute_seeds,
    )


def one_sample(
    values,
    reference: float,
    *,
    min_effect: float,
    direction: str = "greater",
    effect: str = "difference",
    name: str = "",
    key: str = "claim",
    label: str = "value",
    reference_label: str | None = None,
    paper: str = "",
    level: float = 0.95,
    reps: int = REPS,
    seed: int = 0,
    min_seeds: int = MIN_SEEDS,
    absolute_seeds: bool = False,
) -> Decision:
    """Decide "the values exceed (or stay below) a fixed `reference` by at least `min_effect`", e.g. a
    per-seed correlation below 0.3 (`one_sample(rho, 0.3, min_effect=0, direction="less")`): the paired
    rule with B = `reference` for every unit."""
    vals = keyed(values, label)
    ref = {k: float(reference) for k in vals}
    return paired(
        vals,
        ref,
        min_effect=min_effect,
        direction=direction,
        effect=effect,
        name=name,
        key=key,
        a_label=label,
        b_label=reference_label or f"{reference:g}",
        paper=paper,
        level=level,
        reps=reps,
        seed=seed,
        min_seeds=min_seeds,
        absolute_seeds=absolute_seeds,
    )


def from_record(record: dict, units=None, *, reps: int = REPS, seed: int = 0) -> Decision:
    """Decide a stored record again (the ledger: `units` pooled from several runs' records)."""
    rows = [tuple(u) for u in (record["units"] if units is None else units)]
    has_floor = bool(rows) and all(r[4] is not None for r in rows)
    a = {(r[0], r[1]): r[2] for r in rows}
    b = {(r[0], r[1]): r[3] for r in rows}
    floor = {(r[0], r[1]): r[4] for r in rows} if has_floor else None
    if len(a) != len(rows):
        raise ValueError(f"claim {record.get('key')!r}: repeated (seed, task) units")
    return paired(
        a,
        b,
        min_effect=record["min_effect"],
        direction=record["direction"],
        effect=record["effect"],
        floor=floor,
        floor_min_effect=record.get("floor_min_effect", 0.0),
        name=record.get("name", ""),
        key=record.get("key", "claim"),
        a_label=record.get("a", "A"),
        b_label=record.get("b", "B"),
        floor_label=record.get("floor") or "floor",
        paper=record.get("paper", ""),
        level=record.get("level", 0.95),
        reps=reps,
        seed=seed,
        absolute_seeds=record.get("absolute_seeds", False),
    )


# -- the rule ------------------------------------------------------------------------------------------


def _decide_rows(data, *, labels, floor_min_effect, **kw) -> Decision:
    a_label, b_label, floor_label = labels
    finite = [r for r in data if all(v is None or math.isfinite(v) for v in r[2:])]
    dropped = len(data) - len(finite)
    main = decide_columns(finite, 2, 3, a_label, b_label, **kw)
    floor = floor_b = None
    verdict, reason, needed = main["verdict"], main["reason"], main["seeds_needed"]
    if floor_label is not None:
        fkw = dict(kw, min_effect=floor_min_effect, effect="difference")
        floor = decide_columns(finite, 2, 4, a_label, floor_label, **fkw)
        floor_b = decide_columns(finite, 3, 4, b_label, floor_label, **fkw)
        if verdict == "held" and floor["verdict"] != "held":
            verdict = "inconclusive"
            reason = (
                f"did not beat the floor ({a_label} − {floor_label} = {floor['effect_text']}, needs "
                f"{floor['op']} {floor['threshold']:+.4g}: {floor['verdict']}); otherwise {reason}"
            )
            needed = _more_seeds(floor)
        elif verdict == "did not hold" and "held" not in (floor["verdict"], floor_b["verdict"]):
            verdict = "inconclusive"
            reason = (
                f"did not beat the floor (neither {a_label} nor {b_label} beat {floor_label}: "
                f"{floor['effect_text']} and {floor_b['effect_text']}); {reason}"
            )
            needed = max(filter(None, (_more_seeds(floor), _more_seeds(floor_b))), default=None)
        elif verdict == "inconclusive" and not floor["clears"]:
            reason += f"; {a_label} has not beaten the floor yet ({floor['effect_text']})"
            needed = max(filter(None, (needed, _more_seeds(floor))), default=needed)
    if dropped:
        reason += f"; {dropped} unit(s) with non-finite values dropped"
    rule = main["rule"]
    if floor is not None:
        rule += f"; first {a_label} − {floor_label} {floor['op']} {floor['threshold']:+.4g}"
    return Decision(
        name=kw["name"],
        key=kw["key"],
        a_label=a_label,
        b_label=b_label,
        effect_kind=kw["effect"],
        direction=kw["direction"],
        min_effect=float(kw["min_effect"]),
        threshold=main["threshold"],
        level=kw["level"],
        n=main["n"],
        units=main["units"],
        tasks=main["tasks"],
        effect=main["effect"],
        ci_low=main["ci"][0],
        ci_high=main["ci"][1],
        p=main["p"],
        verdict=verdict,
        reason=reason,
        seeds_needed=needed if verdict == "inconclusive" else None,
        rule=rule,
        paper=kw["paper"],
        floor_label=floor_label,
        floor_min_effect=float(floor_min_effect),
        floor=_as_decision(floor, kw, a_label, floor_label, floor_min_effect),
        floor_b=_as_decision(floor_b, kw, b_label, floor_label, floor_min_effect),
        data=tuple(data),
        absolute_seeds=kw["absolute_seeds"],
    )


def _more_seeds(part: dict) -> int | None:
    """Seeds that part of the guard needs: None when more seeds cannot help (it did not hold)."""
    return part["seeds_needed"] if part["verdict"] == "inconclusive" else None


def _as_decision(part, kw, a_label, floor_label, floor_min_effect) -> Decision | None:
    if part is None:
        return None
    return Decision(
        name=f"{a_label} vs {floor_label}",
        key=f"{kw['key']}/floor",
        a_label=a_label,
        b_label=floor_label,
        effect_kind="difference",
        direction=kw["direction"],
        min_effect=float(floor_min_effect),
        threshold=part["threshold"],
        level=kw["level"],
        n=part["n"],
        units=part["units"],
        tasks=part["tasks"],
        effect=part["effect"],
        ci_low=part["ci"][0],
        ci_high=part["ci"][1],
        p=part["p"],
        verdict=part["verdict"],
        reason=part["reason"],
        seeds_needed=part["seeds_needed"],
        rule=part["rule"],
    )


# -- inputs --------------------------------------------------------------------------------------------
