"""The report of `lru-length`: a pure function of its results."""

from __future__ import annotations

import numpy as np

from replab.track.report import Check, Figure, Report, markdown_table
from replab.track.stats import aggregate


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    lengths, models, seeds = cfg["lengths"], cfg["models"], int(cfg["seeds"])
    rep = Report(
        title=f"LRU vs gated RNNs across sequence length ({cfg['task']})",
    )

    def values(L, m, field):
        return [res[f"{L}/{m}/{s}"][field] for s in range(seeds) if f"{L}/{m}/{s}" in res]

    rows = []
    for L in lengths:
        for m in models:
            acc, sps = aggregate(values(L, m, "accuracy")), values(L, m, "seconds_per_step")
            params, done = values(L, m, "parameters"), values(L, m, "steps")
            rows.append(
                [
                    L,
                    m,
                    f"{acc['iqm']:.3f} [{acc['ci_low']:.3f}, {acc['ci_high']:.3f}]",
                    float(np.mean(values(L, m, "test_loss") or [np.nan])),
                    float(np.mean(sps or [np.nan])),
                    "–".join(str(v) for v in sorted({int(v) for v in done})),
                    int(params[0]) if params else 0,
                ]
            )
            rep.summary[f"{L}/{m}/accuracy"] = acc["iqm"]
            rep.summary[f"{L}/{m}/seconds_per_step"] = float(np.mean(sps or [np.nan]))
    cap_s = float(cfg.get("max_train_seconds", 0) or 0)
    cap = (
        f", or as many as fit in {cap_s:g} CPU seconds of training per run (the same cap for every model)"
        if cap_s
        else ""
    )
    metric = (
        "fraction with |error| < 0.04; always predicting the mean, 1, scores ≈ 0.08 and MSE ≈ 0.167"
        if cfg["task"] == "adding"
        else "per-token accuracy; chance 0.125"
    )
    rep.sections.append(
        (
            "Accuracy and cost per length",
            (
                f"Test accuracy ({metric}; IQM over {seeds} seeds [95% bootstrap CI]) after {cfg['steps']} steps of batch "
                f"{cfg['batch']}{cap}; CPU seconds per training step (forward + backward + update) on this machine; "
                "steps: the training steps each run completed.\n\n"
                + markdown_table(
                    ["L", "model", "accuracy", "test loss", "s/step", "steps", "parameters"], rows
                )
            ),
        )
    )
    diverged = sorted(k for k, v in res.items() if v.get("diverged"))
    if diverged:
        rep.sections.append(("Diverged runs", ", ".join(diverged)))

    L = max(lengths)
    if "lru" in models:
        # did the LRU learn the task at all at the longest length? (else the comparison says little)
        if cfg["task"] == "adding":
            mse = float(np.mean(values(L, "lru", "test_loss") or [np.nan]))
            learnt, how = bool(mse < 0.05), f"test MSE {mse:.4f} (bar 0.05; predicting the mean: 1/6 ≈ 0.167)"
        else:
            acc = float(np.mean(values(L, "lru", "accuracy") or [np.nan]))
            learnt, how = bool(acc > 0.5), f"per-token accuracy {acc:.3f} (bar 0.5; chance 0.125)"
        rep.checks.append(Check(f"LRU learnt the task at L={L}", learnt, how))
        for m in [m for m in models if m != "lru"]:
            d = [
                res[f"{L}/lru/{s}"]["accuracy"] - res[f"{L}/{m}/{s}"]["accuracy"]
                for s in range(seeds)
                if f"{L}/lru/{s}" in res and f"{L}/{m}/{s}" in res
            ]
            rep.checks.append(
                Check(
                    f"LRU more accurate than {m} at L={L}",
                    bool(d) and float(np.mean(d)) > 0,
                    f"mean paired difference {np.mean(d) if d else float('nan'):+.3f} over {len(d)} seeds",
                )
            )
            a, b = (
                np.mean(values(L, "lru", "seconds_per_step") or [np.nan]),
                np.mean(values(L, m, "seconds_per_step") or [np.nan]),
            )
            rep.checks.append(
                Check(
                    f"LRU trains faster per step than {m} at L={L}",
                    bool(a < b),
                    f"{a:.3f} s vs {b:.3f} s per step ({b / a:.2f}×)",
                )
            )
    rep.figures.append(_figure(lengths, models, values))
    return rep


def _figure(lengths, models, values) -> Figure:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for m in models:
        acc = [aggregate(values(L, m, "accuracy")) for L in lengths]
        mid = np.array([a["iqm"] for a in acc])
        axes[0].errorbar(
            lengths,
            mid,
            yerr=[mid - [a["ci_low"] for a in acc], [a["ci_high"] for a in acc] - mid],
            marker="o",
            capsize=3,
            label=m,
        )
        axes[1].plot(
            lengths,
            [np.mean(values(L, m, "seconds_per_step") or [np.nan]) for L in lengths],
            marker="o",
            label=m,
        )
    axes[0].set(xscale="log", xlabel="sequence length L", ylabel="test accuracy", ylim=(0, 1.02))
    axes[1].set(
        xscale="log", yscale="log", xlabel="sequence length L", ylabel="CPU seconds per training step"
    )
    for ax in axes:
        ax.set_xticks(lengths, [str(L) for L in lengths])
        ax.xaxis.set_minor_locator(plt.NullLocator())  # keep the log y-axis minor labels
        ax.legend(fontsize=8)
    fig.tight_layout()
    return Figure(
        "length", fig, "Test accuracy (IQM, 95% CI) and training cost per step against sequence length."
    )
