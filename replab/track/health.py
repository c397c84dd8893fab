"""The health panel: each probe over training, one line per arm, interventions marked — drawn from stored
metrics only (the `probe/*`, `perf/probe_*` and `train/intervention*` rows a `Monitor` logs), with the
early warnings and the monitor's measured overhead. Used by every report and by `replab health`."""

from __future__ import annotations

import math
import re
from collections import defaultdict

from replab.track.report import pyplot

# The panel's probes, in its order (the Monitor's menu; other `probe/` keys are an experiment's own).
PANEL_PROBES = (
    "srank",
    "numerical_rank",
    "dormant_fraction",
    "feature_norm",
    "weight_norm",
    "plasticity",
    "hessian",
    "interference",
)
PREFIXES = ("probe/", "perf/probe_", "train/intervention")
"""The keys the panel reads (`Store.metrics(..., prefixes=PREFIXES)`)."""
OVERHEAD_TARGET = 0.03
"""Issue 20's target: the probes take below 3% of a run's training time."""
_SEED = re.compile(r"(^|/)(seed|s)\d+(?=/|$)")

Series = dict[str, dict[str, list[tuple[int, float]]]]  # probe -> line label -> [(step, value)]


def collect(rows, run_label: str = "") -> tuple[Series, list[int], list[float]]:
    """From (key, step, value) rows: the probe series, the intervention steps and each arm's last
    `perf/probe_overhead`. A label is the key after the probe's name ('curl/encoder'); `run_label` is
    put in front of it when several runs are drawn together."""
    series: Series = defaultdict(lambda: defaultdict(list))
    marks, overhead = set(), {}
    for key, step, value in rows:
        parts = key.split("/")
        if parts[0] == "probe" and len(parts) >= 2 and parts[1] in PANEL_PROBES:
            label = "/".join(p for p in (run_label, *parts[2:]) if p) or "model"
            series[parts[1]][label].append((int(step), float(value)))
        elif key.startswith("train/intervention"):
            marks.add(int(step))
        elif parts[:2] == ["perf", "probe_overhead"]:
            overhead[key] = float(value)  # rows come ordered by step: the last one wins
    return series, sorted(marks), list(overhead.values())


def group_label(label: str) -> str:
    """The label without its seed part ('curl/seed3/encoder' -> 'curl/encoder'): one line per arm."""
    return _SEED.sub("", label).strip("/") or "model"


def warnings(series: Series, srank_fraction: float = 0.2, dormant_fraction: float = 0.5) -> list[str]:
    """The early warnings, one line each: srank below `srank_fraction` of its first value, dormant
    fraction above `dormant_fraction` (the first step where it happened)."""
    out = []
    for label, points in sorted(series.get("srank", {}).items()):
        first = next((v for _, v in points if math.isfinite(v)), None)
        if first:
            hit = next(((s, v) for s, v in points if v < srank_fraction * first), None)
            if hit:
                out.append(
                    f"srank of {label} fell below {srank_fraction:.0%} of its initial value at step {hit[0]}"
                    f" ({first:.3g} -> {hit[1]:.3g})"
                )
    for label, points in sorted(series.get("dormant_fraction", {}).items()):
        hit = next(((s, v) for s, v in points if v > dormant_fraction), None)
        if hit:
            out.append(
                f"dormant fraction of {label} above {dormant_fraction:.0%} at step {hit[0]} ({hit[1]:.0%})"
            )
    return out


