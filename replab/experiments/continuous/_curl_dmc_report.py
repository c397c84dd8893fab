"""The curl-dmc report: measured returns per (task, method) beside the published CURL, RAD, Pixel SAC and
State SAC numbers; CURL vs Pixel SAC and RAD vs Pixel SAC decided by the shared rule (`track/claims.py`:
paired by seed and task, registered minimum effect, the uniform-random policy as the floor), per task too;
learning curves."""

from __future__ import annotations

import dataclasses

import numpy as np

from replab.experiments.continuous._curl_dmc_scores import SOURCE, published
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot
from replab.track.stats import iqm

NAMES = {"state": "State SAC", "pixel": "Pixel SAC", "curl": "CURL", "rad": "RAD"}
BUDGETS = (100_000, 500_000)
MIN_EFFECT, MARGIN_STD = 50.0, 2.0
"""curl-dmc's Config defaults of `min_effect` and `published_margin_std`, for results whose config predates
them (a report does not import its experiment module)."""


def _scores_at(results: dict, budget: int | None) -> dict[tuple[str, str], list[float]]:
    """{(task, method): per-seed mean returns} at env step `budget` (None: each job's final evaluation)."""
    out: dict[tuple[str, str], list[float]] = {}
    for r in results["done"].values():
        if budget is None:
            value = r["final"]
        else:
            hits = [np.mean(s) for t, s in r["evals"] if t == budget]
            if not hits:
                continue
            value = hits[-1]
        out.setdefault((r["task"], r["method"]), []).append(float(value))
    return out


def per_unit(results: dict, budget: int | None = None) -> dict[str, dict[tuple[int, str], float]]:
    """{method: {(seed index, task): mean return}} at env step `budget` (None: the final evaluation)."""
    out: dict[str, dict[tuple[int, str], float]] = {}
    for key, r in results["done"].items():
        seed = int(r.get("seed", key.rsplit("/s", 1)[-1]))
        if budget is None:
            value = r["final"]
        else:
            hits = [np.mean(s) for t, s in r["evals"] if t == budget]
            if not hits:
                continue
            value = hits[-1]
        out.setdefault(r["method"], {})[(seed, r["task"])] = float(value)
    return out


def random_floor(results: dict) -> dict[tuple[int, str], float]:
    """{(seed index, task): the random policy's mean return on that unit's final-evaluation episodes}."""
    out = {}
    for key, scores in results.get("random", {}).items():
        task, seed = key.rsplit("/s", 1)
        out[(int(seed), task)] = float(np.mean(scores))
    return out


def _paper(a: str, b: str, tasks) -> str:
    parts = []
    for t in tasks:
        pa, pb = published(a, t, 100_000), published(b, t, 100_000)
        if pa and pb:
            parts.append(f"{t} {pa[0]:.0f} vs {pb[0]:.0f}")
    return f"DMControl100k, {NAMES[a]} vs {NAMES[b]} (Tables 3.1 / 4.1): " + "; ".join(parts)


def _compare(vals, floor, a, b, m, *, key, headline, tasks=None) -> Check | None:
    """ "a beats b by more than m", paired by (seed, task), the random policy as the floor (None when a
    method is missing); `tasks` restricts the units."""
    if a not in vals or b not in vals:
        return None
    units = set(vals[a]) & set(vals[b]) & (set(floor) if floor else set(vals[a]))
    units = sorted(u for u in units if tasks is None or u[1] in tasks)
    if not units:
        return None
    names = sorted({u[1] for u in units})
    where = names[0] if len(names) == 1 else f"{len(names)} tasks"
    d = paired(
        {u: vals[a][u] for u in units},
        {u: vals[b][u] for u in units},
        min_effect=m,
        floor={u: floor[u] for u in units} if floor else None,
        name=f"{NAMES[a]} beats {NAMES[b]} by > {m:g} return ({where}; final evaluation, paired by seed and task)",
        key=key,
        a_label=a,
        b_label=b,
        floor_label="random policy",
        paper=_paper(a, b, names),
    )
    check = d.check(headline=headline)
    if floor:
        return check
    return dataclasses.replace(  # results from before the floor was measured: nothing is decided
        check,
        held=None,
        claim=None,
        measured=f"{d.effect_text()}, n = {d.n}: not decided, these results have no random-policy floor "
        "(run before it was measured); rerun to decide",
    )


def _published_check(vals: dict, budget: int, method: str, k: float) -> Check | None:
    units = sorted(u for u in vals.get(method, {}) if published(method, u[1], budget))
    if not units:
        return None
    ref = {u: published(method, u[1], budget)[0] - k * published(method, u[1], budget)[1] for u in units}
    d = paired(
        {u: vals[method][u] for u in units},
        ref,
        min_effect=0.0,
        name=f"{NAMES[method]} at {budget // 1000}k is above the published mean − {k:g} std (pooled over tasks)",
        key=f"published/{method}/{budget}",
        a_label=method,
        b_label=f"published mean − {k:g} std",
    )
    return d.check(headline=False)


