"""The tunnel experiment's analysis and report: pure functions of the results dict."""

from __future__ import annotations

from collections import defaultdict

from replab.track.report import Check, Figure, Report, markdown_table, pyplot


def tunnel_stats(rows: list[dict], saturation_tol: float, rank_fall: float) -> dict:
    """Split one model's per-layer curves into extractor and tunnel.

    The extractor ends at the first layer (1-based) whose probe accuracy is within `saturation_tol` of the
    best layer's; the tunnel is every layer after it. The tunnel counts as present when that layer lies
    before the last third of the network and the last layer's numerical rank is at most `rank_fall` times
    the peak rank over layers.
    """
    acc = [r["probe_acc"] for r in rows]
    rank = [r["numerical_rank"] for r in rows]
    depth, best = len(rows), max(acc)
    saturation = next(i for i, a in enumerate(acc, start=1) if a >= best - saturation_tol)
    peak = max(rank)
    out = {
        "depth": depth,
        "saturation_layer": saturation,
        "tunnel_length": depth - saturation,
        "best_probe_acc": best,
        "last_probe_acc": acc[-1],
        "peak_rank": peak,
        "last_rank": rank[-1],
        "rank_ratio": rank[-1] / peak if peak else float("nan"),
    }
    out["saturates_early"] = saturation <= (2 * depth) // 3
    out["rank_falls"] = bool(peak) and rank[-1] <= rank_fall * peak
    out["tunnel"] = out["saturates_early"] and out["rank_falls"]
    return out


def _describe(s: dict) -> str:
    return (
        f"saturates at layer {s['saturation_layer']}/{s['depth']} (probe acc {s['best_probe_acc']:.3f}); "
        f"rank {s['peak_rank']} → {s['last_rank']} ({s['rank_ratio']:.2f}× peak)"
    )


def _groups(models: dict, vary: str) -> list[list[str]]:
    """Lists of models (≥ 2) identical except in `vary` ('depth' or 'classes'), sorted by it."""
    keys = {"depth": ("arch", "data", "classes"), "classes": ("arch", "depth", "data")}[vary]
    groups = defaultdict(list)
    for name, m in models.items():
        groups[tuple(m[k] for k in keys)].append(name)
    return [sorted(g, key=lambda n: models[n][vary]) for g in groups.values() if len(g) > 1]


def analyse(results: dict) -> tuple[dict, list[Check]]:
    tol, fall = results["config"]["saturation_tol"], results["config"]["rank_fall"]
    models = results["models"]
    final = {n: tunnel_stats(m["probes"][max(m["probes"], key=int)], tol, fall) for n, m in models.items()}
    checks = [
        Check(f"{n}: extractor then tunnel (final)", s["tunnel"], _describe(s)) for n, s in final.items()
    ]
    for n, m in models.items():
        early = min(m["probes"], key=int)
        if early != max(m["probes"], key=int):
            s = tunnel_stats(m["probes"][early], tol, fall)
            checks.append(
                Check(f"{n}: tunnel already present after epoch {early}", s["tunnel"], _describe(s))
            )
    for group in _groups(models, "depth"):
        lengths = [final[n]["tunnel_length"] for n in group]
        checks.append(
            Check(
                f"deeper → longer tunnel ({', '.join(group)})",
                lengths[-1] > lengths[0],
                "tunnel lengths " + ", ".join(f"{n}: {v}" for n, v in zip(group, lengths)),
            )
        )
    for group in _groups(models, "classes"):
        lengths = [final[n]["tunnel_length"] for n in group]
        checks.append(
            Check(
                f"fewer classes → longer tunnel ({', '.join(group)})",
                lengths[0] > lengths[-1],
                "tunnel lengths " + ", ".join(f"{n}: {v}" for n, v in zip(group, lengths)),
            )
        )
    return final, checks