def panel(series: Series, marks: list[int], title: str = ""):
    """One subplot per probe, one line per arm (the mean over seeds, their range shaded), interventions
    as dotted vertical lines. Returns the matplotlib figure (None when there is nothing to draw)."""
    probes = [p for p in PANEL_PROBES if series.get(p)]
    if not probes:
        return None
    plt = pyplot()
    cols = min(3, len(probes))
    rows = math.ceil(len(probes) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, probe in zip(axes.flat, probes, strict=False):
        groups: dict[str, list[list[tuple[int, float]]]] = defaultdict(list)
        for label, points in series[probe].items():
            groups[group_label(label)].append(points)
        for label, curves in sorted(groups.items()):
            steps = sorted({s for c in curves for s, _ in c})
            by_step = [[v for c in curves for s2, v in c if s2 == s] for s in steps]
            mean = [sum(vs) / len(vs) for vs in by_step]
            (line,) = ax.plot(steps, mean, label=f"{label} (n={len(curves)})" if len(curves) > 1 else label)
            if len(curves) > 1:
                ax.fill_between(
                    steps,
                    [min(v) for v in by_step],
                    [max(v) for v in by_step],
                    alpha=0.2,
                    color=line.get_color(),
                )
        for m in marks:
            ax.axvline(m, color="k", linestyle=":", linewidth=0.8)
        ax.set_title(probe)
        ax.set_xlabel("step")
        if len(groups) > 1:  # each subplot its own legend: model-level probes have no layer in their labels
            ax.legend(fontsize="x-small")
    for ax in list(axes.flat)[len(probes) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def describe(series: Series, overheads: list[float], config: dict) -> str:
    """The report's health section: what was measured, the overhead against its target, the warnings."""
    if not series:
        probes = config.get("probes")
        why = (
            "the probes were off (`--probes none`)" if probes == "none" else "no `probe/*` metric was logged"
        )
        return f"No health panel: {why}."
    lines = [
        "Probes of the main representation over training (`replab health RUN_ID` redraws it from the store): "
        + ", ".join(
            f"{p} ({len(series[p])} line{'s' * (len(series[p]) > 1)})" for p in PANEL_PROBES if p in series
        )
        + "."
    ]
    if overheads:
        share = max(overheads)
        verdict = "within" if share < OVERHEAD_TARGET else "**above**"
        lines.append(
            f"Probe overhead: {share:.2%} of the monitored training time (the largest of {len(overheads)} "
            f"monitor{'s' * (len(overheads) > 1)}), {verdict} the {OVERHEAD_TARGET:.0%} target."
        )
    warned = warnings(
        series, config.get("warn_srank_fraction", 0.2), config.get("warn_dormant_fraction", 0.5)
    )
    lines += ["", "Early warnings:", ""] + [f"- {w}" for w in warned] if warned else ["No early warning."]
    return "\n".join(lines)


def mirror_to_tensorboard(folder, step: int = 0) -> bool:
    """Add the report's panel (`<run>/health.png`, already drawn) to the run's TensorBoard mirror
    (`<run>/tb`) when both exist and tensorboard imports; the PNG is read back, not drawn a second time."""
    png, tb = folder / "health.png", folder / "tb"
    if not png.is_file() or not tb.is_dir():
        return False
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return False
    from matplotlib.image import imread

    writer = SummaryWriter(log_dir=str(tb))
    writer.add_image("health/panel", imread(png)[..., :3], global_step=step, dataformats="HWC")
    writer.close()
    return True


def draw_runs(store, run_ids: list[str], out=None):
    """The panel of stored runs (`replab health`): one line per arm, the mean over the runs of one
    experiment; returns (the PNG's path, report lines: overhead and warnings per run)."""
    from pathlib import Path

    records = [store.get_run(r) for r in run_ids]
    several = len({r.experiment for r in records}) > 1
    series: Series = defaultdict(lambda: defaultdict(list))
    marks: set[int] = set()
    lines = []
    for i, rec in enumerate(records):
        own, own_marks, overheads = collect(store.metrics(rec.id, prefixes=PREFIXES))
        prefix = f"{rec.experiment}/s{i}" if several else (f"s{i}" if len(records) > 1 else "")
        for probe, by_label in own.items():
            for label, points in by_label.items():
                series[probe]["/".join(p for p in (prefix, label) if p)].extend(points)
        marks.update(own_marks)
        text = describe(own, overheads, rec.config).replace("\n\n", "\n")
        lines.append(f"{rec.id} ({rec.experiment}, seed {rec.seed}): " + text.split("\n", 1)[-1].strip())
    figure = panel(
        series, sorted(marks), title=", ".join(run_ids) if len(run_ids) <= 3 else f"{len(run_ids)} runs"
    )
    if figure is None:
        return None, lines
    if out is None:
        name = "health.png" if len(run_ids) == 1 else f"health-{len(run_ids)}-runs.png"
        out = store.root / run_ids[0] / name
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110, bbox_inches="tight")
    pyplot().close(figure)
    return out, lines
