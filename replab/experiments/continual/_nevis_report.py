"""The report of `nevis-mini`: a pure function of its results. Stream metrics per learner (NEVIS §7.3),
the claims decided per transfer learner against Independent (paired by seed), the error-vs-compute curve."""

from __future__ import annotations

import numpy as np

from replab.continual import metrics
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

PAPER = "NEVIS'22: transfer learners (Previous, Dynamic) beat Independent in error at lower FLOPs (no number recovered)"
TRANSFER = ("previous", "dynamic")


def _units(res: dict, learner: str) -> dict[int, dict]:
    return {int(k.split("/")[0]): v for k, v in res.items() if k.split("/")[1] == learner}


def _chance(tasks: list[dict]) -> float:
    """Average single-label error of a uniform guess: the floor every learner must beat."""
    errs = [1 - 1 / t["classes"] for t in tasks if t["kind"] == "single"]
    return float(np.mean(errs))


def _stats(unit: dict) -> dict:
    log = unit["log"]
    return {
        "avg": metrics.average_single_label_error(log),
        "weighted": metrics.weighted_single_label_error(log),
        "map": metrics.mean_map(log),
        "stream": metrics.stream_error(log),
        "flops": metrics.cumulative_flops(log)[-1],
    }


def _acc(row: dict) -> float:
    return 1 - row["error"] if row["kind"] == "single" else row["map"]


