"""The report of `corrected-momentum`: a pure function of its results (`replab report RUN_ID` rebuilds it)."""

from __future__ import annotations

import numpy as np

from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

LABELS = {
    "sgd": "SGD",
    "momentum": "μ (dampened momentum)",
    "corrected": "μ̂ (corrected, full ζ)",
    "corrected_diag": "μ̂_diag",
    "oracle": "μ* (oracle)",
    "adam": "Adam",
    "adaptive_diag": "μ̂_diag/√(∇²+ε)",
}
PAPER = "Fig 4.3 (Mountain Car replay, 5k steps): μ* < μ̂ < μ̂_diag < μ in MSE, all pairs p < 0.001"


def _finals(res: dict, method: str, seeds: int) -> dict[int, float]:
    return {s: res[f"{method}/{s}"]["final"] for s in range(seeds) if f"{method}/{s}" in res}


def _compare(res, a, b, seeds, floor, *, min_effect, name, key, paper=""):
    """`a`'s final MSE over `b`'s (ratio of means) below 1 − min_effect, paired by seed, `a` under the
    constant predictor's MSE first; None without a seed where both finished."""
    fa, fb = _finals(res, a, seeds), _finals(res, b, seeds)
    common = sorted(set(fa) & set(fb))
    if not common:
        return None
    return paired(
        {s: fa[s] for s in common},
        {s: fb[s] for s in common},
        min_effect=min_effect,
        direction="less",
        effect="ratio",
        floor=floor,
        name=name,
        key=key,
        a_label=a,
        b_label=b,
        floor_label="best constant (Var V^π)",
        paper=paper,
    )


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    methods, seeds, m = list(cfg["methods"]), int(cfg["seeds"]), float(cfg["min_effect"])
    floor = float(results["constant_mse"])
    rep = Report(title="Staleness-corrected momentum for TD policy evaluation (Mountain Car)")
    rows = []
    for meth in methods:
        units = [res[f"{meth}/{s}"] for s in range(seeds) if f"{meth}/{s}" in res]
        finals = [u["final"] for u in units]
        auc = [float(np.mean(u["mse"])) for u in units]
        cost = np.mean([u["cpu_seconds_per_step"] for u in units]) * 1e3 if units else float("nan")
        diverged = sum(u["diverged"] for u in units)
        rows.append([LABELS[meth], _spread(finals), _spread(auc), f"{cost:.2f}", diverged])
        if units:
            rep.summary[f"{meth}/final_mse"] = (
                float(np.nanmean(finals)) if not all(np.isnan(finals)) else np.nan
            )
            rep.summary[f"{meth}/mean_mse"] = float(np.mean(auc))
    rep.summary["constant_mse"] = floor
    rep.sections.append(
        (
            "MSE to V^π",
            f"{cfg['steps']} TD(0) updates of minibatches of {cfg['batch']} fresh transitions, α = {cfg['lr']} "
            f"(Adam-like: {cfg['adam_lr']}), β = {cfg['beta']}, γ = {cfg['gamma']}, MLP 2 → "
            f"{'→'.join([str(cfg['hidden'])] * cfg['depth'])} → 1, MSE on {cfg['n_eval']} uniform states. "
            "Mean ± standard deviation over the seeds (n) — a description of the spread, not a CI; the "
            f"comparisons are decided by the checks. The best constant predictor's MSE is {floor:.4f}.\n\n"
            + markdown_table(
                ["method", "final MSE", "MSE averaged over training", "CPU ms/step", "diverged"], rows
            ),
        )
    )
    rep.sections.append(
        (
            "The rule",
            f"Headline: μ̂'s final MSE over μ's, ratio of the means over seeds paired by seed (both start "
            f"from the same network and see the same transitions), must be at most 1 − {m:g} with the 95% "
            "CI (bootstrap) below it and the sign-flip test at p ≤ 0.05, over at least 5 seeds, after μ̂ "
            "beats the best constant predictor. Ties never win. A 5-seed sweep is decided once over all "
            f"seeds by `replab ledger`. The thesis: {PAPER}.",
        )
    )
    head = "corrected momentum μ̂ beats plain momentum μ"
    if "corrected" in methods and "momentum" in methods:
        d = _compare(
            res, "corrected", "momentum", seeds, floor, min_effect=m, name=head, key="claim", paper=PAPER
        )
        if d is None:
            rep.checks.append(Check(head, None, "no seed with both methods finished"))
        else:
            rep.checks.append(d.check(headline=True))
            rep.checks.append(d.floor.check("μ̂ beats the best constant predictor", headline=False))
            rep.summary.update(d.summary())
    else:
        rep.checks.append(Check(head, None, "needs the corrected and momentum methods"))
    for a, b, key in (("corrected", "corrected_diag", "full_vs_diag"), ("oracle", "momentum", "oracle")):
        if a in methods and b in methods:
            d = _compare(
                res, a, b, seeds, floor, min_effect=m, name=f"{LABELS[a]} beats {LABELS[b]}", key=key
            )
            if d is not None:
                rep.checks.append(d.check(headline=False))
    rep.figures.append(_figure(res, methods, seeds, floor))
    return rep


def _spread(xs) -> str:
    xs = [x for x in xs if np.isfinite(x)]
    return f"{np.mean(xs):.4f} ± {np.std(xs):.4f} (n={len(xs)})" if xs else "–"


def _figure(res, methods, seeds, floor) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for meth in methods:
        units = [res[f"{meth}/{s}"] for s in range(seeds) if f"{meth}/{s}" in res]
        n = min((len(u["mse"]) for u in units), default=0)
        if not n:
            continue
        steps, curves = units[0]["steps"][:n], np.array([u["mse"][:n] for u in units])
        (line,) = ax.plot(steps, curves.mean(0), label=LABELS[meth])
        ax.fill_between(steps, curves.min(0), curves.max(0), color=line.get_color(), alpha=0.15)
    ax.axhline(floor, color="k", ls=":", lw=1, label="best constant")
    ax.set_yscale("log")
    ax.set_xlabel("TD updates")
    ax.set_ylabel("MSE to V^π")
    ax.legend(fontsize=8)
    ax.set_title("Mountain Car TD(0) policy evaluation")
    return Figure("mse", fig, "MSE to the exact V^π vs updates (mean over seeds; shaded: min–max).")