def report(results: dict) -> Report:
    cfg = results["config"]
    m_eff = float(cfg.get("min_effect", MIN_EFFECT))
    k_std = float(cfg.get("published_margin_std", MARGIN_STD))
    final = _scores_at(results, None)
    vals, floor = per_unit(results), random_floor(results)
    per_task: dict[str, dict[str, float]] = {}
    rows, summary = [], {}
    for (task, m), xs in sorted(final.items()):
        per_task.setdefault(task, {})[m] = float(np.mean(xs))
        ms = np.mean(
            [r["update_ms"] for r in results["done"].values() if r["task"] == task and r["method"] == m]
        )
        gap = [vals[m][u] - floor[u] for u in vals.get(m, {}) if u[1] == task and u in floor]
        shown = ", ".join(f"{x:.1f}" for x in xs) if len(xs) <= 10 else f"{len(xs)} values"
        pub = published(m, task, 100_000)
        rows.append(
            [task, NAMES[m], len(xs), float(np.mean(xs)), iqm(xs), shown, float(np.mean(gap)) if gap else "–"]
            + [f"{pub[0]:.0f} ± {pub[1]:.0f}" if pub else "–", ms]
        )
        summary[f"iqm/{task}/{m}"] = iqm(xs)
        summary[f"mean/{task}/{m}"] = float(np.mean(xs))
    for task in sorted({u[1] for u in floor}):
        fl = [v for u, v in floor.items() if u[1] == task]
        rows.append([task, "uniform-random policy", len(fl), float(np.mean(fl)), iqm(fl), "", 0.0, "–", "–"])
        summary[f"random/{task}"] = float(np.mean(fl))
    steps = cfg["env_steps"]
    sections = [
        (
            "Measured final returns",
            markdown_table(
                ["task", "method", "seeds", f"mean return @ {steps:,} env steps", "IQM", "per seed"]
                + ["mean − random", "published @ 100k (mean ± std)", "ms / update"],
                rows,
            )
            + f"\n\nMinimum effect {m_eff:g} return points; intervals only for the paired differences (the "
            "checks, `track/claims.py`: ≥ 5 seeds per task; `replab sweep curl-dmc --seeds 5` and `replab "
            "ledger` pool runs)."
            + (
                ""
                if floor
                else " These results have no random-policy floor (a run from before it was measured)."
            ),
        )
    ]
    checks = []
    for key, a in (("curl_vs_pixel", "curl"), ("rad_vs_pixel", "rad")):
        if (c := _compare(vals, floor, a, "pixel", m_eff, key=key, headline=True)) is not None:
            checks.append(c)
    tasks = sorted({u[1] for v in vals.values() for u in v})
    if len(tasks) > 1:
        for task in tasks:
            for a in ("curl", "rad"):
                c = _compare(
                    vals, floor, a, "pixel", m_eff, key=f"{a}_vs_pixel/{task}", headline=False, tasks={task}
                )
                if c is not None:
                    checks.append(c)
    for budget in BUDGETS:
        at = _scores_at(results, budget)
        if not at:
            continue
        at_units = per_unit(results, budget)
        checks += [
            c for m in ("curl", "rad") if (c := _published_check(at_units, budget, m, k_std)) is not None
        ]
        prow = []
        for (task, m), xs in sorted(at.items()):
            pub = published(m, task, budget)
            prow.append([task, NAMES[m], float(np.mean(xs)), f"{pub[0]:.0f} ± {pub[1]:.0f}" if pub else "-"])
        sections.append(
            (
                f"DMControl{budget // 1000}k: measured vs published",
                markdown_table(["task", "method", "measured mean", "published mean ± std"], prow),
            )
        )
    reach = [b for b in BUDGETS if b <= steps]
    note = (
        f"Published numbers (mean ± std over 10 seeds): {'; '.join(f'{NAMES[m]}: {s}' for m, s in SOURCE.items())}. "
        + (
            f"This run's budget ({steps:,} env steps, geometry {cfg['size']} → {cfg['crop']}, batch "
            f"{cfg['batch_size']}) is below DMControl100k: its numbers are not comparable with the published ones."
            if not reach
            else f"Measured at {', '.join(f'{b // 1000}k' for b in reach)} env steps with {cfg['seeds']} seed(s)."
        )
    )
    sections.append(("Published numbers", note))
    plt = pyplot()
    tasks = sorted(per_task)
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(4.5 * max(1, len(tasks)), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for m in cfg["methods"]:
            runs = [r for r in results["done"].values() if r["task"] == task and r["method"] == m]
            if not runs:
                continue
            ts = [t for t, _ in runs[0]["evals"]]
            ys = np.array([[np.mean(s) for _, s in r["evals"]] for r in runs if len(r["evals"]) == len(ts)])
            (line,) = ax.plot(ts, ys.mean(0), marker="o", label=NAMES[m])
            for budget in (b for b in BUDGETS if b <= max(ts)):  # the published mean at that budget
                pub = published(m, task, budget)
                if pub:
                    ax.scatter([budget], [pub[0]], marker="x", s=60, color=line.get_color())
        ax.set_title(task)
        ax.set_xlabel("env steps")
        ax.set_ylabel("evaluation return")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return Report(
        title="curl-dmc: CURL and RAD vs pixel and state SAC on DeepMind Control from pixels",
        checks=checks,
        sections=sections,
        figures=[
            Figure(
                "curves",
                fig,
                "Evaluation return against env steps, mean over seeds, per task; × = the published mean "
                "(same colour) at 100k / 500k env steps when the run reaches them.",
            )
        ],
        summary=summary,
    )
