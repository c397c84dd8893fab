"""The atari-curricula report: ANOVA tables (Type II, partial η², variance explained) of ALE mode × difficulty
under fixed policies and of the MinAtar factors for scratch learning, zero-shot transfer and finetuning;
interaction plots; the claims by the shared rule. A pure function of the results."""

from __future__ import annotations

import math

import numpy as np

from replab.track.anova import AnovaTable, factorial_anova
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

MIN_SEEDS = 5
PAPER = {
    "main": "design factors have large, significant effects (abstract; F, η² not recovered)",
    "interaction": "factor interactions are significant (abstract)",
    "zero_shot": "zero-shot transfer is possible (abstract)",
    "transfer": "finetuning from default-game experts transfers positively in most variants (abstract)",
}
log1p = lambda x: math.log1p(max(float(x), 0.0))  # noqa: E731 (scores ≥ 0; log(1 + score) as plasticity-injection)


def _table(t: AnovaTable) -> str:
    return markdown_table(list(AnovaTable.HEADER), t.rows())


def _anova_check(name: str, t: AnovaTable | None, alpha: float, seeds: int, *, orders=(1, 2)) -> Check:
    """'significant terms of each order in `orders`' (Bonferroni over the terms of one order); a verdict
    only with ≥ 5 replicate seeds, else inconclusive with what was measured."""
    if t is None:
        return Check(name, None, "the ANOVA could not be fitted (too few replicates or no variance)")
    parts, ok = [], True
    for o in orders:
        terms = [x for x in t.effects() if (x.order == o if o == 1 else x.order >= 2)]
        sig = [x for x in terms if x.p < alpha / max(1, len(terms))]
        ok &= bool(sig)
        parts.append(f"{'main effects' if o == 1 else 'interactions'} significant: "
                     + (", ".join(f"{x.name} (p {x.p:.2g}, partial η² {x.partial_eta2:.2f})" for x in sig) or "none"))  # fmt: skip
    held = ok if seeds >= MIN_SEEDS else None
    extra = "" if seeds >= MIN_SEEDS else f"; {seeds} replicate seed(s) < {MIN_SEEDS}: inconclusive"
    return Check(name, held, "; ".join(parts) + extra)


SI_BITS = ("mode_bit0", "mode_bit1", "mode_bit2", "mode_bit3")
"""Space Invaders' 16 modes read as 4 binary game options [K: moving shields, zig-zag bombs, fast bombs,
invisible invaders]; which bit is which option is an assumption (seed002 §8.2, §8.5 Part A)."""


def mode_bits(rows: list[dict]) -> dict:
    """Columns mode_bit0..3 (bit i of the mode number), difficulty and score for the five-way ANOVA."""
    return {**{b: [(x["mode"] >> i) & 1 for x in rows] for i, b in enumerate(SI_BITS)},
            "difficulty": [x["difficulty"] for x in rows], "score": [x["score"] for x in rows]}  # fmt: skip


def _fit(rows, response, factors, **kw) -> AnovaTable | None:
    """The ANOVA, or None where the data cannot carry one (a constant response, a single-level factor,
    a saturated model: few seeds or episodes); any other error is raised."""
    try:
        return factorial_anova(rows, response, factors, **kw)
    except ValueError as exc:
        if any(s in str(exc) for s in ("is constant", "single level", "is saturated")):
            return None
        raise


