"""The tunnel experiment's analysis: per-model statistics (extractor, tunnel, normalised rank) and the
claims decided from them by the shared rule. Pure functions of the results dict."""

from __future__ import annotations

import math
from collections import defaultdict

from replab.track.claims import paired
from replab.track.report import Check


def capacity(dim: int, n_test: int | None, max_features: int | None) -> int:
    """The largest numerical rank a layer can have: min(n − 1, D') with D' the features kept (seed002
    §1.6: "report rank normalised by min(n−1, D)"); without n (older results) min(D, max_features)."""
    cap = min(dim, max_features or dim)
    return min(cap, n_test - 1) if n_test else cap


def tunnel_stats(
    rows: list[dict], saturation_tol: float, n_test: int | None = None, max_features: int | None = None
) -> dict:
    """Split one model's per-layer curves into extractor and tunnel.

    The extractor ends at the first layer (1-based) whose probe accuracy is within `saturation_tol` of the
    best layer's; the tunnel is every layer after it. The normalised rank of a layer is its numerical rank
    over its capacity (`capacity`), so layers of different widths compare; `rank_ratio` is the last
    layer's normalised rank over the peak normalised rank (1: no fall).
    """
    acc = [r["probe_acc"] for r in rows]
    rank = [r["numerical_rank"] for r in rows]
    norm = [r["numerical_rank"] / capacity(r["dim"], n_test, max_features) for r in rows]
    depth, best = len(rows), max(acc)
    saturation = next(i for i, a in enumerate(acc, start=1) if a >= best - saturation_tol)
    two_thirds = max(1, (2 * depth) // 3)
    peak = max(norm)
    return {
        "depth": depth,
        "saturation_layer": saturation,
        "tunnel_length": depth - saturation,
        "tunnel_fraction": (depth - saturation) / depth,
        "best_probe_acc": best,
        "first_two_thirds_acc": max(acc[:two_thirds]),
        "last_probe_acc": acc[-1],
        "peak_rank": max(rank),
        "last_rank": rank[-1],
        "last_capacity": capacity(rows[-1]["dim"], n_test, max_features),
        "peak_norm_rank": peak,
        "last_norm_rank": norm[-1],
        "rank_ratio": norm[-1] / peak if peak else float("nan"),
    }


def rank_ratio(rows: list[dict], n_test: int | None, max_features: int | None) -> float:
    """The last layer's normalised rank over the peak normalised rank (rows need dim and numerical_rank)."""
    norm = [r["numerical_rank"] / capacity(r["dim"], n_test, max_features) for r in rows]
    return norm[-1] / max(norm) if max(norm) else float("nan")


def _describe(s: dict) -> str:
    return (
        f"saturates at layer {s['saturation_layer']}/{s['depth']} (probe acc {s['best_probe_acc']:.3f}); "
        f"rank {s['peak_rank']} → {s['last_rank']}; normalised rank {s['peak_norm_rank']:.3f} → "
        f"{s['last_norm_rank']:.3f} ({s['rank_ratio']:.2f}× peak)"
    )


def _groups(models: dict, vary: str) -> list[list[str]]:
    """Lists of models (≥ 2) identical except in `vary` ('depth' or 'classes'), sorted by it."""
    keys = {"depth": ("arch", "data", "classes"), "classes": ("arch", "depth", "data")}[vary]
    groups = defaultdict(list)
    for name, m in models.items():
        groups[tuple(m[k] for k in keys)].append(name)
    return [sorted(g, key=lambda n: models[n][vary]) for g in groups.values() if len(g) > 1]


PAPER = {
    "compression": "rank 'steeply reduced' in the tunnel (Fig. 1, VGG-19 on CIFAR-10; qualitative)",
    "early": "the rank in deep layers collapses within the first ~75 training steps (Fig. 6; qualitative)",
    "saturation": "probe accuracy flat across the tunnel (Fig. 1; seed002 §1.4; qualitative)",
    "rank_classes": "rank in the tunnel about the number of classes (≈ 10 for CIFAR-10; qualitative)",
    "depth": "the tunnel's length depends on capacity vs task complexity (seed002 §1.1; qualitative)",
    "classes": "CIFAR-100 gives a shorter tunnel than CIFAR-10 (seed002 §1.4; qualitative)",
}


def _models_final(results: dict) -> dict:
    cfg = results["config"]
    return {
        n: tunnel_stats(
            m["probes"][max(m["probes"], key=int)],
            cfg["saturation_tol"],
            m.get("n_test"),
            cfg.get("max_features"),
        )
        for n, m in results["models"].items()
    }


def decisions(results: dict) -> list:
    """The headline claims, each decided by the shared rule with units (seed, model) or (seed, series);
    a run holds one seed (index 0), so one run alone is inconclusive and the ledger pools a sweep."""
    cfg, models = results["config"], results["models"]
    final = _models_final(results)
    mf = cfg.get("max_features")
    has_init = all(m.get("init") for m in models.values())
    init = {n: rank_ratio(m["init"], m.get("n_test"), mf) for n, m in models.items()} if has_init else {}
    fall = 1 - cfg["rank_fall"]
    floor_label = "same net at initialisation"
    out = []

    def compression(ratios: dict, key: str, name: str):
        units = {(0, n): v for n, v in ratios.items()}
        return paired(
            units,
            dict.fromkeys(units, 1.0),
            min_effect=fall,
            direction="less",
            floor={(0, n): init[n] for n in ratios} if has_init else None,
            name=name,
            key=key,
            a_label="last / peak normalised rank",
            b_label="no fall (1)",
            floor_label=floor_label,
            paper=PAPER[key],
        )

    out.append(
        compression(
            {n: s["rank_ratio"] for n, s in final.items()},
            "compression",
            f"later layers compress: last-layer normalised rank ≤ {cfg['rank_fall']:g} × the peak",
        )
    )
    early = {}
    for n, m in models.items():
        first, last = min(m["probes"], key=int), max(m["probes"], key=int)
        if first != last:
            early[n] = rank_ratio(m["probes"][first], m.get("n_test"), mf)
    if early:
        epochs = sorted({min(m["probes"], key=int) for m in models.values()}, key=int)
        out.append(
            compression(
                early,
                "early",
                f"the compression is there after epoch {'/'.join(epochs)}: normalised rank ≤ "
                f"{cfg['rank_fall']:g} × the peak",
            )
        )
    tol = cfg["saturation_tol"]
    a = {(0, n): s["first_two_thirds_acc"] for n, s in final.items()}
    out.append(
        paired(
            a,
            {(0, n): s["best_probe_acc"] - tol for n, s in final.items()},
            min_effect=0.0,
            direction="greater",
            floor={(0, n): 1 / models[n]["classes"] for n in final},
            name=f"probe accuracy saturates before the last third: within {tol:g} of the best layer",
            key="saturation",
            a_label="probe acc, first ⅔ of layers",
            b_label=f"(best layer − {tol:g})",
            floor_label="chance (1/K)",
            paper=PAPER["saturation"],
        )
    )
    factor = cfg.get("rank_classes_factor", 2.0)
    fits = {n: s for n, s in final.items() if s["last_capacity"] > factor * models[n]["classes"]}
    if fits:
        out.append(
            paired(
                {(0, n): _log2(s["last_rank"] / models[n]["classes"]) for n, s in fits.items()},
                {(0, n): math.log2(factor) for n in fits},
                min_effect=0.0,
                direction="less",
                floor=(
                    {
                        (0, n): _log2(models[n]["init"][-1]["numerical_rank"] / models[n]["classes"])
                        for n in fits
                    }
                    if has_init
                    else None
                ),
                name=f"last-layer rank within {factor:g}× the number of classes K (log2 rank / K)",
                key="rank_classes",
                a_label="log2(last rank / K)",
                b_label=f"log2 {factor:g}",
                floor_label=floor_label,
                paper=PAPER["rank_classes"],
            )
        )
    m_len = cfg.get("min_length_effect", 0.1)
    for vary, key, first, word in (("depth", "depth", -1, "deepest"), ("classes", "classes", 0, "fewest")):
        groups = _groups(models, vary)
        if not groups:
            continue
        a, b = {}, {}
        for g in groups:
            hi, lo = (g[-1], g[0]) if first == -1 else (g[0], g[-1])
            task = f"{hi} vs {lo}"
            a[(0, task)] = final[hi]["tunnel_fraction"]
            b[(0, task)] = final[lo]["tunnel_fraction"]
        other = "shallowest" if vary == "depth" else "most classes"
        out.append(
            paired(
                a,
                b,
                min_effect=m_len,
                direction="greater",
                name=f"{'deeper' if vary == 'depth' else 'fewer classes'} → the tunnel is a larger "
                f"fraction of the layers (by ≥ {m_len:g})",
                key=key,
                a_label=f"tunnel fraction, {word}",
                b_label=f"tunnel fraction, {other}",
                paper=PAPER[key],
            )
        )
    return out


def _log2(x: float) -> float:
    return math.log2(x) if x > 0 else float("nan")


def analyse(results: dict) -> tuple[dict, list[Check]]:
    """Per-model statistics at the final epoch and the checks (all headline decisions)."""
    return _models_final(results), [d.check(headline=True) for d in decisions(results)]
