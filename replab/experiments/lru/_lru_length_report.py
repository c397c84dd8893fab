"""The report of `lru-length`: a pure function of its results. At the longest length the LRU is compared
with each baseline paired by seed: test accuracy (floor: the trivial predictor) and seconds per step."""

from __future__ import annotations

import numpy as np

from replab.experiments.lru._tasks import ADDING_TOLERANCE
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

MIN_EFFECT, SPEED_MIN_EFFECT = 0.05, 0.5
"""The Config's registered minimum effects (2026-12-05), for results written before they were fields."""
TRIVIAL = {"adding": 2 * ADDING_TOLERANCE - ADDING_TOLERANCE**2, "selective_copy": 1 / 8}
"""Accuracy of the trivial predictor: adding, always the mean sum 1 (|X − 1| < 0.04 for X the sum of two
U[0, 1]: probability 2a − a², a = 0.04); selective copy, a uniform guess over 8 tokens."""
PAPER = "LRU paper §1, §5: RNNs 'hard to optimize and slow to train'; the LRU matches S4/S5 and their speed"


def _per_seed(res, L, m, field, seeds) -> dict[int, float]:
    return {s: float(res[f"{L}/{m}/{s}"][field]) for s in range(seeds) if f"{L}/{m}/{s}" in res}


