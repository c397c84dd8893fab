"""Report of `plasticity-nonstationary`: one check and one figure per claim of Lyle et al. 2023."""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import spearmanr

from replab.track.claims import one_sample, paired
from replab.track.report import Figure, Report, markdown_table, pyplot

MECHANISMS = ("hessian_top", "gcov", "dead_fraction", "grad_norm", "weight_norm", "srank")


def _mean(xs) -> float:
    return float(np.mean(xs)) if len(xs) else float("nan")


def _spearman(a, b) -> tuple[float, float]:
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan"), float("nan")
    rho, p = spearmanr(a, b)
    return float(rho), float(p)


# Registered minimum effects of results stored before they were in the config (`Config` holds them now).
DEFAULTS = {"rise_ratio": 1.1, "ln_factor": 1.1, "dead_max": 0.01, "grad_growth_max": 10.0, "min_rho": 0.3}


def _c(c: dict, key: str) -> float:
    return c.get(key, DEFAULTS[key])


def _log(x: float) -> float:
    return math.log(x) if x > 0 else float("nan")


def run_stats(res, c) -> dict:
    """Per run: the mean final loss over the first and the last k tasks, the best constant predictor's over
    the last k (the floor), the relative plasticity loss P / b(θ0), the max dead fraction and the growth of
    the training gradient norm (mean over the last k tasks / the first k)."""
    m, g, k = res["measurements"], res["task_grad_norm"], c["k_tasks"]
    chance = res.get("task_chance")
    return {
        "first_k": _mean(res["task_loss"][:k]),
        "last_k": _mean(res["task_loss"][-k:]),
        "chance_last_k": _mean(chance[-k:]) if chance else float("nan"),
        "relative_plasticity_loss": m["plasticity_loss"][-1] / m["reference_loss"][-1],
        "max_dead": max(m["dead_fraction"]),
        "init_dead": m["dead_fraction"][0],
        "grad_growth": _mean(g[-k:]) / _mean(g[:k]) if _mean(g[:k]) > 0 else float("inf"),
    }


PAPER = {
    "claim": "layer norm is the best intervention (abstract; seed002 §5.4: no numbers recovered)",
    "plain_rise": "plain networks fit later tasks worse (abstract; no numbers recovered)",
    "dead_units": "plasticity loss without saturated units (abstract; qualitative)",
    "grad_norm": "plasticity loss without diverging gradient norms (abstract; qualitative)",
    "curvature": "plasticity loss tied to curvature / gradient covariance (abstract; qualitative)",
}


def decisions(results: dict) -> list:
    """The headline claims, decided by the shared rule with units (seed, problem); a run holds one seed
    (index 0), so one run is inconclusive and the ledger pools a sweep."""
    c, runs = results["config"], results["runs"]
    k = c["k_tasks"]
    both = [p for p, v in runs.items() if "plain" in v and "layernorm" in v]
    plain = [p for p, v in runs.items() if "plain" in v]
    stats = {p: {v: run_stats(r, c) for v, r in vs.items()} for p, vs in runs.items()}
    out = []
    if both:
        floor = {(0, p): _log(stats[p]["plain"]["chance_last_k"]) for p in both}
        has_floor = all(math.isfinite(v) for v in floor.values())
        out.append(
            paired(
                {(0, p): _log(stats[p]["layernorm"]["last_k"]) for p in both},
                {(0, p): _log(stats[p]["plain"]["last_k"]) for p in both},
                min_effect=math.log(_c(c, "ln_factor")),
                direction="less",
                floor=floor if has_floor else None,
                name=f"layer norm keeps plasticity: log final loss over the last {k} tasks, LN − plain "
                f"< −log {_c(c, 'ln_factor'):g}",
                key="claim",
                a_label="layernorm",
                b_label="plain",
                floor_label="best constant predictor",
                paper=PAPER["claim"],
            )
        )
    if plain:
        out.append(
            one_sample(
                {(0, p): _log(stats[p]["plain"]["last_k"] / stats[p]["plain"]["first_k"]) for p in plain},
                0.0,
                min_effect=math.log(_c(c, "rise_ratio")),
                direction="greater",
                name=f"plain networks fit later tasks worse: log(last {k} / first {k} final loss) > "
                f"log {_c(c, 'rise_ratio'):g}",
                key="plain_rise",
                label="plain",
                reference_label="no change (0)",
                paper=PAPER["plain_rise"],
            )
        )
        out.append(
            one_sample(
                {(0, p): stats[p]["plain"]["max_dead"] for p in plain},
                _c(c, "dead_max"),
                min_effect=0.0,
                direction="less",
                name=f"without dead units: plain's dead fraction < {_c(c, 'dead_max'):g} at every measurement",
                key="dead_units",
                label="plain",
                reference_label=f"dead_max {_c(c, 'dead_max'):g}",
                paper=PAPER["dead_units"],
            )
        )
        out.append(
            one_sample(
                {(0, p): _log(stats[p]["plain"]["grad_growth"]) for p in plain},
                math.log(_c(c, "grad_growth_max")),
                min_effect=0.0,
                direction="less",
                name=f"without diverging gradients: log growth of plain's training ‖∇‖ < "
                f"log {_c(c, 'grad_growth_max'):g}",
                key="grad_norm",
                label="plain",
                reference_label=f"log {_c(c, 'grad_growth_max'):g}",
                paper=PAPER["grad_norm"],
            )
        )
    rhos = {}
    for problem in runs:
        cols = pooled(runs, c, problem)
        for key in ("hessian_top", "gcov"):
            rhos[(0, f"{problem}/{key}")] = _spearman(cols["plasticity_loss"], cols[key])[0]
    out.append(
        one_sample(
            rhos,
            0.0,
            min_effect=_c(c, "min_rho"),
            direction="greater",
            name=f"plasticity loss co-moves with sharpness and gradient covariance: Spearman ρ ≥ "
            f"{_c(c, 'min_rho'):g}",
            key="curvature",
            label="ρ",
            reference_label="no association (0)",
            paper=PAPER["curvature"],
        )
    )
    return out