def ale_part(results: dict, alpha: float) -> tuple[list, list, list[Figure]]:
    done = [r for r in results["done"].values() if r["part"] == "ale"]
    checks, sections = [], []
    if not done:
        return checks, sections, []
    plt = pyplot()
    games = sorted({r["game"] for r in done})
    fig, axes = plt.subplots(1, len(games), figsize=(5.2 * len(games), 3.4), squeeze=False)
    for j, game in enumerate(games):
        ax = axes[0][j]
        for r in sorted((r for r in done if r["game"] == game), key=lambda r: r["policy"]):
            rows = r["rows"]
            t = _fit(
                {k: [x[k] for x in rows] for k in ("mode", "difficulty", "score")},
                "score",
                ["mode", "difficulty"],
            )
            n_eps = len({x["episode"] for x in rows})
            if t is not None:
                sections.append((f"ALE {game}, {r['policy']} policy: two-way ANOVA mode × difficulty "
                                 f"({n_eps} episodes per cell)", _table(t)))  # fmt: skip
            if game == "space_invaders" and len({x["mode"] for x in rows}) == 16:
                t5 = _fit(mode_bits(rows), "score", [*SI_BITS, "difficulty"])
                if t5 is not None:
                    sections.append((f"ALE space_invaders, {r['policy']} policy: five-way ANOVA on an ASSUMED "
                                     "mode → 4 binary options mapping (bit i of the mode number = option i; the "
                                     "manual's mapping was not recovered, seed002 §8.2)", _table(t5)))  # fmt: skip
            if r["policy"] == "heuristic":
                ok = t is not None and t["mode"].p < alpha / 2 and t["difficulty"].p < alpha / 2
                measured = ("; ".join(f"{n}: F {t[n].f:.3g}, p {t[n].p:.2g}, partial η² {t[n].partial_eta2:.2f}"
                                      for n in ("mode", "difficulty", "mode:difficulty")) if t is not None
                            else "the ANOVA could not be fitted")  # fmt: skip
                checks.append(Check(f"ALE {game}: the heuristic's score has significant mode and difficulty "
                                    f"effects (p < {alpha / 2:g} each)", ok if t is not None else None, measured))  # fmt: skip
            modes = sorted({x["mode"] for x in rows})
            for d in sorted({x["difficulty"] for x in rows}):
                y = [
                    np.mean([x["score"] for x in rows if x["mode"] == m and x["difficulty"] == d])
                    for m in modes
                ]
                ax.plot(
                    modes,
                    y,
                    "o-" if r["policy"] == "heuristic" else "x--",
                    label=f"{r['policy']}, difficulty {d}",
                )
        ax.set_xlabel("mode")
        ax.set_ylabel("mean score")
        ax.set_title(f"ALE {game}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return (
        checks,
        sections,
        [Figure("ale_interaction", fig, "ALE score vs mode, one line per difficulty and policy")],
    )


def minatar_frames(results: dict) -> dict | None:
    cfg = results["config"]
    factors, variants = list(cfg["factors"]), cfg["variants"]
    done = [r for r in results["done"].values() if r["part"] == "minatar"]
    by = {(r["seed"], r["variant"]): r for r in done}
    seeds = sorted({s for s, v in by if all((s, u) in by for u in range(len(variants)))})
    if not seeds:
        return None
    ft = int(cfg["finetune_steps"])
    rows = {"scratch": [], "zero_shot": [], "transfer": []}
    for s in seeds:
        for v, levels in enumerate(variants):
            r = by[(s, v)]
            lv = {f: str(levels[f]) for f in factors}
            rows["scratch"].append(
                lv | {"seed": s, "variant": v, "y": log1p(r["final"]), "random": log1p(r["random"])}
            )
            rows["zero_shot"].append(lv | {"seed": s, "variant": v, "y": log1p(by[(s, 0)]["zero_shot"][str(v)]),
                                           "random": log1p(r["random"])})  # fmt: skip
            if v > 0:
                at_ft = next((np.mean(sc) for t, sc in r["evals"] if t == ft), None)
                if at_ft is None:
                    raise ValueError(
                        f"variant {v} seed {s}: scratch run has no evaluation at finetune_steps={ft}"
                    )
                fin = by[(s, 0)]["finetuned"][str(v)]
                rows["transfer"].append(lv | {"seed": s, "variant": v, "y": log1p(fin) - log1p(at_ft),
                                              "finetuned": log1p(fin), "scratch": log1p(at_ft),
                                              "random": log1p(r["random"])})  # fmt: skip
    return {"rows": rows, "seeds": seeds, "factors": factors, "variants": variants}


