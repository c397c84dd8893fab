"""The report of `pruning-transfer`: a pure function of its results. Compute/error frontiers (points chosen on
dev, scored on test) of the dense, filter-pruned and channel-pruned models, and the three claims paired by
(seed, task)."""

from __future__ import annotations

import math

import numpy as np

from replab.continual import metrics
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

PAPER = "PRUNE abstract: filter pruning improves performance by > 20% in low-compute regimes (ResNet-50 on NEVIS'22)"
GROUPS = ("dense", "filter", "channel")


def _points(res: dict) -> dict[tuple[int, str], list[tuple[float, float, float, str]]]:
    """{(seed, target): [(flops, dev error, test error, model), ...]} over models, lrs and budgets."""
    out: dict = {}
    for key, u in res.items():
        s, target, *model, _lr = key.split("/")
        name = "/".join(model)
        for f, d, t in zip(u["flops"], u["dev"], u["test"]):
            out.setdefault((int(s), target), []).append((float(f), float(d), float(t), name))
    return out


def _group(name: str) -> str:
    return name.split("/")[0]


def _of(points, group: str | None):
    pts = [p for p in points if group is None or _group(p[3]) == group]
    return [p[0] for p in pts], [p[2] for p in pts], [p[1] for p in pts]  # FLOPs, test, dev


def frontier(points, budget: float, group: str | None = None) -> float:
    """Test error of the point with the best dev error among those of `group` within `budget` FLOPs."""
    flops, test, dev = _of(points, group)
    return metrics.frontier_error(flops, test, budget, select=dev) if flops else math.nan


def frontier_mean(points, group: str, lo: float, hi: float, n: int = 32) -> float:
    """Mean over log-spaced budgets in [lo, hi] of the group's frontier error (a budget below every point of
    the group counts as the chance-free worst case: the group's worst test error)."""
    flops, test, dev = _of(points, group)
    return metrics.frontier_auc(flops, test, lo, hi, n, select=dev)