def pooled(runs, c, problem) -> dict[str, list[float]]:
    cols = {k: [] for k in ("plasticity_loss", *MECHANISMS)}
    for res in runs[problem].values():
        m = res["measurements"]
        for key in cols:
            cols[key] += m[c["gcov_statistic"] if key == "gcov" else key]
    return cols


def correlations(runs, c) -> dict:
    """{problem: {mechanism: (Spearman ρ, p)}} with the plasticity loss, pooled over variants and
    measurements (descriptive; the `curvature` claim uses ρ of the two curvature statistics)."""
    out = {}
    for problem in runs:
        cols = pooled(runs, c, problem)
        out[problem] = {k: _spearman(cols["plasticity_loss"], cols[k]) for k in MECHANISMS}
    return out


def ranking(runs, c) -> dict[str, list[tuple[str, float]]]:
    k = c["k_tasks"]
    return {
        p: sorted(((v, _mean(r["task_loss"][-k:])) for v, r in variants.items()), key=lambda t: t[1])
        for p, variants in runs.items()
    }


def report(results: dict) -> Report:
    c, runs = results["config"], results["runs"]
    rhos = correlations(runs, c)
    rep = Report(
        title="Plasticity loss on non-stationary problems",
        checks=[d.check(headline=True) for d in decisions(results)],
    )
    rep.sections.append(("Runs", _runs_table(runs, c)))
    rep.sections.append(
        (
            "Spearman ρ with the plasticity loss (pooled over variants and measurements; descriptive)",
            _rho_table(rhos),
        )
    )
    order = ranking(runs, c)
    rep.sections.append(
        (
            f"Variants ranked by mean final loss over the last {c['k_tasks']} tasks (descriptive: one seed)",
            markdown_table(
                ["problem", "order (best first)"],
                [[p, ", ".join(f"{v} {loss:.4g}" for v, loss in o)] for p, o in order.items()],
            )
            + "\n\nEach run holds one seed, so every claim above is inconclusive alone (n = 1); "
            "`replab sweep plasticity-nonstationary --seeds 5` and `replab ledger` decide them across seeds.",
        )
    )
    rep.figures += _figures(runs, c, rhos)
    summary = {}
    for p, variants in runs.items():
        if "plain" in variants:
            s = run_stats(variants["plain"], c)
            summary[f"{p}/plain_loss_ratio"] = s["last_k"] / s["first_k"] if s["first_k"] > 0 else math.inf
        names = [v for v, _ in order[p]]
        if "layernorm" in names:
            summary[f"{p}/layernorm_rank"] = float(names.index("layernorm") + 1)
    for p, table in rhos.items():
        summary |= {f"{p}/rho_{k}": v[0] for k, v in table.items()}
    for p, o in order.items():
        summary |= {f"{p}/{v}/last_k_loss": loss for v, loss in o}
        summary |= {
            f"{p}/{v}/plasticity_loss": runs[p][v]["measurements"]["plasticity_loss"][-1] for v, _ in o
        }
    rep.summary = summary
    return rep


def _runs_table(runs, c) -> str:
    k, rows = c["k_tasks"], []
    for problem, variants in runs.items():
        for variant, res in variants.items():
            m, s = res["measurements"], run_stats(res, c)
            rows.append(
                [problem, variant, s["first_k"], s["last_k"], s["chance_last_k"],
                 m["plasticity_loss"][-1], s["relative_plasticity_loss"], s["max_dead"], s["grad_growth"],
                 m["hessian_top"][-1], m[c["gcov_statistic"]][-1], float(m["srank"][-1])]
            )  # fmt: skip
    headers = ["problem", "variant", f"loss first {k}", f"loss last {k}", f"constant predictor, last {k}",
               "P (final)", "P / b(θ0)", "max dead", "‖∇‖ growth", "λ_max (final)",
               f"{c['gcov_statistic']} (final)", "srank (final)"]  # fmt: skip
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
