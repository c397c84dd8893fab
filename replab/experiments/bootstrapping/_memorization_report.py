"""The report of `memorization`: a pure function of its results (`replab report RUN_ID` rebuilds it)."""

from __future__ import annotations

import numpy as np

from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

PAPER = "Fig 3.2: Gini of ḡ_x high on real data, low on random inputs (curves, no numbers)"


def _final(res, cond, seeds):
    return {s: res[f"{cond}/{s}"]["final"] for s in range(seeds) if f"{cond}/{s}" in res}


def _spread(xs) -> str:
    xs = [x for x in xs if np.isfinite(x)]
    return f"{np.mean(xs):.3f} ± {np.std(xs):.3f} (n={len(xs)})" if xs else "–"


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    conds, seeds, m = list(cfg["conditions"]), int(cfg["seeds"]), float(cfg["min_effect"])
    rep = Report(title="Loss-sensitivity: real vs random data (memorization)")
    rows = []
    for c in conds:
        units = [res[f"{c}/{s}"] for s in range(seeds) if f"{c}/{s}" in res]
        q = np.mean([u["sensitivity_quantiles"] for u in units], 0) if units else [np.nan] * 4
        rows.append(
            [c, _spread([u["final"] for u in units]), _spread([u["train_accuracy"] for u in units]), *q]
        )
        if units:
            rep.summary[f"{c}/gini"] = float(np.mean([u["final"] for u in units]))
            rep.summary[f"{c}/train_accuracy"] = float(np.mean([u["train_accuracy"] for u in units]))
    rep.sections.append(
        (
            "Gini of the loss-sensitivity",
            f"{cfg['steps']} SGD steps (batch 1, α = {cfg['lr']}) on {cfg['n_train']} examples; ḡ_x averages "
            f"‖∂L_t/∂x_j‖₁ over windows of {cfg['window']} unrolled steps every {cfg['window_every']} steps "
            "(a truncated unroll: an approximation of eq. 3.3). Mean ± standard deviation over the seeds; "
            "ḡ quantiles averaged over seeds.\n\n"
            + markdown_table(
                ["condition", "final Gini", "train accuracy", "ḡ q10", "ḡ median", "ḡ q90", "ḡ q99"], rows
            ),
        )
    )
    per_class = [
        [c, *np.nanmean([res[f"{c}/{s}"]["per_class"] for s in range(seeds) if f"{c}/{s}" in res], 0)]
        for c in conds
        if any(f"{c}/{s}" in res for s in range(seeds))
    ]
    rep.sections.append(
        (
            "Mean ḡ per digit class (the example's true digit)",
            markdown_table(["condition", *[str(k) for k in range(10)]], per_class)
            + "\n\nThe thesis's class-by-class matrix (eq. 3.5) is not measured here.",
        )
    )
    rep.sections.append(
        (
            "The rule",
            f"Headline: the final Gini on real inputs minus that on random inputs (same labels, order and "
            f"initial network), paired by seed, must exceed the registered minimum effect {m:g} with the "
            "95% CI (bootstrap) beyond it and the sign-flip test at p ≤ 0.05 over at least 5 seeds. Ties "
            f"never win. The thesis: {PAPER}.",
        )
    )
    for a, b, key in (("real", "random", "claim"), ("real_unique", "random_unique", "unique")):
        name = f"Gini({a}) > Gini({b})"
        if a not in conds or b not in conds:
            if key == "claim":
                rep.checks.append(Check(name, None, "needs the real and random conditions"))
            continue
        fa, fb = _final(res, a, seeds), _final(res, b, seeds)
        common = sorted(set(fa) & set(fb))
        if not common:
            rep.checks.append(Check(name, None, "no seed with both conditions finished"))
            continue
        d = paired(
            {s: fa[s] for s in common},
            {s: fb[s] for s in common},
            min_effect=m,
            direction="greater",
            name=name,
            key=key,
            a_label=a,
            b_label=b,
            paper=PAPER if key == "claim" else "",
        )
        rep.checks.append(d.check(headline=key == "claim"))
        if key == "claim":
            rep.summary.update(d.summary())
    rep.figures.append(_figure(res, conds, seeds))
    return rep


def _figure(res, conds, seeds) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for c in conds:
        units = [res[f"{c}/{s}"] for s in range(seeds) if f"{c}/{s}" in res]
        n = min((len(u["gini"]) for u in units), default=0)
        if not n:
            continue
        steps, curves = units[0]["steps"][:n], np.array([u["gini"][:n] for u in units])
        (line,) = ax.plot(steps, curves.mean(0), marker="o", ms=3, label=c)
        ax.fill_between(steps, curves.min(0), curves.max(0), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("SGD steps")
    ax.set_ylabel("Gini of ḡ_x")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Loss-sensitivity inequality over training")
    return Figure("gini", fig, "Gini of the running per-example loss-sensitivity (mean over seeds; min–max).")
