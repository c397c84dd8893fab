"""Aggregate finished runs across seeds: IQM and 95% bootstrap CIs of every summary number."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from replab.errors import ReplabError
from replab.track.report import markdown_table
from replab.track.stats import aggregate
from replab.track.store import RunRecord, Store


def select_runs(
    store: Store, run_ids=(), name: str | None = None, preset: str | None = None
) -> list[RunRecord]:
    """The finished runs named, or all finished runs of experiment `name` (optionally one preset)."""
    if run_ids and name:
        raise ReplabError("give run ids or --name, not both")
    if run_ids:
        runs = [store.get_run(r) for r in run_ids]
        unfinished = [r.id for r in runs if r.status != "finished"]
        if unfinished:
            raise ReplabError(f"runs not finished (no summary to compare): {', '.join(unfinished)}")
    elif name:
        runs = store.runs(experiment=name, status="finished", preset=preset)
        if not runs:
            raise ReplabError(
                f"no finished runs of '{name}'{f' at preset {preset}' if preset else ''} in {store.path}"
            )
    else:
        raise ReplabError("give run ids or --name NAME")
    return runs


_DECISION_FIELDS = ("ci_low", "ci_high", "n", "p", "min_effect", "verdict")
"""Per-run decision numbers (`Report.stored_summary`) not aggregated across runs: only `<key>/effect` is."""


def compare_table(runs: list[RunRecord]) -> str:
    """Markdown: per (experiment, preset, method) group, one row per summary key with n, mean, IQM and CI;
    a method is the runs sharing the config fields that differ between the group's runs (a grid's axes)."""
    from replab.track.compare_methods import method_of, varying_fields

    by_exp: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in runs:
        by_exp[(r.experiment, r.preset)].append(r)
    groups: dict[tuple[str, str, str], list[RunRecord]] = defaultdict(list)
    for (exp, preset), members in by_exp.items():
        fields = varying_fields(members)
        for r in members:
            groups[(exp, preset, method_of(r, fields) if fields else "")].append(r)
    out = []
    for (exp, preset, method), members in groups.items():
        seeds = sorted({r.seed for r in members})
        verdicts = Counter(r.verdict for r in members)
        label = f", {method}" if method else ""
        out.append(
            f"### {exp} — preset {preset}{label}, {len(members)} runs (seeds {', '.join(map(str, seeds))})\n"
        )
        out.append("Verdicts: " + ", ".join(f"{v} ×{c}" for v, c in verdicts.most_common()) + "\n")
        values: dict[str, list[float]] = defaultdict(list)
        for r in members:
            for key, v in r.summary.items():
                values[key].append(v)
        rows = []
        for key in sorted(values):
            prefix, _, last = key.rpartition("/")
            if last in _DECISION_FIELDS and f"{prefix}/effect" in values:
                continue  # a run's own decision numbers; across runs the ledger decides (`replab ledger`)
            a = aggregate(values[key])
            rows.append([key, a["n"], a["mean"], a["iqm"], f"[{a['ci_low']:.4g}, {a['ci_high']:.4g}]"])
        out.append(markdown_table(["metric", "n", "mean", "IQM", "95% CI of IQM"], rows) + "\n")
    return "\n".join(out)


def write_compare(runs: list[RunRecord], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "compare.md"
    lines = [
        "# Comparison across runs",
        "",
        "Runs: " + ", ".join(r.id for r in runs),
        "",
        "IQM = interquartile mean; CI = 95% percentile bootstrap over runs (Agarwal et al. 2021).",
        "",
        compare_table(runs),
    ]
    path.write_text("\n".join(lines))
    return path
