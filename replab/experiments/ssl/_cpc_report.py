"""Report of the CPC data-efficiency experiment: accuracy per label fraction beside CPC v2 Table 2.2."""

from __future__ import annotations

import numpy as np

from replab.track.report import Check, Figure, Report, markdown_table, pyplot
from replab.track.stats import aggregate

# CPC v2 Table 2.2, ImageNet top-1: ResNet-200 on pixels and ResNet-33 on CPC features (fine-tuned)
PAPER_PIXEL = {0.01: 23.1, 0.02: 34.8, 0.05: 50.6, 0.1: 62.5, 0.2: 70.3, 0.5: 75.9, 1.0: 80.2}
PAPER_CPC = {0.01: 52.7, 0.02: 60.4, 0.05: 68.1, 0.1: 73.1, 0.2: 76.7, 0.5: 81.2, 1.0: 83.4}
ARMS = ("pixel", "cpc_frozen", "cpc")


def per_fraction(results: dict) -> dict[float, dict]:
    out = {}
    for f in results["fractions"]:
        units = [u for u in results["units"] if u["fraction"] == f]
        if not units:
            continue
        row = {arm: aggregate([u[arm] for u in units]) for arm in ARMS}
        row["gain"] = aggregate([u["cpc"] - u["pixel"] for u in units])
        row["n_labelled"] = units[0]["n_labelled"]
        out[f] = row
    return out


def report(results: dict) -> Report:
    rows = per_fraction(results)
    fr = sorted(rows)
    checks = []
    if fr:
        beats = [rows[f]["cpc"]["mean"] > rows[f]["pixel"]["mean"] for f in fr]
        checks.append(
            Check(
                "CPC classifier beats the pixel classifier at every label fraction",
                all(beats),
                ", ".join(
                    f"{f:g}: {rows[f]['cpc']['mean']:.3f} vs {rows[f]['pixel']['mean']:.3f}" for f in fr
                ),
            )
        )
        lo, hi = fr[0], fr[-1]
        g_lo, g_hi = rows[lo]["gain"]["mean"], rows[hi]["gain"]["mean"]
        checks.append(
            Check(
                f"the gain is larger at the smallest fraction ({lo:g}) than at the largest ({hi:g})",
                (g_lo > g_hi) if len(fr) > 1 else None,
                f"gain {g_lo:+.3f} at {lo:g} vs {g_hi:+.3f} at {hi:g} (paper: +29.6 vs +3.2 points)",
            )
        )
    probes = results.get("probes", {})
    if probes:
        best_cpc = max(probes.get("cpc_ema", float("nan")), probes.get("cpc_raw", float("nan")))
        checks.append(
            Check(
                "CPC linear probe beats a random encoder's (100% labels)",
                best_cpc > probes["random"],
                f"CPC (raw {probes['cpc_raw']:.3f}, EMA {probes['cpc_ema']:.3f}) vs random "
                f"{probes['random']:.3f}; pixels {probes['pixels']:.3f}",
            )
        )

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
                    "paper pixels (top-1 %)",
                    "paper CPC",
                ],
                table_rows,
            )
            + "\n\nMeans over label seeds with the 95% bootstrap CI of the IQM "
            f"(`replab.track.stats`); dataset `{results.get('dataset')}`, {results.get('n_train')} training "
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
    return f"{a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]"


def _figure(rows: dict):
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    fr = sorted(rows)
    for arm, label in (("pixel", "pixels"), ("cpc_frozen", "CPC frozen"), ("cpc", "CPC fine-tuned")):
        m = np.array([rows[f][arm]["mean"] for f in fr])
        lo = np.array([rows[f][arm]["ci_low"] for f in fr])
        hi = np.array([rows[f][arm]["ci_high"] for f in fr])
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
