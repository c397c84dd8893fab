"""The report of `lru-ladder`: a pure function of its results (so `replab report RUN_ID` can rebuild it)."""

from __future__ import annotations

import numpy as np

from replab.experiments.lru._paper import (
    LADDER_PAPER,
    LADDER_PAPER_SOURCE,
    LRA_TASKS,
    LRU_LRA,
    LRU_LRA_SOURCE,
)
from replab.track.report import Check, Figure, Report, markdown_table
from replab.track.stats import aggregate, bootstrap_ci

# each step of the ladder and the rung it improves on (LRU §3.1–3.3)
STEPS = (
    ("linearize the recurrence", "tanh_rnn", "linear_rnn"),
    ("diagonalize over complex numbers", "linear_rnn", "diag_complex"),
    ("stable exponential parametrization", "diag_complex", "stable_exp"),
    ("ring initialization", "stable_exp", "ring_init"),
    ("γ normalization", "ring_init", "lru"),
)


def _acc(results: dict, task: str, rung: str, seeds: int) -> list[float]:
    return [
        results[f"{task}/{rung}/{s}"]["accuracy"] for s in range(seeds) if f"{task}/{rung}/{s}" in results
    ]


def _paired_diff(results, task, a, b, seeds) -> np.ndarray:
    keys = [s for s in range(seeds) if f"{task}/{a}/{s}" in results and f"{task}/{b}/{s}" in results]
    return np.array(
        [results[f"{task}/{b}/{s}"]["accuracy"] - results[f"{task}/{a}/{s}"]["accuracy"] for s in keys]
    )


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    tasks, rungs, seeds = list(cfg["tasks"]), list(cfg["rungs"]), int(cfg["seeds"])
    long_task = tasks[-1]
    rep = Report(title="LRU ablation ladder", source="Orvieto et al. 2023 (arXiv 2303.06349), §3")

    # -- table of accuracies -------------------------------------------------------------------------
    stats = {(t, r): aggregate(_acc(res, t, r, seeds)) for t in tasks for r in rungs}
    mean_over_tasks = {r: float(np.mean([stats[(t, r)]["mean"] for t in tasks])) for r in rungs}
    rows = []
    for r in rungs:
        cells = [
            f"{stats[(t, r)]['iqm']:.3f} [{stats[(t, r)]['ci_low']:.3f}, {stats[(t, r)]['ci_high']:.3f}]"
            for t in tasks
        ]
        paper = LADDER_PAPER.get(r, {})
        ref = ", ".join(f"{k} {'✗' if v is None else v}" for k, v in paper.items()) or "—"
        rows.append([r, *cells, mean_over_tasks[r], ref])
        for t in tasks:
            rep.summary[f"{t}/{r}/accuracy"] = stats[(t, r)]["iqm"]
    lengths = {
        t: max((v["length"] for k, v in res.items() if k.startswith(f"{t}/")), default=0) for t in tasks
    }
    heads = [
        "rung",
        *[f"{t} (L≤{lengths[t]})" for t in tasks],
        "mean over tasks",
        "paper (%, reference only)",
    ]
    rep.sections.append(
        (
            "Test accuracy per rung",
            (
                f"IQM over {seeds} seeds [95% bootstrap CI]; the last column is the paper's LRA accuracy for the "
                f"same rung, **from the paper, not measured here** — {LADDER_PAPER_SOURCE}.\n\n"
                + markdown_table(heads, rows)
            ),
        )
    )
    lra = markdown_table(["", *LRA_TASKS], [["LRU (paper)", *[LRU_LRA[k] for k in LRA_TASKS]]])
    rep.sections.append(
        (
            "The paper's LRA results (reference, not measured here)",
            f"{LRU_LRA_SOURCE}.\n\n{lra}\n\n"
            "The tasks above are CPU-scale stand-ins (shorter ListOps, 64-step digits, delayed "
            "recall), so their accuracies are not comparable to these numbers; only the ordering of "
            "the rungs is.",
        )
    )
    timing = [
        [
            r,
            *[
                float(
                    np.mean(
                        [res[k]["seconds_per_step"] for k in res if k.startswith(f"{t}/{r}/")] or [np.nan]
                    )
                )
                for t in tasks
            ],
            int(np.mean([res[k]["parameters"] for k in res if f"/{r}/" in k] or [0])),
        ]
        for r in rungs
    ]
    diverged = sorted(k for k, v in res.items() if v.get("diverged"))
    rep.sections.append(
        (
            "Cost",
            markdown_table(["rung", *[f"{t} s/step" for t in tasks], "parameters"], timing)
            + (
                f"\n\nDiverged (non-finite loss, stopped early): {', '.join(diverged)}"
                if diverged
                else "\n\nNo run diverged."
            ),
        )
    )

    # -- checks --------------------------------------------------------------------------------------
    for label, a, b in STEPS:
        if a in rungs and b in rungs:
            held = mean_over_tasks[b] > mean_over_tasks[a]
            rep.checks.append(
                Check(
                    f"{label} helps ({a} → {b})",
                    held,
                    f"mean accuracy {mean_over_tasks[a]:.3f} → {mean_over_tasks[b]:.3f}",
                )
            )
    if "tanh_rnn" in rungs and "lru" in rungs:
        rep.checks.append(_paired_check(res, long_task, "tanh_rnn", "lru", seeds, "LRU beats the tanh RNN"))
    if "lru_rmin0" in rungs and "lru" in rungs:
        d = _paired_diff(res, long_task, "lru_rmin0", "lru", seeds)
        rep.checks.append(
            Check(
                f"ring near 1 beats r_min = 0 on {long_task}",
                bool(d.size and d.mean() > 0),
                f"mean paired difference lru − lru_rmin0 = {d.mean() if d.size else float('nan'):+.3f}",
            )
        )
    rep.figures.append(_figure(tasks, rungs, stats))
    return rep


def _paired_check(res, task, a, b, seeds, label) -> Check:
    d = _paired_diff(res, task, a, b, seeds)
    if d.size == 0:
        return Check(f"{label} on {task}", None, "no paired runs")
    lo, hi = bootstrap_ci(d, statistic=np.mean)
    return Check(
        f"{label} on {task}",
        bool(lo > 0),
        f"paired difference {b} − {a}: mean {d.mean():+.3f}, 95% CI [{lo:+.3f}, {hi:+.3f}] over {d.size} seeds",
    )


def _figure(tasks, rungs, stats) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(rungs), 3.6))
    width = 0.8 / len(tasks)
    for i, t in enumerate(tasks):
        x = np.arange(len(rungs)) + (i - (len(tasks) - 1) / 2) * width
        mid = np.array([stats[(t, r)]["iqm"] for r in rungs])
        lo = mid - np.array([stats[(t, r)]["ci_low"] for r in rungs])
        hi = np.array([stats[(t, r)]["ci_high"] for r in rungs]) - mid
        ax.bar(x, mid, width, yerr=[lo, hi], capsize=2, label=t)
    ax.set_xticks(np.arange(len(rungs)), rungs, rotation=20)
    ax.set_ylabel("test accuracy (IQM, 95% CI)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("LRU ablation ladder: from the tanh RNN to the LRU")
    return Figure(
        "ladder", fig, "Test accuracy of each rung of the ladder per task (IQM over seeds, 95% bootstrap CI)."
    )
