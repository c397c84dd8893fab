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
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

# each step of the ladder and the rung it improves on (LRU §3.1–3.3)
STEPS = (
    ("linearize the recurrence", "tanh_rnn", "linear_rnn"),
    ("diagonalize over complex numbers", "linear_rnn", "diag_complex"),
    ("stable exponential parametrization", "diag_complex", "stable_exp"),
    ("ring initialization", "stable_exp", "ring_init"),
    ("γ normalization", "ring_init", "lru"),
)
CHANCE = {"listops": 0.1, "digits": 0.1, "permuted_digits": 0.1, "delayed_recall": 1 / 8}
"""Chance accuracy per task (uniform guess over 10 classes; 8 recall symbols): the floor of the checks."""
LONG_TASK = "delayed_recall"
MIN_EFFECT, STEP_MIN_EFFECT = 0.08, 0.02
"""The Config's registered minimum effects (2026-12-05), for results written before they were fields."""
PAPER = "LRA: ListOps 43.9 → 60.2, sCIFAR 69.9 → 89.0 (tanh RNN → LRU, Tables 1–3)"


def _acc(results: dict, task: str, rung: str, seeds: int) -> list[float]:
    return [
        results[f"{task}/{rung}/{s}"]["accuracy"] for s in range(seeds) if f"{task}/{rung}/{s}" in results
    ]


def _units(res: dict, tasks, a: str, b: str, seeds: int) -> tuple[dict, dict]:
    """{(seed, task): accuracy} of rungs a and b over the units both finished."""
    keys = [(s, t) for t in tasks for s in range(seeds) if f"{t}/{a}/{s}" in res and f"{t}/{b}/{s}" in res]
    return (
        {k: res[f"{k[1]}/{a}/{k[0]}"]["accuracy"] for k in keys},
        {k: res[f"{k[1]}/{b}/{k[0]}"]["accuracy"] for k in keys},
    )


def compare(res, tasks, better, worse, seeds, *, min_effect, name, key="claim"):
    """`better` beats `worse` in test accuracy by more than `min_effect`, paired by (seed, task) over
    `tasks`, each task's chance level as the floor (beaten by the same margin); None without units."""
    a, b = _units(res, tasks, better, worse, seeds)
    if not a:
        return None
    return paired(
        a,
        b,
        min_effect=min_effect,
        direction="greater",
        floor={t: CHANCE[t] for t in {k[1] for k in a}},
        floor_min_effect=min_effect,
        name=name,
        key=key,
        a_label=better,
        b_label=worse,
        floor_label="chance",
        paper=PAPER if key == "claim" else "",
    )