def _cols(rows: list[dict]) -> dict:
    return {k: [r[k] for r in rows] for k in rows[0]}


def _level0(f, factors, variants):
    return [v for v, lv in enumerate(variants) if lv[f] == variants[0][f]]


def decisions(results: dict, fr: dict) -> list:
    cfg = results["config"]
    factors, variants, seeds = fr["factors"], fr["variants"], fr["seeds"]
    sc = {(r["seed"], r["variant"]): r for r in fr["rows"]["scratch"]}
    out = []
    for f in factors:
        lo = set(_level0(f, factors, variants))
        hi = [v for v in range(len(variants)) if v not in lo]
        out.append(paired(
            {s: np.mean([sc[(s, v)]["y"] for v in lo]) for s in seeds},
            {s: np.mean([sc[(s, v)]["y"] for v in hi]) for s in seeds},
            min_effect=float(cfg["main_effect"]), direction="greater",
            floor={s: np.mean([sc[(s, v)]["random"] for v in lo]) for s in seeds},
            name=f"main effect of {f}: default level {variants[0][f]} scores higher than {variants[hi[0]][f]} "
                 "(log(1 + score), mean over the other factors)",
            key=f"main/{f}", a_label=f"{f}={variants[0][f]}", b_label=f"{f}={variants[hi[0]][f]}",
            floor_label="random policy", paper=PAPER["main"],
        ))  # fmt: skip
    a, b = cfg["interaction"]

    def contrast(s):
        y = {}
        for v, lv in enumerate(variants):
            key = (lv[a] != variants[0][a], lv[b] != variants[0][b])
            y.setdefault(key, []).append(sc[(s, v)]["y"])
        m = {k: np.mean(x) for k, x in y.items()}
        return m[(True, True)] - m[(True, False)] - m[(False, True)] + m[(False, False)]

    out.append(paired(
        {s: contrast(s) for s in seeds}, {s: 0.0 for s in seeds}, min_effect=float(cfg["interaction_effect"]),
        direction="greater", name=f"interaction {a} × {b}: y₁₁ − y₁₀ − y₀₁ + y₀₀ of log(1 + scratch score) > 0",
        key="interaction", a_label="interaction contrast", b_label="0 (additive)", paper=PAPER["interaction"],
    ))  # fmt: skip
    zs = [r for r in fr["rows"]["zero_shot"] if r["variant"] > 0]
    out.append(paired(
        {(r["seed"], r["variant"]): r["y"] for r in zs}, {(r["seed"], r["variant"]): r["random"] for r in zs},
        min_effect=float(cfg["zero_shot_gain"]), direction="greater",
        name="zero-shot: the default expert beats the random policy on the other variants (log(1 + score))",
        key="zero_shot", a_label="default expert, zero-shot", b_label="random policy", paper=PAPER["zero_shot"],
    ))  # fmt: skip
    tr = fr["rows"]["transfer"]
    out.append(paired(
        {(r["seed"], r["variant"]): r["finetuned"] for r in tr}, {(r["seed"], r["variant"]): r["scratch"] for r in tr},
        min_effect=float(cfg["transfer_gain"]), direction="greater",
        floor={(r["seed"], r["variant"]): r["random"] for r in tr},
        name=f"finetuning the default expert for {cfg['finetune_steps']} steps beats scratch at the same step",
        key="transfer", a_label="finetuned", b_label="scratch", floor_label="random policy", paper=PAPER["transfer"],
    ))  # fmt: skip
    return out


