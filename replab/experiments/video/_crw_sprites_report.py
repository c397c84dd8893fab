"""The report of `crw-sprites`: a pure function of its results. CRW vs the random-init encoder paired by
seed on mean J&F, with copying the first mask as the floor; raw pixels reported alongside."""

from __future__ import annotations

import numpy as np

from replab.experiments.video._strips import strip_figure
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

METHODS = ("crw", "random_init", "pixels", "copy_first")
PAPER = "Jabri et al. 2020 Table 3.1: CRW 67.6 J&F on DAVIS-2017 val, best of the self-supervised methods"


def _per_seed(res: dict, method: str, field: str = "J&F") -> dict[int, float]:
    return {int(s): float(r["scores"][method][field]) for s, r in res.items()}


def decide(results: dict):
    cfg, res = results["config"], results["results"]
    if not res:
        return None
    m = float(cfg["min_effect"])
    return paired(
        _per_seed(res, "crw"),
        _per_seed(res, "random_init"),
        min_effect=m,
        direction="greater",
        floor=_per_seed(res, "copy_first"),
        floor_min_effect=m,
        name="CRW J&F above the random-init encoder's",
        key="claim",
        a_label="crw",
        b_label="random_init",
        floor_label="copy first mask",
        paper=PAPER,
    )


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    rep = Report(title="Contrastive random walk on sprite videos: mask propagation (J&F)")
    rows = []
    for method in METHODS:
        row = [method]
        for field in ("J", "F", "J&F"):
            vals = list(_per_seed(res, method, field).values())
            row.append(f"{np.mean(vals):.3f} ± {np.std(vals):.3f}" if vals else "–")
            rep.summary[f"{method}/{field}"] = float(np.mean(vals)) if vals else float("nan")
        row.append(", ".join(f"{v:.3f}" for v in _per_seed(res, method).values()))
        rows.append(row)
    rep.sections.append(
        (
            "Label propagation",
            (
                f"Videos: {cfg.get('data', 'sprites')} ({cfg.get('difficulty', 'easy')}). Mean over {cfg['test_videos']} test videos per seed (objects of the first frame, frames "
                f"1..{cfg['video_frames'] - 1}), then mean ± standard deviation over {len(res)} seed(s) — a "
                f"description of the spread, not a confidence interval. Training: {cfg['steps']} steps of "
                f"{cfg['batch']} clips of {cfg['clip']} frames, τ = {cfg['tau']}, edge dropout "
                f"{cfg['edge_drop']}; propagation k = {cfg['prop_k']}, m = {cfg['prop_m']}, radius "
                f"{cfg['prop_radius']} cells.\n\n"
                + markdown_table(["method", "J", "F", "J&F", "J&F per seed"], rows)
            ),
        )
    )
    rep.sections.append(
        (
            "The rule",
            f"Mean J&F, CRW minus the same encoder at initialisation, paired by seed (same videos, same initial "
            f"weights), must exceed the registered {cfg['min_effect']:g} by the shared rule (95% CI beyond the "
            "threshold and the sign-flip test at p ≤ 0.05, at least 5 seeds; ties never win), after CRW beats "
            f"copying the first mask by {cfg['min_effect']:g}.",
        )
    )
    d = decide(results)
    if d is None:
        rep.checks.append(Check("CRW vs random-init", None, "no seed finished"))
    else:
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
        if d.floor is not None:
            rep.checks.append(
                d.floor.check(f"CRW beats copying the first mask by {cfg['min_effect']:g}", False)
            )
    rep.figures.append(_figure(res))
    if results.get("strip"):
        rep.figures.append(
            strip_figure(
                results["strip"],
                "strip",
                "The first test video of the first seed: frames, then the true masks and each method's masks "
                "propagated from frame 0 (every second frame).",
            )
        )
    return rep


def _figure(res: dict) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for i, method in enumerate(METHODS):
        vals = list(_per_seed(res, method).values())
        ax.bar(i, np.mean(vals) if vals else 0.0, color=f"C{i}", alpha=0.6)
        ax.scatter([i] * len(vals), vals, color="k", s=10)
    ax.set_xticks(range(len(METHODS)), METHODS)
    ax.set(ylabel="J&F", ylim=(0, 1.02))
    fig.tight_layout()
    return Figure("jf", fig, "Mean J&F per method (bar: mean over seeds; dots: seeds).")