def _spread(xs: list[float]) -> str:
    if not xs:
        return "–"
    return f"{np.mean(xs):.3f} ± {np.std(xs):.3f} (n={len(xs)})"


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    tasks, rungs, seeds = list(cfg["tasks"]), list(cfg["rungs"]), int(cfg["seeds"])
    m, m_step = float(cfg.get("min_effect", MIN_EFFECT)), float(cfg.get("step_min_effect", STEP_MIN_EFFECT))
    rep = Report(title="LRU ablation ladder", source="Orvieto et al. 2023 (arXiv 2303.06349), §3")

    # -- table of accuracies -------------------------------------------------------------------------
    accs = {(t, r): _acc(res, t, r, seeds) for t in tasks for r in rungs}
    means = {k: float(np.mean(v)) if v else float("nan") for k, v in accs.items()}
    mean_over_tasks = {r: float(np.mean([means[(t, r)] for t in tasks])) for r in rungs}
    rows = []
    for r in rungs:
        paper = LADDER_PAPER.get(r, {})
        ref = ", ".join(f"{k} {'✗' if v is None else v}" for k, v in paper.items()) or "—"
        rows.append([r, *[_spread(accs[(t, r)]) for t in tasks], mean_over_tasks[r], ref])
        for t in tasks:
            rep.summary[f"{t}/{r}/accuracy"] = means[(t, r)]
    lengths = {
        t: max((v["length"] for k, v in res.items() if k.startswith(f"{t}/")), default=0) for t in tasks
    }
    heads = [
        "rung",
        *[f"{t} (L≤{lengths[t]}, chance {CHANCE[t]:.3g})" for t in tasks],
        "mean over tasks",
        "paper (%, reference only)",
    ]
    rep.sections.append(
        (
            "Test accuracy per rung",
            (
                "Mean ± standard deviation over the seeds (n) — a description of the spread, not a "
                "confidence interval; the comparisons are decided by the checks above. The last column is "
                f"the paper's LRA accuracy for the same rung, **from the paper, not measured here** — "
                f"{LADDER_PAPER_SOURCE}.\n\n" + markdown_table(heads, rows)
            ),
        )
    )
    rep.sections.append(
        (
            "The rule",
            f"Headline: on {LONG_TASK}, the LRU's test accuracy minus the tanh RNN's, paired by seed (both "
            "rungs of a seed see the same data and minibatches), must exceed the registered minimum effect "
            f"{m:g} with the 95% CI (bootstrap) beyond it and the sign-flip test at p ≤ 0.05, over at "
            f"least 5 seeds, after the LRU beats chance (1/8) by {m:g}. Each other step of the ladder: the "
            f"later rung's accuracy minus the earlier's, paired by (seed, task) and averaged over the tasks, "
            f"must exceed {m_step:g} by the same rule, the later rung beating each task's chance level by "
            f"{m_step:g} first. Ties never win. A 5-seed sweep is decided once over all seeds by "
            "`replab ledger`.",
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
    head = "LRU beats the tanh RNN on delayed recall"
    if LONG_TASK in tasks and "tanh_rnn" in rungs and "lru" in rungs:
        d = compare(res, [LONG_TASK], "lru", "tanh_rnn", seeds, min_effect=m, name=head)
        if d is None:
            rep.checks.append(Check(head, None, "no seed with both rungs finished"))
        else:
            rep.checks.append(d.check(headline=True))
            rep.checks.append(d.floor.check(f"LRU beats chance on {LONG_TASK} by {m:g}", headline=False))
            rep.summary.update(d.summary())
    else:
        rep.checks.append(Check(head, None, f"needs the {LONG_TASK} task and the tanh_rnn and lru rungs"))
    for label, a, b in STEPS:
        if a in rungs and b in rungs:
            name = f"{label} helps ({a} → {b}, mean over tasks)"
            d = compare(res, tasks, b, a, seeds, min_effect=m_step, name=name, key=f"step/{b}")
            if d is not None:
                rep.checks.append(d.check(headline=False))
    if "lru_rmin0" in rungs and "lru" in rungs and LONG_TASK in tasks:
        name = f"ring near 1 beats r_min = 0 on {LONG_TASK}"
        d = compare(res, [LONG_TASK], "lru", "lru_rmin0", seeds, min_effect=m_step, name=name, key="ring")
        if d is not None:
            rep.checks.append(d.check(headline=False))
    rep.figures.append(_figure(tasks, rungs, accs))
    return rep


def _figure(tasks, rungs, accs) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 1.3 * len(rungs), 3.6))
    width = 0.8 / len(tasks)
    for i, t in enumerate(tasks):
        x = np.arange(len(rungs)) + (i - (len(tasks) - 1) / 2) * width
        ax.bar(x, [np.mean(accs[(t, r)]) if accs[(t, r)] else np.nan for r in rungs], width, label=t)
        for xi, r in zip(x, rungs):
            ax.scatter([xi] * len(accs[(t, r)]), accs[(t, r)], color="k", s=6, zorder=3)
    ax.set_xticks(np.arange(len(rungs)), rungs, rotation=20)
    ax.set_ylabel("test accuracy (mean; dots: seeds)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("LRU ablation ladder: from the tanh RNN to the LRU")
    return Figure(
        "ladder",
        fig,
        "Test accuracy of each rung of the ladder per task (bars: mean over seeds; dots: seeds).",
    )
