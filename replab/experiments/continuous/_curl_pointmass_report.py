"""The curl-pointmass report: IQM of final returns per method with bootstrap CIs, the must-show checks
(CURL > Pixel SAC, RAD > Pixel SAC), the full ordering, learning curves and update timings."""

from __future__ import annotations

import numpy as np

from replab.track.report import Check, Figure, Report, markdown_table, pyplot
from replab.track.stats import aggregate

NAMES = {
    "state": "State SAC",
    "pixel": "Pixel SAC",
    "curl": "CURL",
    "rad_crop": "RAD (crop)",
    "rad_translate": "RAD (translate)",
}


def _finals(results: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in results["done"].values():
        out.setdefault(r["method"], []).append(r["final"])
    return out


def _greater(a: dict | None, b: dict | None, name: str) -> Check:
    if not a or not b or not a["n"] or not b["n"]:
        return Check(name, None, "a method is missing from this run")
    held = a["iqm"] > b["iqm"]
    if min(a["n"], b["n"]) < 2:
        sep = "one seed: no interval"
    else:
        sep = "95% CIs disjoint" if a["ci_low"] > b["ci_high"] else "95% CIs overlap"
    return Check(name, bool(held), f"IQM {a['iqm']:.2f} vs {b['iqm']:.2f} ({sep})")


def report(results: dict) -> Report:
    cfg = results["config"]
    finals = _finals(results)
    agg = {m: aggregate(finals[m]) for m in cfg["methods"] if m in finals}
    rows, summary = [], {}
    for m, a in agg.items():
        ms = [r["update_ms"] for r in results["done"].values() if r["method"] == m]
        rows.append(
            [NAMES[m], a["n"], a["iqm"], a["mean"], f"[{a['ci_low']:.2f}, {a['ci_high']:.2f}]", np.mean(ms)]
        )
        summary[f"iqm/{m}"] = a["iqm"]
    rads = [agg[m] for m in ("rad_crop", "rad_translate") if m in agg]
    rad = max(rads, key=lambda a: a["iqm"]) if rads else None
    checks = [
        _greater(agg.get("curl"), agg.get("pixel"), "CURL > Pixel SAC (final IQM)"),
        _greater(rad, agg.get("pixel"), "RAD (best of crop/translate) > Pixel SAC (final IQM)"),
    ]
    order = [agg.get("state"), rad, agg.get("curl")]
    if all(order):
        held = order[0]["iqm"] >= order[1]["iqm"] >= order[2]["iqm"]
        measured = " ≥ ".join(f"{n} {a['iqm']:.2f}" for n, a in zip(("State", "RAD", "CURL"), order))
        checks.append(Check("State ≥ RAD ≥ CURL (ordering)", bool(held), measured))
    steps = cfg["env_steps"]
    table = markdown_table(
        ["method", "seeds", f"IQM return @ {steps:,} env steps", "mean", "95% CI of IQM", "ms / update"], rows
    )
    note = (
        f"Returns are in [0, {cfg['episode_steps']}] (reward 1 − tanh(5‖p − g‖) per env step). "
        f"{cfg['seeds']} seed(s) per method, {cfg['eval_episodes']} evaluation episodes each; distractors: "
        f"{cfg['distractors']}. With few seeds the CIs are wide: read the checks as the point estimates they are."
    )
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in cfg["methods"]:
        runs = [r for r in results["done"].values() if r["method"] == m]
        if not runs:
            continue
        ts = [t for t, _ in runs[0]["evals"]]
        ys = np.array([[np.mean(s) for _, s in r["evals"]] for r in runs if len(r["evals"]) == len(ts)])
        ax.plot(ts, ys.mean(0), marker="o", label=NAMES[m])
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return (mean over seeds)")
    ax.set_title("PointMass-Pixels")
    ax.legend()
    return Report(
        title="curl-pointmass: CURL and RAD vs pixel and state SAC on PointMass-Pixels",
        checks=checks,
        sections=[("Final returns", table + "\n\n" + note)],
        figures=[Figure("curves", fig, "Evaluation return against env steps, mean over seeds.")],
        summary=summary,
    )