def report(results: dict) -> Report:
    cfg, res, tasks = results["config"], results["results"], results["tasks"]
    rep = Report(title="NEVIS-mini: Independent vs Previous vs Dynamic-kNN")
    learners = [x for x in cfg["learners"] if _units(res, x)]
    stats = {x: {s: _stats(u) for s, u in _units(res, x).items()} for x in learners}
    sizes = [t["train"] + t["dev"] + t["test"] for t in tasks]
    rep.sections.append(
        (
            "The stream",
            f"{len(tasks)} tasks, {min(sizes)} to {max(sizes)} examples each ({max(sizes) / min(sizes):.0f}×), "
            "train/dev/test 60/15/25% (one task with a 12-example test set).\n\n"
            + markdown_table(
                ["year", "task", "kind", "classes", "train", "dev", "test", "dataset"],
                [
                    [
                        t["year"],
                        t["task"],
                        t["kind"],
                        t["classes"],
                        t["train"],
                        t["dev"],
                        t["test"],
                        t["dataset"],
                    ]
                    for t in tasks
                ],
            ),
        )
    )
    ind = _units(res, "independent")
    rows = []
    for x in learners:
        st, units = stats[x], _units(res, x)
        forget, ft = [], []
        for s, u in units.items():
            acc = np.full((len(u["log"]), len(u["log"])), np.nan)
            for i, row in enumerate(u["log"]):
                acc[i, i] = _acc(row)
            acc[-1] = [_acc(r) for r in u["revisit"]]
            forget.append(float(np.mean(_forgetting(acc))))
            if s in ind:
                ft.append(
                    float(np.mean(metrics.forward_transfer(np.diag(acc), [_acc(r) for r in ind[s]["log"]])))
                )
        mean = {
            k: float(np.mean([v[k] for v in st.values()]))
            for k in ("avg", "weighted", "map", "stream", "flops")
        }
        rows.append([x, mean["avg"], mean["weighted"], mean["map"], mean["stream"], f"{mean['flops']:.3g}",
                     np.mean(forget), np.mean(ft) if ft else "–", len(st)])  # fmt: skip
        for k, v in mean.items():
            rep.summary[f"{x}/{k}"] = v
    rep.sections.append(
        (
            "Stream metrics (mean over seeds)",
            "avg / weighted: NEVIS's average and weighted single-label error; mAP: mean over multi-label tasks; "
            "stream: mean over all tasks of error (1 − mAP for multi-label); FLOPs: cumulative training FLOPs "
            "(every lr trial, dev evaluations and Dynamic's kNN scoring); forgetting: mean drop from a task's "
            "accuracy right after training to that of the final backbone with the task's head (Independent's "
            "final backbone never saw the old tasks, so its number is not forgetting); forward transfer: "
            "accuracy right after training minus Independent's on the same task.\n\n"
            + markdown_table(
                [
                    "learner",
                    "avg error",
                    "weighted error",
                    "mean mAP",
                    "stream error",
                    "FLOPs",
                    "forgetting",
                    "fwd transfer",
                    "seeds",
                ],
                rows,
            ),  # fmt: skip
        )
    )
    per_task = []
    for i, t in enumerate(tasks):
        row = [t["task"]]
        for x in learners:
            vals = [u["log"][i] for u in _units(res, x).values() if i < len(u["log"])]
            row.append(np.mean([r["error"] if r["kind"] == "single" else 1 - r["map"] for r in vals]))
        choices = [u["choices"].get(t["task"], "") for u in _units(res, "dynamic").values()]
        row.append(", ".join(sorted(set(choices))) if choices else "–")
        per_task.append(row)
    rep.sections.append(
        (
            "Per task: test error (1 − mAP for multi-label), mean over seeds",
            markdown_table(["task", *learners, "dynamic starts from"], per_task),
        )
    )
    m, tol = float(cfg["min_effect"]), float(cfg["flops_tolerance"])
    floor = _chance(tasks)
    if "independent" not in learners:
        rep.checks.append(Check("transfer beats Independent", None, "needs the independent learner"))
    for x in TRANSFER:
        if x not in learners or "independent" not in learners:
            continue
        common = sorted(set(stats[x]) & set(stats["independent"]))
        d = paired(
            {s: stats[x][s]["avg"] for s in common},
            {s: stats["independent"][s]["avg"] for s in common},
            min_effect=m,
            direction="less",
            floor={s: floor for s in common},
            name=f"{x} below Independent: average single-label error",
            key=x,
            a_label=x,
            b_label="independent",
            floor_label="chance error",
            paper=PAPER,
        )
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
        fx = np.mean([stats[x][s]["flops"] for s in common])
        fi = np.mean([stats["independent"][s]["flops"] for s in common])
        rep.checks.append(
            Check(
                f"{x}: FLOPs at most (1 + {tol:g}) × Independent's",
                bool(fx <= (1 + tol) * fi),
                f"{fx:.3g} vs {fi:.3g} FLOPs (ratio {fx / fi:.3f})",
            )
        )
        rep.summary[f"{x}/flops_ratio"] = float(fx / fi)
    rep.sections.append(
        (
            "The rule",
            f"Per transfer learner: its average single-label test error minus Independent's, paired by seed, must "
            f"be below −{m:g} (the registered minimum effect) with the 95% CI beyond it and the sign-flip test at "
            f"p ≤ 0.05 over at least 5 seeds, after the learner beats the chance error ({floor:.3f}); ties never "
            f"win. 'At equal or lower FLOPs': its mean total FLOPs within (1 + {tol:g}) × Independent's. "
            f"Source: {PAPER}.",
        )
    )
    if learners:
        rep.figures.append(_figure(res, learners))
    return rep


def _forgetting(acc: np.ndarray) -> np.ndarray:
    """metrics.forgetting on a matrix measured only on its diagonal and last row (nan elsewhere)."""
    filled = np.where(np.isnan(acc), -np.inf, acc)
    return metrics.forgetting(filled)


def _figure(res, learners) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for x in learners:
        for j, u in enumerate(_units(res, x).values()):
            f, e = metrics.error_vs_compute(u["log"])
            (line,) = ax.plot(f, e, marker="o", ms=3, alpha=0.9 if j == 0 else 0.35, label=x if j == 0 else None,
                              color=f"C{learners.index(x)}")  # fmt: skip
            ax.plot(f[-1], e[-1], marker="*", ms=12, color=line.get_color())
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("cumulative training FLOPs")
    ax.set_ylabel("stream error so far (1 − mAP for multi-label)")
    ax.set_title("NEVIS-mini: error vs compute")
    ax.legend(fontsize=8)
    return Figure(
        "error_vs_compute",
        fig,
        "Stream-average error after each task against cumulative FLOPs; stars: end of stream; one line per seed.",
    )
