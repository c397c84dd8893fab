"""Report of the CPC data-efficiency experiment: accuracy per label fraction beside CPC v2 Table 2.2, and
the claims decided by the shared rules (`track/claims.py`).

The label seeds of one run share its pre-trained encoder, so they are not independent replications of
CPC: the headline claim takes one unit per run (the mean over its label subsets at 1% labels) and is
decided across the runs of a sweep (`replab sweep cpc-data-efficiency --seeds 5`, pooled by the ledger).
The per-fraction checks are across one run's label subsets, i.e. given its encoder."""

from __future__ import annotations

import math

import numpy as np

from replab.experiments.ssl._eval import spread
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

# CPC v2 Table 2.2, ImageNet top-1: ResNet-200 on pixels and ResNet-33 on CPC features (fine-tuned)
PAPER_PIXEL = {0.01: 23.1, 0.02: 34.8, 0.05: 50.6, 0.1: 62.5, 0.2: 70.3, 0.5: 75.9, 1.0: 80.2}
PAPER_CPC = {0.01: 52.7, 0.02: 60.4, 0.05: 68.1, 0.1: 73.1, 0.2: 76.7, 0.5: 81.2, 1.0: 83.4}
ARMS = ("pixel", "cpc_frozen", "cpc")
MIN_EFFECT_SHARE = 0.5
"""Registered: the minimum effect as a share of Table 2.2's gap (see `Config.min_effect_share`)."""
HEADLINE_FRACTION = 0.01


def paper_gap(f: float) -> float:
    """Table 2.2's CPC − pixels gap at label fraction f, as an accuracy (0–1): tabulated, else linear in
    log f between its fractions (clamped at 1% and 100%)."""
    fs = sorted(PAPER_CPC)
    gaps = [(PAPER_CPC[x] - PAPER_PIXEL[x]) / 100 for x in fs]
    if f <= fs[0]:
        return gaps[0]
    for (x0, g0), (x1, g1) in zip(zip(fs, gaps), zip(fs[1:], gaps[1:])):
        if f <= x1:
            w = (math.log(f) - math.log(x0)) / (math.log(x1) - math.log(x0))
            return g0 + w * (g1 - g0)
    return gaps[-1]


def _floor(results: dict, units: list[dict]) -> tuple[dict, str]:
    """Per label seed: the random encoder's probe on the same labelled images; results before it was
    measured fall back to chance (1 / classes)."""
    if all("random_probe" in u for u in units):
        return {u["seed"]: u["random_probe"] for u in units}, "random encoder (linear probe)"
    chance = 1 / results.get("classes", 10)
    return {u["seed"]: chance for u in units}, "chance"


def decide(results: dict) -> list[Check]:
    share = results.get("min_effect_share", MIN_EFFECT_SHARE)
    fr = sorted({u["fraction"] for u in results["units"]})
    if not fr:
        return []
    at = {f: [u for u in results["units"] if u["fraction"] == f] for f in fr}
    checks = []
    head = HEADLINE_FRACTION if HEADLINE_FRACTION in at else fr[0]
    units = at[head]
    floor, floor_label = _floor(results, units)
    gap = paper_gap(head)

    def mean(key):
        return {0: float(np.mean([u[key] for u in units]))}

    d = paired(
        mean("cpc"),
        mean("pixel"),
        min_effect=share * gap,
        floor={0: float(np.mean(list(floor.values())))},
        name=f"CPC (fine-tuned) beats pixels at {100 * head:g}% labels: test accuracy, one unit per run (its "
        f"encoder; mean over {len(units)} label subsets)",
        key="claim",
        a_label="CPC fine-tuned",
        b_label="pixels",
        floor_label=floor_label,
        paper=f"Table 2.2 (ImageNet top-1) at {head:g}: CPC {PAPER_CPC.get(head, '—')} vs pixels "
        f"{PAPER_PIXEL.get(head, '—')}",
    )
    checks.append(d.check(headline=True))
    for f in fr:
        cpc = {u["seed"]: u["cpc"] for u in at[f]}
        pix = {u["seed"]: u["pixel"] for u in at[f]}
        fl, fl_label = _floor(results, at[f])
        d = paired(
            cpc,
            pix,
            min_effect=share * paper_gap(f),
            floor=fl,
            name=f"CPC (fine-tuned) beats pixels at {100 * f:g}% labels, across this run's label subsets",
            key=f"fraction_{f:g}",
            a_label="CPC fine-tuned",
            b_label="pixels",
            floor_label=fl_label,
        )
        checks.append(d.check(headline=False))
    lo, hi = fr[0], fr[-1]
    shrink = paper_gap(lo) - paper_gap(hi)
    if len(fr) > 1 and shrink > 0:
        gain = {f: {u["seed"]: u["cpc"] - u["pixel"] for u in at[f]} for f in (lo, hi)}
        seeds = gain[lo].keys() & gain[hi].keys()
        d = paired(
            {s: gain[lo][s] for s in seeds},
            {s: gain[hi][s] for s in seeds},
            min_effect=share * shrink,
            name=f"the gain (CPC − pixels) is larger at {100 * lo:g}% labels than at {100 * hi:g}%, paired by "
            "label seed",
            key="gain_shrinks",
            a_label=f"gain at {100 * lo:g}%",
            b_label=f"gain at {100 * hi:g}%",
            paper=f"Table 2.2: +{100 * paper_gap(lo):.1f} vs +{100 * paper_gap(hi):.1f} points",
        )
        checks.append(d.check(headline=False))
    return checks


