"""Report of the SemPPL experiment: linear-probe accuracy per arm and labelled fraction, and the claims
decided by the shared rules (`track/claims.py`). Every (arm, fraction, seed) trains its own network, and
the arms of a seed share its label subset, so arms are paired by (seed, fraction); seeds are indices into
the run's streams (`absolute_seeds=False`)."""

from __future__ import annotations

import numpy as np

from replab.experiments.ssl._eval import spread
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

PAPER = {0.01: 68.5, 0.1: 76.0}  # SemPPL ResNet-50 ImageNet top-1
PAPER_TEXT = (
    "SemPPL abstract: 68.5% (1% labels) and 76.0% (10%) ImageNet top-1 with ResNet-50; +7.8 and +6.2 points "
    "over the previous state of the art with selective kernels"
)
MIN_EFFECT = 0.03
"""Registered: see `Config.min_effect`."""
ARM_LABELS = {"infonce": "InfoNCE", "supervised": "supervised only"}


def table(results: dict) -> dict:
    out = {}
    for f in results["fractions"]:
        for arm in results["arms"]:
            units = [u for u in results["units"] if u["fraction"] == f and u["arm"] == arm]
            if units:
                out[(f, arm)] = {
                    "acc": spread([u["probe_acc"] for u in units]),
                    "pl": spread([u.get("pseudo_label_acc", np.nan) for u in units]),
                }
    return out


def _acc(results: dict, arm: str, fractions) -> dict:
    """{(seed, "f labels"): probe accuracy} of one arm."""
    return {
        (u["seed"], f"{100 * u['fraction']:g}% labels"): u["probe_acc"]
        for u in results["units"]
        if u["arm"] == arm and u["fraction"] in fractions
    }


def _common(*maps: dict) -> list[dict]:
    keys = set.intersection(*(set(m) for m in maps))
    return [{k: m[k] for k in keys} for m in maps]


def decide(results: dict) -> list[Check]:
    arms, fr = results["arms"], results["fractions"]
    m = results.get("min_effect", MIN_EFFECT)
    chance = 1 / results.get("classes", 10)
    checks = []
    if "semppl" not in arms:
        return checks

    def compare(b, fractions, key, name, headline=False):
        if b not in arms:
            return
        guard = "supervised" if b != "supervised" and "supervised" in arms else None
        maps = _common(
            _acc(results, "semppl", fractions),
            _acc(results, b, fractions),
            *([_acc(results, guard, fractions)] if guard else []),
        )
        if not maps[0]:
            return
        d = paired(
            maps[0],
            maps[1],
            min_effect=m,
            floor=maps[2] if guard else chance,
            name=name,
            key=key,
            a_label="SemPPL",
            b_label=ARM_LABELS.get(b, b),
            floor_label="supervised only" if guard else f"chance (1/{round(1 / chance)})",
            paper=PAPER_TEXT,
        )
        checks.append(d.check(headline=headline))

    labels = ", ".join(f"{100 * f:g}%" for f in fr)
    compare(
        "infonce",
        fr,
        "claim",
        f"SemPPL beats InfoNCE at few labels ({labels}), paired by seed and fraction",
        True,
    )
    for f in fr:
        compare("infonce", [f], f"vs_infonce_{f:g}", f"SemPPL beats InfoNCE at {100 * f:g}% labels")
        compare(
            "supervised", [f], f"vs_supervised_{f:g}", f"SemPPL beats supervised-only at {100 * f:g}% labels"
        )
    return checks


def report(results: dict) -> Report:
    t = table(results)
    fr, arms = results["fractions"], results["arms"]
    checks = decide(results)
    rows = []
    for f in fr:
        for arm in arms:
            if (f, arm) in t:
                a, pl = t[(f, arm)]["acc"], t[(f, arm)]["pl"]
                rows.append(
                    [
                        f"{f:g}",
                        arm,
                        f"{a['mean']:.3f} [{a['low']:.3f}, {a['high']:.3f}]",
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
                    "test top-1 (mean [min, max] over seeds)",
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
                "(bars: mean over seeds; whiskers: min and max over seeds).",
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
                err.append([max(0.0, a["mean"] - a["low"]), max(0.0, a["high"] - a["mean"])])
        ax.bar(xs, ms, width, yerr=np.array(err).T if err else None, label=arm, capsize=3)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(fractions))], [f"{f:g} labels" for f in fractions])
    ax.set_ylabel("linear-probe test top-1")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