def decide(results: dict) -> list[tuple[object, bool]]:
    """[(Decision, headline)] at the longest length: accuracy (key "claim") and speed (key "speed") of the
    LRU against the GRU (headline; the first baseline when no GRU ran) and any other baseline (not)."""
    cfg, res = results["config"], results["results"]
    models, seeds, L = list(cfg["models"]), int(cfg["seeds"]), max(cfg["lengths"])
    m = float(cfg.get("min_effect", MIN_EFFECT))
    speed_m = float(cfg.get("speed_min_effect", SPEED_MIN_EFFECT))
    baselines = [b for b in models if b != "lru"]
    if "lru" not in models or not baselines:
        return []
    main = "gru" if "gru" in baselines else baselines[0]
    out = []
    for b in baselines:
        headline = b == main
        acc_a, acc_b = _per_seed(res, L, "lru", "accuracy", seeds), _per_seed(res, L, b, "accuracy", seeds)
        both = acc_a.keys() & acc_b.keys()
        if not both:
            continue
        out.append(
            (
                paired(
                    {s: acc_a[s] for s in both},
                    {s: acc_b[s] for s in both},
                    min_effect=m,
                    direction="greater",
                    floor=TRIVIAL[cfg["task"]],
                    floor_min_effect=m,
                    name=f"LRU more accurate than {b} at L={L}",
                    key="claim" if headline else f"claim/{b}",
                    a_label="lru",
                    b_label=b,
                    floor_label="trivial predictor",
                    paper=PAPER,
                ),
                headline,
            )
        )
        sps_a = _per_seed(res, L, "lru", "seconds_per_step", seeds)
        sps_b = _per_seed(res, L, b, "seconds_per_step", seeds)
        out.append(
            (
                paired(
                    {s: sps_a[s] for s in both},
                    {s: sps_b[s] for s in both},
                    min_effect=speed_m,
                    direction="less",
                    effect="ratio",
                    name=f"LRU trains at least {1 / (1 - speed_m):.3g}× faster per step than {b} at L={L}",
                    key="speed" if headline else f"speed/{b}",
                    a_label="lru",
                    b_label=b,
                    paper=PAPER,
                ),
                headline,
            )
        )
    return out


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    lengths, models, seeds = cfg["lengths"], cfg["models"], int(cfg["seeds"])
    m = float(cfg.get("min_effect", MIN_EFFECT))
    speed_m = float(cfg.get("speed_min_effect", SPEED_MIN_EFFECT))
    rep = Report(
        title=f"LRU vs gated RNNs across sequence length ({cfg['task']})",
    )

    def values(L, m, field):
        return [res[f"{L}/{m}/{s}"][field] for s in range(seeds) if f"{L}/{m}/{s}" in res]

    rows = []
    for L in lengths:
        for mod in models:
            acc, sps = values(L, mod, "accuracy"), values(L, mod, "seconds_per_step")
            params, done = values(L, mod, "parameters"), values(L, mod, "steps")
            rows.append(
                [
                    L,
                    mod,
                    f"{np.mean(acc):.3f} ± {np.std(acc):.3f} (n={len(acc)})" if acc else "–",
                    ", ".join(f"{v:.3f}" for v in acc),
                    float(np.mean(values(L, mod, "test_loss") or [np.nan])),
                    float(np.mean(sps or [np.nan])),
                    "–".join(str(v) for v in sorted({int(v) for v in done})),
                    int(params[0]) if params else 0,
                ]
            )
            rep.summary[f"{L}/{mod}/accuracy"] = float(np.mean(acc)) if acc else float("nan")
            rep.summary[f"{L}/{mod}/seconds_per_step"] = float(np.mean(sps or [np.nan]))
    cap_s = float(cfg.get("max_train_seconds", 0) or 0)
    cap = (
        f", or as many as fit in {cap_s:g} CPU seconds of training per run (the same cap for every model)"
        if cap_s
        else ""
    )
    trivial = TRIVIAL[cfg["task"]]
    metric = (
        f"fraction with |error| < 0.04; always predicting the mean, 1, scores {trivial:.4f} and MSE ≈ 0.167"
        if cfg["task"] == "adding"
        else f"per-token accuracy; chance {trivial:.3f}"
    )
    rep.sections.append(
        (
            "Accuracy and cost per length",
            (
                f"Test accuracy ({metric}; mean ± standard deviation over the seeds, n, and each seed's value — "
                f"a description of the spread, not a confidence interval) after {cfg['steps']} steps of batch "
                f"{cfg['batch']}{cap}; CPU seconds per training step (forward + backward + update) on this "
                "machine; steps: the training steps each run completed.\n\n"
                + markdown_table(
                    ["L", "model", "accuracy", "per seed", "test loss", "s/step", "steps", "parameters"],
                    rows,
                )
            ),
        )
    )
    rep.sections.append(
        (
            "The rule",
            f"At the longest length L = {max(lengths)}, two headline claims against the GRU, paired by seed "
            "(a seed's models see the same data and minibatches), each by the shared rule (95% CI beyond "
            "the threshold and the sign-flip test at p ≤ 0.05, over at least 5 seeds; ties never win): the "
            f"LRU's test accuracy minus the GRU's exceeds the registered {m:g}, after the LRU beats the "
            f"trivial predictor ({trivial:.4g}) by {m:g}; and the ratio of mean seconds per training step "
            f"LRU / GRU is below {1 - speed_m:g} (at least {1 / (1 - speed_m):.3g}× faster). Other "
            "baselines (LSTM) get the same two comparisons as non-headline checks.",
        )
    )
    diverged = sorted(k for k, v in res.items() if v.get("diverged"))
    if diverged:
        rep.sections.append(("Diverged runs", ", ".join(diverged)))

    decisions = decide(results)
    if "lru" in models and len(models) > 1 and not decisions:
        rep.checks.append(Check("LRU vs the baselines", None, "no seed with both models finished"))
    for d, headline in decisions:
        rep.checks.append(d.check(headline=headline))
        if headline:
            rep.summary.update(d.summary())
        if d.floor is not None:  # the accuracy comparisons: who beat the trivial predictor
            L = max(lengths)
            if headline:
                rep.checks.append(d.floor.check(f"LRU beats the trivial predictor at L={L} by {m:g}", False))
            rep.checks.append(
                d.floor_b.check(f"{d.b_label} beats the trivial predictor at L={L} by {m:g}", False)
            )
    rep.figures.append(_figure(lengths, models, values))
    return rep


def _figure(lengths, models, values) -> Figure:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for m in models:
        mean = [np.mean(values(L, m, "accuracy") or [np.nan]) for L in lengths]
        (line,) = axes[0].plot(lengths, mean, marker="o", label=m)
        for L in lengths:
            xs = values(L, m, "accuracy")
            axes[0].scatter([L] * len(xs), xs, color=line.get_color(), s=10, alpha=0.6)
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
        "length",
        fig,
        "Test accuracy (line: mean over seeds; dots: seeds) and training cost per step against sequence length.",
    )