def per_fraction(results: dict) -> dict[float, dict]:
    out = {}
    for f in results["fractions"]:
        units = [u for u in results["units"] if u["fraction"] == f]
        if not units:
            continue
        row = {arm: spread([u[arm] for u in units]) for arm in ARMS}
        row["gain"] = spread([u["cpc"] - u["pixel"] for u in units])
        probes = [u["random_probe"] for u in units if "random_probe" in u]
        row["random_probe"] = float(np.mean(probes)) if probes else "—"
        row["n_labelled"] = units[0]["n_labelled"]
        out[f] = row
    return out


def report(results: dict) -> Report:
    rows = per_fraction(results)
    fr = sorted(rows)
    checks = decide(results)
    probes = results.get("probes", {})
    table_rows = []
    for f in fr:
        r = rows[f]
        table_rows.append(
            [
                f"{f:g}",
                r["n_labelled"],
                _ci(r["pixel"]),
                _ci(r["cpc_frozen"]),
                _ci(r["cpc"]),
                f"{r['gain']['mean']:+.3f}",
                r["random_probe"],
                PAPER_PIXEL.get(f, "—"),
                PAPER_CPC.get(f, "—"),
            ]
        )
    sections = [
        (
            "Accuracy by label fraction",
            markdown_table(
                [
                    "fraction",
                    "labelled",
                    "pixels",
                    "CPC frozen",
                    "CPC fine-tuned",
                    "gain",
                    "random encoder probe (floor)",
                    "paper pixels (top-1 %)",
                    "paper CPC",
                ],
                table_rows,
            )
            + "\n\nMeans over label seeds [min, max] (descriptive; the label seeds share one pre-trained encoder); "
            f"dataset `{results.get('dataset')}`, {results.get('n_train')} training "
            f"images, {results.get('n_test')} test images; {results.get('pretrain_steps')} CPC pre-training "
            f"steps. Augmentation: {results.get('augmentation', 'n/a')}.",
        )
    ]
    if probes:
        sections.append(
            (
                "Linear probes (100% labels)",
                markdown_table(["features", "test accuracy"], [[k, v] for k, v in probes.items()]),
            )
        )
    figures = (
        [
            Figure(
                "data_efficiency",
                _figure(rows),
                "Test accuracy against the labelled fraction "
                "(left: this run; right: CPC v2 Table 2.2 on ImageNet).",
            )
        ]
        if fr
        else []
    )
    curve = results.get("loss_curve") or []
    if curve:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot([c[0] for c in curve], [c[1] for c in curve])
        ax.set(xlabel="pre-training step", ylabel="CPC loss (sum over directions)")
        fig.tight_layout()
        figures.append(Figure("cpc_loss", fig, "CPC pre-training loss (chance: directions × log(B·36))."))
    summary = {f"gain_{f:g}": rows[f]["gain"]["mean"] for f in fr}
    summary.update({f"cpc_{f:g}": rows[f]["cpc"]["mean"] for f in fr})
    summary.update({f"pixel_{f:g}": rows[f]["pixel"]["mean"] for f in fr})
    summary.update({f"probe_{k}": v for k, v in probes.items()})
    return Report(
        title="CPC v2 data efficiency",
        source="CPC v2 Table 2.2",
        checks=checks,
        sections=sections,
        figures=figures,
        summary=summary,
    )


def _ci(a: dict) -> str:
    return f"{a['mean']:.3f} [{a['low']:.3f}, {a['high']:.3f}]"


def _figure(rows: dict):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    fr = sorted(rows)
    for arm, label in (("pixel", "pixels"), ("cpc_frozen", "CPC frozen"), ("cpc", "CPC fine-tuned")):
        m = np.array([rows[f][arm]["mean"] for f in fr])
        lo = np.array([rows[f][arm]["low"] for f in fr])
        hi = np.array([rows[f][arm]["high"] for f in fr])
        ax.plot(fr, m, marker="o", label=label)
        ax.fill_between(fr, lo, hi, alpha=0.2)
    ax.set(xscale="log", xlabel="labelled fraction", ylabel="test top-1", title="this run")
    ax.legend()
    pf = sorted(PAPER_PIXEL)
    bx.plot(pf, [PAPER_PIXEL[f] for f in pf], marker="o", label="ResNet-200 on pixels")
    bx.plot(pf, [PAPER_CPC[f] for f in pf], marker="o", label="ResNet-33 on CPC features")
    bx.set(xscale="log", xlabel="labelled fraction", ylabel="ImageNet top-1 (%)", title="CPC v2 Table 2.2")
    bx.legend()
    fig.tight_layout()
    return fig
