"""`replab compare --metric GLOB`: methods compared across seeds and tasks, rliable-style, from stored runs.

Per (experiment, preset) a table of each method's IQM, mean, median and optimality gap with stratified
bootstrap 95% CIs, the probability of improvement of every pair of methods, and a performance-profile
PNG (`track/aggregate.py`, `track/profiles.py`). A method is the runs sharing the values of the `--by`
config fields (default: every field that differs between the runs); its tasks are the summary numbers
whose keys match the glob(s); its score matrix is runs × tasks. Only the store is read.
"""

from __future__ import annotations

import fnmatch
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from replab.errors import ReplabError
from replab.track import aggregate, profiles
from replab.track.report import markdown_table
from replab.track.store import RunRecord


def varying_fields(runs: list[RunRecord]) -> list[str]:
    """The config fields whose values differ between `runs` (the grid's axes), in config order."""
    fields = list(runs[0].config) if runs else []
    return [f for f in fields if len({json.dumps(r.config.get(f), sort_keys=True) for r in runs}) > 1]


def method_of(run: RunRecord, fields: list[str]) -> str:
    return " ".join(f"{f}={json.dumps(run.config.get(f))}" for f in fields) or "all runs"


def score_matrices(
    runs: list[RunRecord], metric: str, by: list[str] | None
) -> tuple[dict[str, np.ndarray], list[str], list[str]]:
    """({method: runs × tasks scores}, the task keys, notes on runs left out)."""
    patterns = [p.strip() for p in metric.split(",") if p.strip()]
    keys = sorted({k for r in runs for k in r.summary if any(fnmatch.fnmatchcase(k, p) for p in patterns)})
    if not keys:
        some = sorted({k for r in runs for k in r.summary})[:8]
        raise ReplabError(
            f"no summary number matches --metric {metric!r}; the runs have e.g. {', '.join(some)}"
        )
    fields = varying_fields(runs) if by is None else by
    for f in fields:
        if not any(f in r.config for r in runs):
            raise ReplabError(
                f"--by {f}: not a config field of these runs; fields: {', '.join(runs[0].config)}"
            )
    groups: dict[str, list[list[float]]] = defaultdict(list)
    notes = []
    for r in sorted(runs, key=lambda r: (method_of(r, fields), r.seed)):
        row = [r.summary.get(k) for k in keys]
        if any(v is None or not np.isfinite(v) for v in row):
            notes.append(f"run {r.id} left out: no finite value of every task ({', '.join(keys)})")
            continue
        groups[method_of(r, fields)].append(row)
    return {m: np.array(rows, dtype=float) for m, rows in groups.items()}, keys, notes


def compare_methods(
    runs: list[RunRecord],
    metric: str,
    out: Path,
    by: list[str] | None = None,
    gamma: float = 1.0,
    reps: int = 50_000,
    seed: int = 0,
) -> tuple[str, dict]:
    """Markdown tables and profile PNGs for each (experiment, preset) of `runs`, written under `out` with
    `compare.md` and `compare.json` (every number at full precision); return (markdown, numbers)."""
    groups: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in runs:
        groups[(r.experiment, r.preset)].append(r)
    stats = aggregate.metrics(gamma)
    text, numbers = [], {}
    for (exp, preset), members in groups.items():
        mats, keys, notes = score_matrices(members, metric, by)
        if not mats:
            raise ReplabError(f"{exp} ({preset}): no run has every task of --metric {metric!r}")
        key = f"{exp}/{preset}"
        numbers[key] = {"tasks": keys, "methods": {}, "poi": {}}
        rows = []
        for m, x in mats.items():
            est = {k: aggregate.interval_estimate(x, f, reps=reps, seed=seed) for k, f in stats.items()}
            numbers[key]["methods"][m] = {"runs": x.shape[0], **{k: list(v) for k, v in est.items()}}
            rows.append([m, x.shape[0], *(f"{p:.4g} [{lo:.4g}, {hi:.4g}]" for p, lo, hi in est.values())])
        text.append(f"### {exp} — preset {preset}: {len(mats)} methods, tasks {', '.join(keys)}\n")
        text += [f"Note: {n}\n" for n in notes]
        text.append(markdown_table(["method", "runs", *(f"{k} [95% CI]" for k in stats)], rows) + "\n")
        names = list(mats)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        if pairs:
            poi_rows = []
            for a, b in pairs:
                p, lo, hi = aggregate.poi_estimate(mats[a], mats[b], reps=reps, seed=seed)
                numbers[key]["poi"][f"{a} > {b}"] = [p, lo, hi]
                poi_rows.append([f"P({a} > {b})", f"{p:.3f} [{lo:.3f}, {hi:.3f}]"])
            text.append(markdown_table(["probability of improvement", "estimate [95% CI]"], poi_rows) + "\n")
        png = profiles.draw(
            mats,
            out / f"profile-{exp}-{preset}.png",
            f"{exp} ({preset}): performance profile over {', '.join(keys)}"[:100],
            "score τ",
            seed=seed,
        )
        text.append(f"![performance profile]({png.name})\n")
        numbers[key]["profile_png"] = str(png)
    header = (
        f"Stratified bootstrap (runs resampled per task), {reps} replicates, seed {seed}, percentile 95% CIs; "
        f"optimality gap at γ = {gamma:g}; rliable's estimators (Agarwal et al. 2021).\n"
    )
    markdown = header + "\n" + "\n".join(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.md").write_text("# Methods compared across runs\n\n" + markdown)
    (out / "compare.json").write_text(json.dumps(numbers, indent=1))
    return markdown, numbers
