"""Report of `plasticity-nonstationary`: one check and one figure per claim of Lyle et al. 2023."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import spearmanr

from replab.track.report import Check, Figure, Report, markdown_table, pyplot

MECHANISMS = ("hessian_top", "gcov", "dead_fraction", "grad_norm", "weight_norm", "srank")


def _mean(xs) -> float:
    return float(np.mean(xs)) if len(xs) else float("nan")


def _spearman(a, b) -> tuple[float, float]:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    rho, p = spearmanr(a, b)
    return float(rho), float(p)


def claim1(runs, c) -> tuple[Check, dict]:
    k, out, parts = c["k_tasks"], {}, []
    for problem, variants in runs.items():
        if "plain" not in variants:
            continue
        loss = variants["plain"]["task_loss"]
        first, last = _mean(loss[:k]), _mean(loss[-k:])
        out[problem] = last / first if first > 0 else float("inf")
        parts.append(f"{problem}: first {k} {first:.4g} → last {k} {last:.4g} (×{out[problem]:.3g})")
    held = all(r > c["rise_ratio"] for r in out.values()) if out else None
    return Check(f"plain networks fit later tasks worse (×>{c['rise_ratio']})", held, "; ".join(parts)), out


def run_stats(res, c) -> dict:
    """Lost plasticity (final P > lost_margin·b(θ0)), max dead fraction, and the growth of the training
    gradient norm (mean over the last k tasks / first k tasks)."""
    m, g, k = res["measurements"], res["task_grad_norm"], c["k_tasks"]
    return {
        "lost": m["plasticity_loss"][-1] > c["lost_margin"] * m["reference_loss"][-1],
        "relative_plasticity_loss": m["plasticity_loss"][-1] / m["reference_loss"][-1],
        "max_dead": max(m["dead_fraction"]),
        "init_dead": m["dead_fraction"][0],
        "grad_growth": _mean(g[-k:]) / _mean(g[:k]) if _mean(g[:k]) > 0 else float("inf"),
    }


def claim2(runs, c) -> Check:
    lost, witnesses = [], []
    for problem, variants in runs.items():
        for variant, res in variants.items():
            s = run_stats(res, c)
            if s["lost"]:
                tag = f"{problem}/{variant} (P/b0 {s['relative_plasticity_loss']:.2f}, dead ≤ {s['max_dead']:.3f} (at init {s['init_dead']:.3f}), train ‖∇‖ ×{s['grad_growth']:.2g})"
                lost.append(tag)
                if s["max_dead"] <= c["dead_max"] and s["grad_growth"] <= c["grad_growth_max"]:
                    witnesses.append(tag)
    name = "plasticity lost with ≈0 dead units and no diverging gradient norm"
    if not lost:
        return Check(
            name, None, "no run lost plasticity (final probe loss within lost_margin of a fresh network's)"
        )
    measured = f"lost plasticity: {', '.join(lost)}; of these with ≈0 dead units and bounded ‖∇‖: {', '.join(witnesses) or 'none'}"
    return Check(name, bool(witnesses), measured)


def pooled(runs, c, problem) -> dict[str, list[float]]:
    cols = {k: [] for k in ("plasticity_loss", *MECHANISMS)}
    for res in runs[problem].values():
        m = res["measurements"]
        for key in cols:
            cols[key] += m[c["gcov_statistic"] if key == "gcov" else key]
    return cols


def claim3(runs, c) -> tuple[Check, dict]:
    table, parts, held = {}, [], []
    for problem in runs:
        cols = pooled(runs, c, problem)
        table[problem] = {k: _spearman(cols["plasticity_loss"], cols[k]) for k in MECHANISMS}
        ok = []
        for k in ("hessian_top", "gcov"):
            rho, p = table[problem][k]
            ok.append(None if math.isnan(rho) else (rho > 0 and p < c["alpha"]))
            parts.append(f"{problem} ρ(P, {k}) = {rho:.2f} (p = {p:.2g})")
        held.append(None if None in ok else all(ok))
    decided = [h for h in held if h is not None]
    verdict = all(decided) if decided and len(decided) == len(held) else None
    return Check(
        "plasticity loss co-moves with sharpness and gradient-covariance structure", verdict, "; ".join(parts)
    ), table


def ranking(runs, c) -> dict[str, list[tuple[str, float]]]:
    k = c["k_tasks"]
    return {
        p: sorted(((v, _mean(r["task_loss"][-k:])) for v, r in variants.items()), key=lambda t: t[1])
        for p, variants in runs.items()
    }


def claim4(runs, c) -> tuple[Check, dict]:
    ranks, parts = {}, []
    for problem, order in ranking(runs, c).items():
        names = [v for v, _ in order]
        if "layernorm" in names:
            ranks[problem] = names.index("layernorm") + 1
            parts.append(
                f"{problem}: layernorm rank {ranks[problem]}/{len(names)} (order {', '.join(names)})"
            )
    held = all(r <= c["ln_top"] for r in ranks.values()) if ranks else None
    return Check(f"layer norm ranks first or near first (top {c['ln_top']})", held, "; ".join(parts)), ranks


def report(results: dict) -> Report:
    c, runs = results["config"], results["runs"]
    check1, ratios = claim1(runs, c)
    check3, rhos = claim3(runs, c)
    check4, ranks = claim4(runs, c)
    rep = Report(
        title="Plasticity loss on non-stationary problems",
        checks=[check1, claim2(runs, c), check3, check4],
    )
    rep.sections.append(("Runs", _runs_table(runs, c)))
    rep.sections.append(
        ("Spearman ρ with the plasticity loss (pooled over variants and measurements)", _rho_table(rhos))
    )
    rep.figures += _figures(runs, c, rhos)
    summary = {f"{p}/plain_loss_ratio": r for p, r in ratios.items()}
    summary |= {f"{p}/layernorm_rank": float(r) for p, r in ranks.items()}
    for p, table in rhos.items():
        summary |= {f"{p}/rho_{k}": v[0] for k, v in table.items()}
    for p, order in ranking(runs, c).items():
        summary |= {f"{p}/{v}/last_k_loss": loss for v, loss in order}
        summary |= {
            f"{p}/{v}/plasticity_loss": runs[p][v]["measurements"]["plasticity_loss"][-1] for v, _ in order
        }
    rep.summary = summary
    return rep


def _runs_table(runs, c) -> str:
    k, rows = c["k_tasks"], []
    for problem, variants in runs.items():
        for variant, res in variants.items():
            m, s = res["measurements"], run_stats(res, c)
            rows.append(
                [problem, variant, _mean(res["task_loss"][:k]), _mean(res["task_loss"][-k:]),
                 m["plasticity_loss"][-1], s["relative_plasticity_loss"], s["max_dead"], s["grad_growth"],
                 m["hessian_top"][-1], m[c["gcov_statistic"]][-1], float(m["srank"][-1])]
            )  # fmt: skip
    headers = ["problem", "variant", f"loss first {k}", f"loss last {k}", "P (final)", "P / b(θ0)",
               "max dead", "‖∇‖ growth", "λ_max (final)", f"{c['gcov_statistic']} (final)", "srank (final)"]  # fmt: skip
    return markdown_table(headers, rows)


def _rho_table(rhos) -> str:
    rows = [[p, *[f"{t[k][0]:.2f} (p={t[k][1]:.2g})" for k in MECHANISMS]] for p, t in rhos.items()]
    return markdown_table(["problem", *MECHANISMS], rows)


def _figures(runs, c, rhos) -> list[Figure]:
    plt = pyplot()
    problems = list(runs)
    figs = []
    fig, axes = plt.subplots(1, len(problems), figsize=(5.5 * len(problems), 3.8), squeeze=False)
    for ax, p in zip(axes[0], problems):
        for v, res in runs[p].items():
            ax.plot(
                range(1, len(res["task_loss"]) + 1),
                res["task_loss"],
                lw=2.5 if v == "plain" else 1.2,
                label=v,
            )
        ax.set(title=p, xlabel="task", ylabel="final task loss", yscale="log")
    axes[0][0].legend(fontsize=7)
    figs.append(Figure("claim1_task_loss", fig, "Claim 1: final loss on each task (log scale), per variant."))

    keys = (
        ("plasticity_loss", "plasticity loss P"),
        ("dead_fraction", "dead-unit fraction"),
        ("grad_norm", "‖∇‖ (probe task)"),
    )
    fig, axes = plt.subplots(4, len(problems), figsize=(5.5 * len(problems), 10.5), squeeze=False)
    for j, p in enumerate(problems):
        for i, (key, label) in enumerate(keys):
            for v, res in runs[p].items():
                axes[i][j].plot(res["tasks_done"], res["measurements"][key], marker="o", ms=3, label=v)
            axes[i][j].set(ylabel=label, title=p if i == 0 else "", xlabel="tasks done" if i == 2 else "")
        for v, res in runs[p].items():
            g = res["task_grad_norm"]
            axes[3][j].plot(range(1, len(g) + 1), g, label=v)
        axes[3][j].set(ylabel="training ‖∇‖ (mean per task)", xlabel="task", yscale="log")
    axes[0][0].legend(fontsize=7)
    figs.append(
        Figure(
            "claim2_mechanisms",
            fig,
            "Claim 2: plasticity loss beside the dead-unit fraction and the gradient norms (probe task; training).",
        )
    )

    fig, axes = plt.subplots(len(problems), 2, figsize=(10, 3.8 * len(problems)), squeeze=False)
    for i, p in enumerate(problems):
        for j, (key, label) in enumerate(
            (("hessian_top", "top Hessian eigenvalue"), ("gcov", c["gcov_statistic"]))
        ):
            ax = axes[i][j]
            stat = c["gcov_statistic"] if key == "gcov" else key
            for v, res in runs[p].items():
                ax.scatter(res["measurements"][stat], res["measurements"]["plasticity_loss"], s=14, label=v)
            rho, pv = rhos[p][key]
            ax.set(title=f"{p}: ρ = {rho:.2f} (p = {pv:.2g})", xlabel=label, ylabel="plasticity loss P")
            if (
                key == "hessian_top"
                and min(min(r["measurements"]["hessian_top"]) for r in runs[p].values()) > 0
            ):
                ax.set_xscale("log")
    axes[0][0].legend(fontsize=7)
    figs.append(
        Figure(
            "claim3_curvature", fig, "Claim 3: plasticity loss against sharpness and gradient interference."
        )
    )

    shown = [v for v in ("plain", "layernorm") if all(v in runs[p] for p in problems)]
    if shown:
        cols = [(v, when) for v in shown for when in ("first", "last")]
        fig, axes = plt.subplots(
            len(problems), len(cols), figsize=(3.2 * len(cols), 3.2 * len(problems)), squeeze=False
        )
        for i, p in enumerate(problems):
            for j, (v, when) in enumerate(cols):
                axes[i][j].imshow(np.array(runs[p][v][f"cos_{when}"]), vmin=-1, vmax=1, cmap="RdBu_r")
                axes[i][j].set(
                    title=f"{p}/{v} ({'start' if when == 'first' else 'end'})", xticks=[], yticks=[]
                )
        figs.append(
            Figure(
                "claim3_gradient_covariance",
                fig,
                "Gradient cosine matrices on a fresh probe task (red +1, blue −1).",
            )
        )

    fig, axes = plt.subplots(1, len(problems), figsize=(5.5 * len(problems), 3.8), squeeze=False)
    for ax, (p, order) in zip(axes[0], ranking(runs, c).items()):
        names = [v for v, _ in order]
        ax.bar(names, [loss for _, loss in order], color=["C3" if v == "layernorm" else "C0" for v in names])
        ax.set(title=p, ylabel=f"mean final loss, last {c['k_tasks']} tasks", yscale="log")
        ax.tick_params(axis="x", rotation=45)
    figs.append(
        Figure(
            "claim4_ranking",
            fig,
            "Claim 4: variants ranked by their loss on the last tasks (lower is better).",
        )
    )
    for f in figs:
        f.figure.tight_layout()
    return figs
