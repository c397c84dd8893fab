"""The curl-dmc report: measured returns per (task, method) beside the published CURL, RAD, Pixel SAC and
State SAC numbers, the checks CURL > Pixel SAC and RAD > Pixel SAC, and learning curves."""

from __future__ import annotations

import numpy as np

from replab.experiments.continuous._curl_dmc_scores import SOURCE, published
from replab.track.report import Check, Figure, Report, markdown_table, pyplot
from replab.track.stats import aggregate

NAMES = {"state": "State SAC", "pixel": "Pixel SAC", "curl": "CURL", "rad": "RAD"}
BUDGETS = (100_000, 500_000)


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


def _beats(per_task: dict[str, dict[str, float]], a: str, b: str) -> Check:
    tasks = [t for t, m in per_task.items() if a in m and b in m]
    name = f"{NAMES[a]} > {NAMES[b]} (mean over tasks of the final IQM over seeds)"
    if not tasks:
        return Check(name, None, "a method is missing from this run")
    ma, mb = np.mean([per_task[t][a] for t in tasks]), np.mean([per_task[t][b] for t in tasks])
    wins = sum(per_task[t][a] > per_task[t][b] for t in tasks)
    return Check(name, bool(ma > mb), f"{ma:.1f} vs {mb:.1f} ({wins}/{len(tasks)} tasks)")


def _published_check(scores: dict, budget: int, method: str) -> Check:
    name = f"{NAMES[method]} reaches the published mean − 2 std on every task at {budget // 1000}k"
    rows = []
    for (task, m), vals in scores.items():
        pub = published(method, task, budget)
        if m == method and pub:
            rows.append((task, float(np.mean(vals)), pub))
    if not rows:
        return Check(name, None, "no measurement at this budget")
    ok = all(v >= mean - 2 * std for _, v, (mean, std) in rows)
    return Check(name, ok, "; ".join(f"{t} {v:.0f} vs {mean:.0f} ± {std:.0f}" for t, v, (mean, std) in rows))


def report(results: dict) -> Report:
    cfg = results["config"]
    final = _scores_at(results, None)
    per_task: dict[str, dict[str, float]] = {}
    rows, summary = [], {}
    for (task, m), vals in sorted(final.items()):
        a = aggregate(vals)
        per_task.setdefault(task, {})[m] = a["iqm"]
        ms = np.mean(
            [r["update_ms"] for r in results["done"].values() if r["task"] == task and r["method"] == m]
        )
        rows.append([task, NAMES[m], a["n"], a["iqm"], f"[{a['ci_low']:.1f}, {a['ci_high']:.1f}]", ms])
        summary[f"iqm/{task}/{m}"] = a["iqm"]
    steps = cfg["env_steps"]
    sections = [
        (
            "Measured final returns",
            markdown_table(
                ["task", "method", "seeds", f"IQM return @ {steps:,} env steps", "95% CI", "ms / update"],
                rows,
            ),
        )
    ]
    checks = [_beats(per_task, "curl", "pixel"), _beats(per_task, "rad", "pixel")]
    for budget in BUDGETS:
        at = _scores_at(results, budget)
        if not at:
            continue
        checks += [_published_check(at, budget, m) for m in ("curl", "rad") if m in cfg["methods"]]
        prow = []
        for (task, m), vals in sorted(at.items()):
            pub = published(m, task, budget)
            prow.append(
                [task, NAMES[m], float(np.mean(vals)), f"{pub[0]:.0f} ± {pub[1]:.0f}" if pub else "-"]
            )
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
