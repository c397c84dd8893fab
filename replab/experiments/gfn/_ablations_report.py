"""Report of gfn-ablations: each thesis §5.3.4 finding decided by the shared rules (`track/claims.py`).

Every (variant, seed) unit of a run starts from the same initial network for a given seed index
(`init/{seed}`), so the variants are compared paired by seed; the seeds are indices into the run's streams,
not absolute seeds (`absolute_seeds=False`).
"""

from __future__ import annotations

import numpy as np

from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table
from replab.track.stats import aggregate

MIN_EFFECT = 0.2
"""Registered minimum effect of "helps" / "beats" (see `Config.min_effect`)."""
MUCH_MIN_EFFECT = 0.5
"""Registered minimum effect of "≫" (see `Config.much_min_effect`)."""
FLOOR = "uniform over cells"


def per_seed(results: dict, variant: str) -> dict[int, float]:
    cfg, l1 = results["config"], results["exact_l1"]
    return {s: l1[f"{variant}|{s}"] for s in range(cfg["seeds"]) if f"{variant}|{s}" in l1}


def _common(*maps: dict) -> list[dict]:
    keys = set.intersection(*(set(m) for m in maps))
    return [{k: m[k] for k in keys} for m in maps]


def decide(results: dict) -> list[Check]:
    """Replay (uniform: the headline; prioritized), no target vs an EMA target, Adam and RMSProp vs
    momentum SGD: ratios of mean exact L1, paired by seed, floor = the uniform distribution's exact L1;
    Adam's spread vs RMSProp's: mean absolute deviation from each variant's mean, paired by seed."""
    cfg = results["config"]
    variants = [v for v in cfg["variants"] if per_seed(results, v)]
    m = cfg.get("min_effect", MIN_EFFECT)
    much = cfg.get("much_min_effect", MUCH_MIN_EFFECT)
    vals = {v: per_seed(results, v) for v in variants}
    checks = []

    def compare(a, b, min_effect, name, key, paper, headline=False):
        if a in vals and b in vals:
            x, y = _common(vals[a], vals[b])
            d = paired(
                x,
                y,
                min_effect=min_effect,
                direction="less",
                effect="ratio",
                floor=results["uniform_l1"],
                name=name,
                key=key,
                a_label=a,
                b_label=b,
                floor_label=FLOOR,
                paper=paper,
            )
            checks.append(d.check(headline=headline))

    replay = "thesis §5.3.4, Fig. 5.18: replay 'helps quite a bit' (histograms over 20 seeds, no table)"
    compare(
        "replay-uniform", "baseline", m, "uniform replay beats no replay (exact L1)", "claim", replay, True
    )
    compare(
        "replay-prioritized",
        "baseline",
        m,
        "prioritized replay beats no replay (exact L1)",
        "prioritized",
        replay,
    )
    compare(
        "baseline",
        "ema-target",
        m,
        f"no target network beats an EMA target, τ = {cfg['ema_tau']} (exact L1)",
        "no_target",
        "thesis Fig. 5.19",
    )
    sgd = "thesis Fig. 5.21: Adam ≈ RMSProp ≫ momentum SGD"
    compare("baseline", "sgd-momentum", much, "Adam ≫ momentum SGD (exact L1)", "adam_vs_sgd", sgd)
    compare("rmsprop", "sgd-momentum", much, "RMSProp ≫ momentum SGD (exact L1)", "rmsprop_vs_sgd", sgd)
    if "baseline" in vals and "rmsprop" in vals:
        x, y = _common(vals["baseline"], vals["rmsprop"])
        dev = [{s: abs(v - np.mean(list(d.values()))) for s, v in d.items()} for d in (x, y)]
        name = "Adam has less spread across seeds than RMSProp (|exact L1 − its mean|, paired by seed)"
        if len(x) < 2 or min(dev[1].values()) <= 0:
            checks.append(
                Check(name, None, f"not measurable: {len(x)} seed(s), or an RMSProp seed at its mean")
            )
        else:
            d = paired(
                dev[0],
                dev[1],
                min_effect=m,
                direction="less",
                effect="ratio",
                name=name,
                key="adam_spread",
                a_label="Adam deviation",
                b_label="RMSProp deviation",
                paper="thesis Fig. 5.21: Adam has less variance than RMSProp",
            )
            checks.append(d.check(headline=False))
    return checks


def _mean_time(times: dict, variant: str) -> float:
    xs = [t for k, t in times.items() if k.split("|")[0] == variant]
    return float(np.mean(xs)) if xs else float("nan")


def report(results: dict) -> Report:
    cfg = results["config"]
    variants = cfg["variants"]
    vals = {v: list(per_seed(results, v).values()) for v in variants}
    stats = {v: aggregate(vals[v]) for v in variants}
    rows = [
        [
            v,
            stats[v]["n"],
            stats[v]["mean"],
            float(np.std(vals[v])) if vals[v] else float("nan"),
            stats[v]["iqm"],
            f"[{stats[v]['ci_low']:.3g}, {stats[v]['ci_high']:.3g}]",
            _mean_time(results.get("cpu_s", {}), v),
        ]
        for v in variants
    ]
    table = markdown_table(
        ["variant", "seeds", "mean exact L1", "std", "IQM", "95% CI of IQM", "CPU s per run"], rows
    )
    m, much = cfg.get("min_effect", MIN_EFFECT), cfg.get("much_min_effect", MUCH_MIN_EFFECT)
    body = (
        f"n={cfg['n']}, H={cfg['H']}, R0={cfg['R0']:g}, {cfg['updates']} updates of {cfg['batch']} "
        f"trajectories (replay variants train on as many replayed states as fresh ones), "
        f"lr {cfg['lr']:g} for every optimizer. The baseline is Adam, no replay, no target. Exact L1 of the "
        f"uniform distribution over reachable cells (the floor): {results['uniform_l1']:.3g}. Claims compare "
        f"mean exact L1 paired by seed: 'beats' needs the ratio's CI below {1 - m:g}, '≫' below "
        f"{1 - much:g} (registered minimum effects).\n\n{table}"
    )
    summary = {f"exact_l1_iqm/{v}": stats[v]["iqm"] for v in variants}
    return Report(
        title="Flow matching with RL tricks on the hyper-grid",
        checks=decide(results),
        sections=[("Exact L1 over seeds", body)],
        figures=[_figure(vals, cfg, results["uniform_l1"])],
        summary=summary,
    )


def _figure(vals: dict, cfg: dict, uniform: float) -> Figure:
    import matplotlib.pyplot as plt

    names = [v for v in vals if vals[v]]
    fig, ax = plt.subplots(figsize=(1.3 * len(names) + 2, 3.6))
    ax.boxplot([vals[v] for v in names], showfliers=False)
    rng = np.random.default_rng(0)
    for i, v in enumerate(names, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(vals[v])), vals[v], s=12, alpha=0.7, color="C0")
    ax.axhline(uniform, color="k", ls=":", lw=1, label="uniform over cells")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("exact L1(u_θ, R/Z)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Figure(
        "exact_l1_by_variant",
        fig,
        f"Exact L1 after {cfg['updates']} updates, one dot per seed "
        "(thesis Figs. 5.18, 5.19, 5.21 show histograms over 20 seeds).",
    )
