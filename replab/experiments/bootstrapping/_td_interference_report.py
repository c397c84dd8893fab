"""The report of `td-interference`: a pure function of its results (`replab report RUN_ID` rebuilds it)."""

from __future__ import annotations

import numpy as np

from replab.track.claims import one_sample, paired
from replab.track.report import Check, Figure, Report, markdown_table

PAPER = "Fig 3.4: SL r(log ρ̄, gap) > 0 and DDQN r < 0 at sufficient data; regression weaker (Fig 3.5)"


def _units(res, method, n, seed, cfg):
    keys = [f"{method}/n{n}/h{w}L{d}/s{seed}" for w in cfg["widths"] for d in cfg["depths"]]
    return [res[k] for k in keys if k in res]


def pearson(xs, ys) -> float:
    """Pearson r over the finite pairs; nan with fewer than 3 or a constant coordinate."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def per_seed_r(res, cfg, method) -> dict[int, float]:
    """{seed: mean over n_T of r(log ρ̄, gap) across capacities} (ρ̄ ≤ 0 has no log and is dropped)."""
    out = {}
    for s in range(int(cfg["seeds"])):
        rs = []
        for n in cfg["n_train"]:
            units = _units(res, method, n, s, cfg)
            logs = [np.log(u["rho"]) if u["rho"] > 0 else np.nan for u in units]
            rs.append(pearson(logs, [u["gap"] for u in units]))
        rs = [r for r in rs if np.isfinite(r)]
        if rs:
            out[s] = float(np.mean(rs))
    return out


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    methods, m = list(cfg["methods"]), float(cfg["min_effect"])
    rep = Report(title="Function interference and the generalization gap: regression vs TD(0)")
    rows = []
    for method in methods:
        for n in cfg["n_train"]:
            units = [u for s in range(int(cfg["seeds"])) for u in _units(res, method, n, s, cfg)]
            if not units:
                continue
            rs = [r for r in (per_seed_r(res, cfg | {"n_train": [n]}, method)).values()]
            rows.append(
                [
                    method,
                    n,
                    np.mean([u["train_mse"] for u in units]),
                    np.mean([u["test_mse"] for u in units]),
                    np.mean([u["gap"] for u in units]),
                    np.mean([u["rho"] for u in units]),
                    f"{np.mean(rs):+.3f} (n={len(rs)})" if rs else "–",
                ]
            )
    rep.sections.append(
        (
            "Gap, interference and their correlation",
            f"{cfg['steps']} Adam steps (batch {cfg['batch']}, lr {cfg['lr']}), γ = {cfg['gamma']}, TD target "
            f"EMA τ = {cfg['tau']}; capacities n_h ∈ {list(cfg['widths'])} × n_L ∈ {list(cfg['depths'])}. "
            "MSE to the true V; gap = test − train; ρ̄ = mean pairwise ∇V(s)ᵀ∇V(s′) on training states; r = "
            "Pearson r(log ρ̄, gap) across capacities, per seed, mean over seeds.\n\n"
            + markdown_table(["method", "n_T", "train MSE", "test MSE", "gap", "ρ̄", "r"], rows),
        )
    )
    rep.sections.append(
        (
            "The rule",
            "Headline: the regression arm's per-seed r (averaged over n_T) must exceed 0 by the registered "
            f"minimum effect {m:g} with the 95% CI (bootstrap) beyond it and the sign-flip test at p ≤ 0.05 "
            f"over at least 5 seeds. Ties never win. Secondary: regression r > TD r, paired by seed. The "
            f"thesis: {PAPER}.",
        )
    )
    reg = per_seed_r(res, cfg, "regression") if "regression" in methods else {}
    name = "r(log ρ̄, gap) > 0 for regression"
    if not reg:
        rep.checks.append(Check(name, None, "needs finished regression runs with a defined correlation"))
    else:
        d = one_sample(reg, 0.0, min_effect=m, name=name, key="claim", label="r_regression", paper=PAPER)
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
    td = per_seed_r(res, cfg, "td") if "td" in methods else {}
    common = sorted(set(reg) & set(td))
    if common:
        d = paired(
            {s: reg[s] for s in common},
            {s: td[s] for s in common},
            min_effect=0.0,
            name="r(regression) > r(TD)",
            key="td",
            a_label="regression",
            b_label="td",
        )
        rep.checks.append(d.check(headline=False))
    for method, rs in (("regression", reg), ("td", td)):
        if rs:
            rep.summary[f"{method}/r"] = float(np.mean(list(rs.values())))
    rep.figures.append(_figure(res, methods))
    return rep


def _figure(res, methods) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.8))
    for method in methods:
        pts = [(u["rho"], u["gap"]) for k, u in res.items() if k.startswith(f"{method}/") and u["rho"] > 0]
        if pts:
            ax.scatter(*zip(*pts), s=12, label=method, alpha=0.7)
    ax.set_xscale("log")
    ax.set_xlabel("ρ̄ (mean pairwise function interference)")
    ax.set_ylabel("gap (test − train MSE)")
    ax.legend(fontsize=8)
    ax.set_title("Interference vs generalization gap")
    return Figure("gap", fig, "One point per network (method, n_T, capacity, seed).")