def report(results: dict) -> Report:
    cfg, res, sources = results["config"], results["results"], results["sources"]
    rep = Report(title="Compute-optimal transfer: zero-shot structured pruning")
    budgets, m = list(cfg["budgets"]), float(cfg["min_effect"])
    pts = _points(res)
    chance = {}
    for key, u in res.items():
        s, target = key.split("/")[:2]
        chance[(int(s), target)] = float(u["chance"])
    src0 = next(iter(sources.values()), {})
    fwd, params, emb = src0.get("flops", {}), src0.get("params", {}), src0.get("embedding", {})
    models = list(fwd)
    rows = []
    for name in models:
        errs = []
        for b in range(len(budgets)):
            vals = []
            for (s, target), _ in pts.items():
                cand = [res[k] for k in res if k.startswith(f"{s}/{target}/{name}/")]
                if cand:
                    best = min(cand, key=lambda u: u["dev"][b])
                    vals.append(best["test"][b])
            errs.append(float(np.mean(vals)) if vals else math.nan)
        rows.append(
            [name, f"{fwd[name]:.3g}", f"{fwd[name] / fwd['dense']:.3f}", params[name], emb[name], *errs]
        )
    rep.sections.append(
        (
            "Models and test error per budget",
            "Forward FLOPs per 16×16 image (counted on the physically pruned network), its fraction of the dense "
            "model's, parameters and embedding size (filter pruning keeps it, channel pruning shrinks it); then "
            f"the test error after each fine-tuning budget (steps at batch {cfg['batch']}, the lr chosen on dev), "
            "mean over seeds and targets. Source accuracy of the pretrained model: "
            + ", ".join(f"{v['source_accuracy']:.3f}" for v in sources.values())
            + ".\n\n"
            + markdown_table(
                ["model", "FLOPs/image", "× dense", "params", "embedding", *map(str, budgets)], rows
            ),
        )
    )
    if not pts or "dense" not in fwd:
        rep.checks.append(Check("pruning frontier", None, "nothing measured"))
        return rep
    dense_flops = [3 * fwd["dense"] * cfg["batch"] * b for b in budgets]  # TRAIN_FACTOR × fwd × examples
    c_small, c_max = dense_flops[cfg["small_budget"]], dense_flops[-1]
    units = sorted(pts)
    small_f = {u: frontier(pts[u], c_small, "filter") for u in units}
    small_d = {u: frontier(pts[u], c_small, "dense") for u in units}
    large_d = {u: frontier(pts[u], c_max, "dense") for u in units}
    large_f = {u: frontier(pts[u], c_max, "filter") for u in units}
    floor = {u: chance[u] for u in units}
    claims = []
    if "filter" in {_group(n) for n in models}:
        claims.append(
            ("small", small_f, small_d, "filter", "dense",
             f"at C = {c_small:.3g} FLOPs (dense at {budgets[cfg['small_budget']]} steps): filter-pruned frontier below dense"),
        )  # fmt: skip
        claims.append(
            ("large", large_d, large_f, "dense", "filter",
             f"at C = {c_max:.3g} FLOPs (dense at {budgets[-1]} steps): dense frontier below filter-pruned"),
        )  # fmt: skip
    groups = {_group(n) for n in models}
    if {"filter", "channel"} <= groups:
        lo = max(min(p[0] for u in units for p in pts[u] if _group(p[3]) == g) for g in ("filter", "channel"))
        hi = max(p[0] for u in units for p in pts[u])
        fa = {u: frontier_mean(pts[u], "filter", lo, hi) for u in units}
        ca = {u: frontier_mean(pts[u], "channel", lo, hi) for u in units}
        claims.append(
            ("filter_vs_channel", fa, ca, "filter", "channel",
             f"mean frontier error over log-FLOPs in [{lo:.3g}, {hi:.3g}]: filter pruning below channel pruning"),
        )  # fmt: skip
    for key, a, b, la, lb, name in claims:
        d = paired(
            a, b, min_effect=m, direction="less", floor=floor, name=name, key=key, a_label=la, b_label=lb,
            floor_label="chance error", paper=PAPER if key == "small" else "",
        )  # fmt: skip
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
    if small_d:
        md = np.nanmean([small_d[u] for u in units])
        rel = (md - np.nanmean([small_f[u] for u in units])) / md if md > 0 else math.nan
        rep.summary["small/relative_gain"] = float(rel)
        rep.sections.append(
            (
                "Low-compute gain",
                f"At the small budget the filter-pruned frontier's error is {100 * rel:.1f}% below the dense one's "
                f"((mean dense − mean pruned) / mean dense over seeds and targets; negative: pruned is worse; the paper: > 20%).",
            )
        )
    rep.sections.append(
        (
            "The rule",
            f"Each claim: the mean over (seed, target) of A − B must be below −{m:g} (registered minimum effect, "
            "test-error units) with the 95% CI beyond it and the sign-flip test at p ≤ 0.05, at least 5 seeds in "
            "every target, after A beats the chance error; ties never win. A frontier at budget C is the test "
            "error of the point (model, lr, budget) with the best dev error among those whose training FLOPs "
            "(3 × forward FLOPs × examples) fit in C.",
        )
    )
    rep.figures.append(_figure(pts, units, models))
    return rep


def _figure(pts, units, models) -> Figure:
    import matplotlib.pyplot as plt

    allf = [p[0] for u in units for p in pts[u]]
    grid = np.logspace(math.log10(min(allf)), math.log10(max(allf)), 40)
    fig, ax = plt.subplots(figsize=(6.6, 4.2))
    styles = {"dense": ("k", "-"), "filter": ("C0", "-"), "channel": ("C3", "-")}
    for g in GROUPS:
        if not any(_group(n) == g for n in models):
            continue
        curve = _colmean([[frontier(pts[u], c, g) for c in grid] for u in units])
        ax.plot(grid, curve, color=styles[g][0], lw=2, label=f"{g} frontier")
    for i, name in enumerate(n for n in models if _group(n) == "filter"):
        curve = _colmean([[_single(pts[u], c, name) for c in grid] for u in units])
        ax.plot(grid, curve, color="C0", ls=":", alpha=0.4 + 0.15 * i, lw=1, label=name)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("fine-tuning FLOPs")
    ax.set_ylabel("test error (frontier, chosen on dev)")
    ax.set_title("Compute/error frontier: dense vs zero-shot pruned")
    ax.legend(fontsize=7)
    return Figure(
        "frontier",
        fig,
        "Frontier error vs fine-tuning FLOPs, mean over seeds and targets (dotted: one filter ratio).",
    )


def _colmean(rows) -> np.ndarray:
    """Column means over the finite values (nan where a budget fits no point of any unit)."""
    a = np.asarray(rows, dtype=float)
    n = np.isfinite(a).sum(0)
    return np.where(n > 0, np.where(np.isfinite(a), a, 0).sum(0) / np.maximum(n, 1), np.nan)


def _single(points, budget, name) -> float:
    fit = [p for p in points if p[3] == name and p[0] <= budget * (1 + 1e-9)]
    return min(fit, key=lambda p: (p[1], p[0]))[2] if fit else math.nan