def _interaction_plot(fr: dict, kind: str, title: str) -> Figure:
    plt = pyplot()
    factors, rows = fr["factors"], fr["rows"][kind]
    a, b = factors[0], factors[1]
    panels = sorted({r[factors[2]] for r in rows}) if len(factors) > 2 else [None]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 3.2), squeeze=False)
    for j, p in enumerate(panels):
        ax = axes[0][j]
        sub = [r for r in rows if p is None or r[factors[2]] == p]
        xs = sorted({r[a] for r in sub}, key=float)
        for lb in sorted({r[b] for r in sub}, key=float):
            ys = [np.mean([r["y"] for r in sub if r[a] == x and r[b] == lb] or [np.nan]) for x in xs]
            ax.plot(xs, ys, "o-", label=f"{b}={lb}")
        ax.set_xlabel(a)
        ax.set_title(f"{factors[2]}={p}" if p is not None else "")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel(title)
    fig.tight_layout()
    return Figure(f"interaction_{kind}", fig, f"interaction plot of {title} (mean over seeds)")


def report(results: dict) -> Report:
    cfg = results["config"]
    rep = Report("")
    alpha = float(cfg["alpha"])
    fr = minatar_frames(results)
    if fr is not None:
        rep.checks += [d.check(headline=True) for d in decisions(results, fr)]
    checks, sections, figs = ale_part(results, alpha)
    if fr is not None:
        n = len(fr["seeds"])
        for kind, label, order in (("scratch", "log(1 + scratch score)", None), ("zero_shot", "log(1 + zero-shot score)", None),
                                   ("transfer", "transfer: log(1 + finetuned) − log(1 + scratch)", 2)):  # fmt: skip
            t = _fit(_cols(fr["rows"][kind]), "y", fr["factors"], order=order)
            if t is not None:
                sections.append(
                    (f"MinAtar {cfg['game']}: ANOVA of {label} ({n} seeds as replicates)", _table(t))
                )
                rep.summary[f"{kind}/eta2_interactions"] = t.explained(interactions=True)
                rep.summary[f"{kind}/eta2_main"] = t.explained(interactions=False)
            if kind == "scratch":
                checks.append(_anova_check("MinAtar scratch: significant main effects and at least one significant "
                                           "interaction (ANOVA, Bonferroni per order)", t, alpha, n))  # fmt: skip
            if kind == "zero_shot" and t is not None:
                share = t.explained(interactions=True) / max(
                    1e-12, t.explained(interactions=True) + t.explained(interactions=False)
                )
                checks.append(Check("zero-shot: interactions explain most of the variance the factors explain (η² share > 0.5)",
                                    share > 0.5 if n >= MIN_SEEDS else None,
                                    f"interactions {t.explained(interactions=True):.2f}, main effects "
                                    f"{t.explained(interactions=False):.2f} of the total variance (share {share:.2f})"
                                    + ("" if n >= MIN_SEEDS else f"; {n} seed(s) < {MIN_SEEDS}: inconclusive")))  # fmt: skip
            if kind != "transfer":
                figs.append(_interaction_plot(fr, kind, label))
        means = [[v, ", ".join(f"{k}={lv[k]}" for k in fr["factors"]),
                  np.mean([r["y"] for r in fr["rows"]["scratch"] if r["variant"] == v]),
                  np.mean([r["random"] for r in fr["rows"]["scratch"] if r["variant"] == v]),
                  np.mean([r["y"] for r in fr["rows"]["zero_shot"] if r["variant"] == v]),
                  np.mean([r["y"] for r in fr["rows"]["transfer"] if r["variant"] == v] or [np.nan])]
                 for v, lv in enumerate(fr["variants"])]  # fmt: skip
        sections.insert(0, ("MinAtar variants (mean over seeds, log(1 + score))", markdown_table(
            ["variant", "levels", "scratch", "random policy", "zero-shot (default expert)", "transfer gain"], means)))  # fmt: skip
    rep.checks += checks
    rep.sections += sections
    rep.figures += figs
    if not rep.checks:
        rep.checks.append(Check("jobs finished", None, "no part finished"))
    return rep
