"""Report of the SemPPL experiment: linear-probe accuracy per arm and labelled fraction."""

from __future__ import annotations

import numpy as np

from replab.track.report import Check, Figure, Report, markdown_table, pyplot
from replab.track.stats import aggregate

PAPER = {0.01: 68.5, 0.1: 76.0}  # SemPPL ResNet-50 ImageNet top-1


def table(results: dict) -> dict:
    out = {}
    for f in results["fractions"]:
        for arm in results["arms"]:
            units = [u for u in results["units"] if u["fraction"] == f and u["arm"] == arm]
            if units:
                out[(f, arm)] = {
                    "acc": aggregate([u["probe_acc"] for u in units]),
                    "pl": aggregate([u.get("pseudo_label_acc", np.nan) for u in units]),
                }
    return out


def _diff(results, f, a, b):
    """Per-seed differences acc(a) − acc(b) at fraction f (paired by seed: same label subset)."""
    acc = {(u["arm"], u["seed"]): u["probe_acc"] for u in results["units"] if u["fraction"] == f}
    seeds = sorted({s for (_, s) in acc})
    return aggregate([acc[(a, s)] - acc[(b, s)] for s in seeds if (a, s) in acc and (b, s) in acc])


def report(results: dict) -> Report:
    t = table(results)
    fr, arms = results["fractions"], results["arms"]
    checks = []
    for a, b in (("semppl", "infonce"), ("semppl", "supervised")):
        if a in arms and b in arms:
            for f in fr:
                if (f, a) in t and (f, b) in t:
                    d = _diff(results, f, a, b)
                    checks.append(
                        Check(
                            f"{a} > {b} at {f:g} labels",
                            d["mean"] > 0,
                            f"{t[(f, a)]['acc']['mean']:.3f} vs {t[(f, b)]['acc']['mean']:.3f}; "
                            f"paired difference {d['mean']:+.3f} (95% CI of IQM "
                            f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}], n={d['n']})",
                        )
                    )
    rows = []
    for f in fr:
        for arm in arms:
            if (f, arm) in t:
                a, pl = t[(f, arm)]["acc"], t[(f, arm)]["pl"]
                rows.append(
                    [
                        f"{f:g}",
                        arm,
                        f"{a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}]",
                        a["n"],
                        "—" if pl["n"] == 0 else f"{pl['mean']:.3f}",
                        PAPER.get(f, "—") if arm == "semppl" else "",
                    ]
                )
    sections = [
        (
            "Linear-probe accuracy",
            markdown_table(
                [
                    "labels",
                    "arm",
                    "test top-1 (mean [95% CI of IQM])",
                    "seeds",
                    "final pseudo-label acc.",
                    "paper (ImageNet %)",
                ],
                rows,
            )
            + f"\n\nscikit-learn digits, {results['n_train']} training and "
            f"{results['n_test']} test images; probes fitted on the labelled images only. Augmentation: "
            f"{results.get('augmentation', 'n/a')}.",
        )
    ]
    summary = {f"{arm}_{f:g}": t[(f, arm)]["acc"]["mean"] for (f, arm) in t}
    figures = (
        [
            Figure(
                "semppl",
                _figure(t, fr, arms),
                "Linear-probe test accuracy per arm and labelled fraction "
                "(bars: mean over seeds; whiskers: 95% bootstrap CI of the IQM).",
            )
        ]
        if t
        else []
    )
    return Report(
        title="SemPPL: semantic positives via pseudo-labels",
        checks=checks,
        sections=sections,
        figures=figures,
        summary=summary,
    )


def _figure(t, fractions, arms):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        xs, ms, err = [], [], []
        for j, f in enumerate(fractions):
            if (f, arm) in t:
                a = t[(f, arm)]["acc"]
                xs.append(j + i * width)
                ms.append(a["mean"])
                err.append([max(0.0, a["mean"] - a["ci_low"]), max(0.0, a["ci_high"] - a["mean"])])
        ax.bar(xs, ms, width, yerr=np.array(err).T if err else None, label=arm, capsize=3)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(fractions))], [f"{f:g} labels" for f in fractions])
    ax.set_ylabel("linear-probe test top-1")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