def _curve_figure(name: str, rows: list[dict], stats: dict, test_acc: float):
    plt = pyplot()
    layers = list(range(1, len(rows) + 1))
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(layers, [r["probe_acc"] for r in rows], "o-", color="tab:blue", label="linear-probe accuracy")
    ax.set_xlabel("layer")
    ax.set_ylabel("probe test accuracy", color="tab:blue")
    ax.set_ylim(0, 1.02)
    ax2 = ax.twinx()
    ax2.plot(layers, [r["numerical_rank"] for r in rows], "s--", color="tab:orange", label="numerical rank")
    ax2.set_ylabel("numerical rank (ε=1e-3)", color="tab:orange")
    ax2.set_ylim(bottom=0)
    sat = stats["saturation_layer"]
    ax.axvspan(sat + 0.5, len(rows) + 0.5, color="grey", alpha=0.15, label="tunnel")
    ax.axvline(sat + 0.5, color="k", ls=":", lw=1)
    ax.set_xticks(layers)
    ax.set_title(f"{name} (test accuracy {test_acc:.3f}): extractor = layers 1–{sat}")
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [h.get_label() for h in lines], loc="lower left", fontsize=8)
    return fig


def _dynamics_figure(models: dict):
    plt = pyplot()
    n = len(models)
    cols = min(3, n)
    rows_ = -(-n // cols)
    fig, axes = plt.subplots(rows_, cols, figsize=(4.2 * cols, 3.2 * rows_), squeeze=False)
    for ax, (name, m) in zip(axes.flat, models.items()):
        for epoch in sorted(m["probes"], key=int):
            rows = m["probes"][epoch]
            ax.plot(
                range(1, len(rows) + 1),
                [r["numerical_rank"] for r in rows],
                marker=".",
                label=f"epoch {epoch}",
            )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("layer")
        ax.set_ylabel("numerical rank")
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Numerical rank per layer at each probed epoch")
    fig.tight_layout()
    return fig


def report(results: dict) -> Report:
    models = results["models"]
    final, checks = analyse(results)
    rows = [
        [
            n,
            m["depth"],
            m["classes"],
            m["test_acc"],
            final[n]["saturation_layer"],
            final[n]["tunnel_length"],
            final[n]["best_probe_acc"],
            final[n]["last_probe_acc"],
            final[n]["peak_rank"],
            final[n]["last_rank"],
        ]
        for n, m in models.items()
    ]
    sections = [
        (
            "Per model (final epoch)",
            markdown_table(
                [
                    "model",
                    "layers",
                    "classes",
                    "test acc",
                    "extractor ends",
                    "tunnel length",
                    "best probe acc",
                    "last-layer probe acc",
                    "peak rank",
                    "last-layer rank",
                ],
                rows,
            ),
        )
    ]
    for n, m in models.items():
        epoch = max(m["probes"], key=int)
        sections.append(
            (
                f"{n}: per layer (epoch {epoch})",
                markdown_table(
                    ["layer", "dim", "probe acc", "numerical rank", "srank (δ=0.01)"],
                    [
                        [r["layer"], r["dim"], r["probe_acc"], r["numerical_rank"], r["srank"]]
                        for r in m["probes"][epoch]
                    ],
                ),
            )
        )
    sections.append(
        (
            "Method",
            (
                f"Each model trained {results['config']['epochs']} epochs (Adam, cross-entropy). Representations are "
                "each block's post-ReLU output, flattened, read in eval mode (the paper's code probes with the "
                "backbone in train mode). Numerical rank: eigenvalues of the test features' covariance above "
                f"ε·λ_max, ε = {results['config']['rank_tol']}. Probe accuracy: linear classifier fitted on the "
                "training split's frozen features, scored on the test split. The paper's results are qualitative "
                "(VGG-19/ResNet-34/MLPs on CIFAR-10/100); no per-layer numbers were recovered to compare against."
            ),
        )
    )
    figures = [
        Figure(
            f"tunnel_{n}",
            _curve_figure(n, m["probes"][max(m["probes"], key=int)], final[n], m["test_acc"]),
            f"{n}: probe accuracy and numerical rank per layer; the shaded layers are the tunnel.",
        )
        for n, m in models.items()
    ]
    figures.append(
        Figure("dynamics", _dynamics_figure(models), "Numerical rank per layer at each probed epoch.")
    )
    summary = {}
    for n, s in final.items():
        for key in ("tunnel_length", "saturation_layer", "rank_ratio", "best_probe_acc"):
            summary[f"{n}/{key}"] = float(s[key])
        summary[f"{n}/test_acc"] = float(models[n]["test_acc"])
    return Report(
        title="Tunnel effect",
        checks=checks,
        sections=sections,
        figures=figures,
        summary=summary,
    )
