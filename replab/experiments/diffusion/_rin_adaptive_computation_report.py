"""The report of `rin-adaptive-computation`: a pure function of its results."""

from __future__ import annotations

import numpy as np

from replab.experiments.diffusion._figures import attention_maps, sample_grids
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

PAPER = "Fig. 2.6, 2.11: read attention becomes sparse and sample-specific late in sampling; maps only"


def _ratio(unit: dict, t: float) -> float:
    """The attention-mass ratio at time t averaged over blocks (NaN without valid samples)."""
    r = [v for v in unit["ratios"][str(t)] if np.isfinite(v)]
    return float(np.mean(r)) if r else float("nan")


def _mean(values) -> float:
    v = [x for x in values if np.isfinite(x)]
    return float(np.mean(v)) if v else float("nan")


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    times, m = [float(t) for t in cfg["times"]], float(cfg["min_effect"])
    rep = Report(title="RIN adaptive computation (sprites)")
    seeds = sorted(int(k.split("/")[1]) for k in res)
    units = {s: res[f"sprites/{s}"] for s in seeds}
    blocks = len(next(iter(units.values()))["ratios"][str(times[0])]) if units else 0
    rows = []
    for t in times:
        per_block = [_mean([u["ratios"][str(t)][b] for u in units.values()]) for b in range(blocks)]
        rows.append([f"{t:.2f}", *per_block, _mean([_ratio(u, t) for u in units.values()])])
    valid = [u["valid_samples"] for u in units.values()]
    frac = [u["object_patch_fraction"] for u in units.values()]
    real_frac = [u.get("real_object_patch_fraction", float("nan")) for u in units.values()]
    like = [u.get("sprite_like", float("nan")) for u in units.values()]
    real_like = [u.get("real_sprite_like", float("nan")) for u in units.values()]
    rep.sections.append(
        (
            "Attention-mass ratio per reverse time",
            "Read mass on the patches overlapping the generated object divided by the fraction of such "
            "patches (uniform reads: 1), heads and learned latents averaged, mean over samples and seeds. "
            f"Samples with a usable object mask: {valid} of {cfg['n_samples']} per seed; object patches "
            f"cover {_mean(frac):.2f} of the patches on average (training sprites: {_mean(real_frac):.2f}). "
            f"Samples that drew one object (a single blob covering 5–35% of the image): {_mean(like):.2f} "
            f"(training sprites: {_mean(real_like):.2f}); without objects the ratio measures speckle, not "
            "the claim.\n\n"
            + markdown_table(["t", *[f"block {b + 1}" for b in range(blocks)], "mean over blocks"], rows),
        )
    )
    late, early = times[-1], times[0]
    head = (
        f"read attention concentrates on the object late (t = {late:g}) vs early (t = {early:g}) by > {m:g}"
    )
    a = {s: _ratio(u, late) for s, u in units.items()}
    b = {s: _ratio(u, early) for s, u in units.items()}
    if not units:
        rep.checks.append(Check(head, None, "no seed finished"))
    else:
        d = paired(
            a,
            b,
            min_effect=m,
            direction="greater",
            floor=1.0,
            floor_min_effect=m,
            name=head,
            a_label=f"t={late:g}",
            b_label=f"t={early:g}",
            floor_label="uniform reads (ratio 1)",
            paper=PAPER,
        )
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
    rep.summary["sprite_like"] = _mean(like)
    for t in times:
        rep.summary[f"ratio/t{t:g}"] = _mean([_ratio(u, t) for u in units.values()])
    rep.sections.append(
        (
            "The rule",
            f"The ratio at t = {late:g} minus at t = {early:g} (one value per seed, blocks averaged), paired by "
            f"seed, must exceed {m:g} with the 95% CI beyond it and the sign-flip test at p ≤ 0.05 over at least "
            f"5 seeds, after the late ratio beats uniform reads (1) by {m:g}. Ties never win.",
        )
    )
    if units:
        first = units[seeds[0]]
        maps = [[first["maps"][str(t)][i] for t in times] for i in range(len(first["maps"][str(times[0])]))]
        rep.figures.append(
            attention_maps(
                "attention",
                {f"sample {i}": row for i, row in enumerate(maps)},
                first["grid"][: len(maps)],
                [f"t = {t:.2f}" for t in times],
                "Read attention over the patches (blocks, heads and latents averaged) at each recorded reverse "
                "time, beside the final sample; first seed.",
            )
        )
        rep.figures.append(
            sample_grids(
                "samples", {"sprites": first["grid"]}, "Samples (columns cycle the 4 shapes).", cols=8
            )
        )
        rep.figures.append(_curve(times, units))
    return rep


def _curve(times, units) -> Figure:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    for s, u in units.items():
        ax.plot(times, [_ratio(u, t) for t in times], marker="o", label=f"seed {s}")
    ax.axhline(1.0, color="gray", ls=":", label="uniform reads")
    ax.invert_xaxis()
    ax.set_xlabel("reverse-process time t (sampling runs right)")
    ax.set_ylabel("attention-mass ratio")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Figure("ratio", fig, "Attention-mass ratio along the reverse process, per seed (blocks averaged).")
