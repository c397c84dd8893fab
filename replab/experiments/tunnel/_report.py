"""The tunnel experiment's report: tables and figures of the results (the analysis: `_analysis.py`)."""

from __future__ import annotations

from replab.experiments.tunnel._analysis import analyse, capacity, rank_ratio
from replab.track.report import Figure, Report, markdown_table, pyplot


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
        if m.get("init"):
            ranks = [r["numerical_rank"] for r in m["init"]]
            ax.plot(range(1, len(ranks) + 1), ranks, ls=":", color="grey", label="initialisation")
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
    models, cfg = results["models"], results["config"]
    final, checks = analyse(results)
    mf = cfg.get("max_features")
    init = {
        n: rank_ratio(m["init"], m.get("n_test"), mf) if m.get("init") else float("nan")
        for n, m in models.items()
    }
    rows = [
        [
            n,
            m["depth"],
            m["classes"],
            m["test_acc"],
            final[n]["saturation_layer"],
            final[n]["tunnel_length"],
            final[n]["tunnel_fraction"],
            final[n]["first_two_thirds_acc"],
            final[n]["best_probe_acc"],
            final[n]["last_probe_acc"],
            final[n]["peak_rank"],
            final[n]["last_rank"],
            final[n]["last_rank"] / m["classes"],
            final[n]["rank_ratio"],
            init[n],
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
                    "classes K",
                    "test acc",
                    "extractor ends",
                    "tunnel length",
                    "tunnel fraction",
                    "probe acc, first ⅔",
                    "best probe acc",
                    "last-layer probe acc",
                    "peak rank",
                    "last-layer rank",
                    "last rank / K",
                    "last / peak normalised rank",
                    "same, at initialisation",
                ],
                rows,
            ),
        )
    ]
    epochs = sorted({e for m in models.values() for e in m["probes"]}, key=int)
    if len(epochs) > 1:
        sections.append(
            (
                "Last / peak normalised rank at each probed epoch (descriptive)",
                markdown_table(
                    ["model", "init"] + [f"epoch {e}" for e in epochs],
                    [
                        [n, init[n]]
                        + [
                            rank_ratio(m["probes"][e], m.get("n_test"), mf) if e in m["probes"] else ""
                            for e in epochs
                        ]
                        for n, m in models.items()
                    ],
                ),
            )
        )
    for n, m in models.items():
        epoch = max(m["probes"], key=int)
        init_rows = m.get("init") or [{} for _ in m["probes"][epoch]]
        sections.append(
            (
                f"{n}: per layer (epoch {epoch})",
                markdown_table(
                    [
                        "layer",
                        "dim",
                        "capacity",
                        "probe acc",
                        "numerical rank",
                        "normalised rank",
                        "rank at init",
                        "srank (δ=0.01)",
                    ],
                    [
                        [
                            r["layer"],
                            r["dim"],
                            capacity(r["dim"], m.get("n_test"), mf),
                            r["probe_acc"],
                            r["numerical_rank"],
                            r["numerical_rank"] / capacity(r["dim"], m.get("n_test"), mf),
                            r0.get("numerical_rank", ""),
                            r["srank"],
                        ]
                        for r, r0 in zip(m["probes"][epoch], init_rows)
                    ],
                ),
            )
        )
    sections.append(
        (
            "Method",
            (
                f"Each model trained {cfg['epochs']} epochs (Adam, cross-entropy). Representations are "
                "each block's post-ReLU output, flattened, read in eval mode (the paper's code probes with the "
                "backbone in train mode). Numerical rank: eigenvalues of the test features' covariance above "
                f"ε·λ_max, ε = {cfg['rank_tol']}; normalised rank: rank / min(n_test − 1, dim, "
                f"{mf or 'all'} features), the largest rank the layer can have, so layers of different widths "
                "compare. Control: the same network at initialisation (same init seed, BatchNorm statistics "
                "of the training inputs). Probe accuracy: linear classifier fitted on the training split's "
                "frozen features, scored on the test split. Each run holds one seed, so every claim here is "
                "inconclusive alone (n = 1); `replab sweep tunnel --seeds 5` and `replab ledger` decide them "
                "across seeds. The paper's results are qualitative (VGG-19/ResNet-34/MLPs on CIFAR-10/100); no "
                "per-layer numbers were recovered to compare against."
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
        for key in ("tunnel_length", "tunnel_fraction", "saturation_layer", "best_probe_acc"):
            summary[f"{n}/{key}"] = float(s[key])
        summary[f"{n}/norm_rank_ratio"] = float(s["rank_ratio"])
        summary[f"{n}/test_acc"] = float(models[n]["test_acc"])
    return Report(
        title="Tunnel effect",
        checks=checks,
        sections=sections,
        figures=figures,
        summary=summary,
    )
