"""The report of `rin-video-prediction`: a pure function of its results."""

from __future__ import annotations

import numpy as np

from replab.experiments.diffusion._figures import attention_maps
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

PAPER = "Table 2.3: Kinetics-600 FVD 10.8 (1000 steps); Fig. 2.11: reads focus on motion (maps only)"
ROWS = {
    "rin": "RIN prediction",
    "copy_last": "copy the last context frame",
    "mean_frame": "floor: mean frame",
}


def _mean(values) -> float:
    v = [x for x in values if np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def _ratio(unit: dict, t: float) -> float:
    return _mean(unit["ratios"][str(t)])


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    m, am = float(cfg["min_effect"]), float(cfg["attention_min_effect"])
    early, late = (float(t) for t in cfg["times"])
    k = int(cfg["context_frames"])
    rep = Report(title="RIN conditional video prediction (sprite videos)")
    units = {int(key.split("/")[1]): u for key, u in sorted(res.items())}
    rows = []
    for name, label in ROWS.items():
        vals = [u[f"mse/{name}"] for u in units.values()]
        per = np.mean([u["frame_mse"][name] for u in units.values()], 0) if units else []
        rows.append([label, f"{_mean(vals):.4f} ± {np.std(vals) if vals else float('nan'):.4f}",
                     *[f"{v:.4f}" for v in per]])  # fmt: skip
    future = range(k, int(cfg["frames"]))
    rep.sections.append(
        (
            "Future-frame MSE",
            f"{cfg['n_samples']} held-out clips of {cfg['frames']} frames ({k} clean context frames), one sample "
            f"each with {cfg['sample_steps']} {cfg['sampler'].upper()} steps from the EMA weights, pixels in "
            "[−1, 1]; mean ± standard deviation over seeds (the spread, not a CI), then per predicted frame "
            f"(mean over seeds). Seeds: {len(units)}.\n\n"
            + markdown_table(["predictor", "MSE ↓", *[f"frame {f}" for f in future]], rows),
        )
    )
    head = f"RIN future-frame MSE below copying the last context frame by > {m:.0%}"
    if not units:
        rep.checks.append(Check(head, None, "no seed finished"))
    else:
        d = paired(
            {s: u["mse/rin"] for s, u in units.items()},
            {s: u["mse/copy_last"] for s, u in units.items()},
            min_effect=m,
            effect="ratio",
            direction="less",
            floor={s: u["mse/mean_frame"] for s, u in units.items()},
            name=head,
            a_label="RIN",
            b_label="copy last frame",
            floor_label="mean training frame",
            paper=PAPER,
        )
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
        att = f"read attention on moving tokens rises late (t = {late:g}) vs t = {early:g} by > {am:g}"
        d2 = paired(
            {s: _ratio(u, late) for s, u in units.items()},
            {s: _ratio(u, early) for s, u in units.items()},
            min_effect=am,
            direction="greater",
            floor=1.0,
            floor_min_effect=am,
            name=att,
            key="attention",
            a_label=f"t={late:g}",
            b_label=f"t={early:g}",
            floor_label="uniform reads (ratio 1)",
        )
        rep.checks.append(d2.check(headline=False))
    for name in ROWS:
        rep.summary[f"mse/{name}"] = _mean([u[f"mse/{name}"] for u in units.values()])
    for t in (early, late):
        rep.summary[f"moving_ratio/t{t:g}"] = _mean([_ratio(u, t) for u in units.values()])
    rep.sections.append(
        (
            "Read attention on moving tokens",
            "Read mass (heads and learned latents averaged) on the 3-D patches that move in the generated clip "
            "(a pixel changes by more than the threshold from the previous frame) divided by their fraction "
            "(uniform reads: 1), blocks averaged, mean over clips that have both moving and still tokens "
            f"({[u['valid_clips'] for u in units.values()]} per seed; moving fraction "
            f"{_mean([u['moving_fraction'] for u in units.values()]):.2f}).\n\n"
            + markdown_table(
                ["t", *[f"seed {s}" for s in units]],
                [[f"{t:g}", *[f"{_ratio(u, t):.3f}" for u in units.values()]] for t in (early, late)],
            ),
        )
    )
    rep.sections.append(
        (
            "The rule",
            f"Headline: mean MSE(RIN) / mean MSE(copy last frame), paired by seed, below 1 − {m:g} with the 95% "
            "CI beyond it and the sign-flip test at p ≤ 0.05 over at least 5 seeds, after the RIN's MSE beats the "
            f"mean training frame's; ties never win. The attention check the same way on the difference (> {am:g}), "
            "not headline.",
        )
    )
    if units:
        first = units[min(units)]
        rep.figures.append(strips(first["strips"], k))
        rep.figures.append(curves(units, k))
        if "maps" in first:  # results stored before the maps existed have none
            pt = results["config"]["patch_t"]
            rep.figures.append(
                attention_maps(
                    "attention",
                    {f"t = {float(t):.2f}": m for t, m in first["maps"].items()},
                    [first["strips"]["pred"][0][0]] * len(first["maps"]),
                    [
                        f"frames {j * pt}–{j * pt + pt - 1}"
                        for j in range(len(next(iter(first["maps"].values()))))
                    ],
                    "Read attention of the first held-out clip over its 3-D patches (blocks, heads and learned "
                    f"latents averaged), one map per group of {pt} frames, early and late in sampling, beside the "
                    "first predicted frame; first seed. Fig. 2.11: late reads should sit on the moving sprites.",
                )
            )
    return rep


def strips(data: dict, k: int) -> Figure:
    """Per clip two rows: context | truth, and context | prediction (frames left to right)."""
    plt = pyplot()
    truth, pred = np.asarray(data["truth"]), np.asarray(data["pred"])
    n, t = truth.shape[:2]
    fig, axes = plt.subplots(2 * n, t, figsize=(1.0 * t, 1.05 * 2 * n), squeeze=False)
    for i in range(n):
        for f in range(t):
            for r, video in ((0, truth[i]), (1, None if f < k else pred[i, f - k])):
                ax = axes[2 * i + r, f]
                img = truth[i, f] if f < k else (video[f] if r == 0 else video)
                ax.imshow(np.clip((img.transpose(1, 2, 0) + 1) / 2, 0, 1))
                ax.set_xticks([])
                ax.set_yticks([])
                if f == k:
                    for side in ("left",):
                        ax.spines[side].set_color("red")
                        ax.spines[side].set_linewidth(2)
            axes[2 * i, 0].set_ylabel(f"clip {i}\ntruth", fontsize=7)
            axes[2 * i + 1, 0].set_ylabel("prediction", fontsize=7)
    for f in range(t):
        axes[0, f].set_title(("context " if f < k else "") + f"t={f}", fontsize=7)
    fig.tight_layout()
    return Figure(
        "strips",
        fig,
        f"Held-out clips, first seed: the {k} context frames (given clean) and then the true future (upper row) "
        "or the RIN's sampled future (lower row); the red edge marks the first predicted frame.",
    )


def curves(units: dict, k: int) -> Figure:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.4, 3.0))
    for i, (name, label) in enumerate(ROWS.items()):
        per = np.asarray([u["frame_mse"][name] for u in units.values()])
        frames = np.arange(k, k + per.shape[1])
        ax.plot(frames, per.mean(0), marker="o", color=f"C{i}", label=label)
        for row in per:
            ax.plot(frames, row, color=f"C{i}", alpha=0.25, lw=0.8)
    ax.set_xlabel("frame")
    ax.set_ylabel("MSE to the true frame")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Figure("mse", fig, "Per-frame MSE of the predicted future, mean over seeds (thin: each seed).")
