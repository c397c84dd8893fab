"""Report of the BoTNet experiment: counts beside Table 5.1 and mini-model accuracies (Table 5.4 shape)."""

from __future__ import annotations

import math

from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

# Table 5.1 (params in millions, M.Adds in 10^9 at 1024×1024) and footnote 9 (R101, R152; BoT50 "121" there
# contradicts Table 5.1 and is not used). Values as printed, with their number of decimals.
PAPER_PARAMS = {"R50": (25.5, 1), "BoT50": (20.8, 1)}
PAPER_MACS = {"R50": (85.4, 1), "BoT50": (102.98, 2), "R101": (162.99, 2), "R152": (240.56, 2)}
LABELS = {
    "resnet": "ResNet (3×3 convs)",
    "bot": "BoT: qkᵀ + qrᵀ_rel",
    "bot-s1": "BoT-S1",
    "bot-qk": "qkᵀ only",
    "bot-qr": "qrᵀ_rel only",
    "bot-abs": "qkᵀ + qrᵀ_abs",
}
CHANCE, LEARNED_MARGIN = 0.1, 0.05  # chance = the most frequent class's share, 0.10 for "sum" and "add"
MIN_EFFECT = 0.02
"""Registered: see `Config.min_effect`."""
ABLATIONS = (  # (A, B, key, name); the first is the headline
    (
        "bot-qr",
        "bot-qk",
        "claim",
        "qrᵀ_rel only beats qkᵀ only (position logits matter more than content logits)",
    ),
    ("bot", "bot-qk", "rel_plus_qk_vs_qk", "qkᵀ + qrᵀ_rel beats qkᵀ only (position logits matter)"),
    ("bot", "bot-abs", "rel_vs_abs", "relative beats absolute position (qkᵀ + qrᵀ_rel vs qkᵀ + qrᵀ_abs)"),
    ("bot", "resnet", "bot_vs_resnet", "mini BoT beats mini ResNet at equal budget (Table 5.5 direction)"),
)
BG_TEXT = {
    "texture": "random size, place and colour on a textured background",
    "plain": "random size, place and colour on a plain noisy background",
    "clean": "white on black at fixed places (one per half)",
}
TASK_TEXT = {"sum": "(d₁ + d₂) mod 10", "add": "d₁ + d₂ (19 classes)"}
PAPER_AP = {"resnet": 42.1, "bot": 43.6, "bot-qk": 42.7, "bot-qr": 43.1, "bot-abs": 42.5}  # Table 5.4 AP^bb


def report(results: dict) -> Report:
    size = results["count_size"]
    with_fc, digits = results.get("count_classifier", True), results.get("paper_digits", "round")
    rows, by = [], {r["model"]: r for r in results["counts"]}
    macs_ok, params_ok = [], []
    for r in results["counts"]:
        name, gmacs = r["model"], _gmacs(r, with_fc)
        m_wo = (r["params"] - r["position_params"]) / 1e6
        pm, pp = PAPER_MACS.get(name), PAPER_PARAMS.get(name)
        m_ok = p_ok = None
        if pm and size == 1024:
            m_ok = _shorten(gmacs, pm[1], digits) == pm[0]
            macs_ok.append(m_ok)
        if pp:  # the thesis prints parameters truncated to 0.1 M, without the position tables
            p_ok = math.floor(m_wo * 10) / 10 == pp[0]
            params_ok.append(p_ok)
        rows.append(
            [
                name,
                f"{r['params']:,}",
                f"{r['position_params']:,}",
                f"{m_wo:.3f}",
                f"{pp[0]}" if pp else "—",
                f"{gmacs:.4f}",
                f"{_shorten(gmacs, pm[1], digits):.{pm[1]}f}" if pm else "—",
                f"{pm[0]}" if pm else "—",
            ]
        )
    checks = []
    if size == 1024:
        checks.append(
            Check(
                "parameters of R50 and BoT50 match Table 5.1 (printed 25.5 M, 20.8 M)",
                all(params_ok),
                "; ".join(f"{n}: {(by[n]['params'] - by[n]['position_params']):,}" for n in PAPER_PARAMS),
            )
        )
        checks.append(
            Check(
                f"multiply-adds equal Table 5.1 / footnote 9 to the printed digit ({_convention(with_fc, digits)})",
                all(macs_ok),
                "; ".join(
                    f"{n}: {_gmacs(by[n], with_fc):.4f} → {_shorten(_gmacs(by[n], with_fc), PAPER_MACS[n][1], digits)}"
                    f" vs {PAPER_MACS[n][0]}"
                    for n in PAPER_MACS
                ),
            )
        )
    r50, b50 = by["R50"], by["BoT50"]
    pr = (r50["params"]) / (b50["params"] - b50["position_params"])
    mr = b50["macs"] / r50["macs"]
    checks.append(
        Check(
            "BoT50: 1.2× fewer parameters and 1.2× more multiply-adds than R50",
            round(pr, 1) == 1.2 and round(mr, 1) == 1.2,
            f"params ratio {pr:.3f}, multiply-add ratio {mr:.3f} at {size}²",
        )
    )
    sections = [
        (
            f"(a) Counts at {size}×{size}",
            markdown_table(
                [
                    "model",
                    "params",
                    "of which position tables",
                    "params w/o tables (M)",
                    "paper (M)",
                    "G multiply-adds",
                    "printed as",
                    "paper (G)",
                ],
                rows,
            )
            + f"\n\nConvention ({_convention(with_fc, digits)}): convolutions, linear layers and MHSA's q kᵀ, "
            "attn·v and relative logits (n·((2H−1) + (2W−1))·d); BN, activations and pooling are free. The MHSA "
            f"blocks cost {b50['mhsa_macs'] / 1e9:.2f} G of BoT50's multiply-adds (beyond their q/k/v 1×1 "
            "convs). The thesis's footnote 9 gives 121 G for BoT50, contradicting Table 5.1's 102.98 "
            "(spec §5 item 16).",
        ),
        (
            "Which counting convention the printed multiply-adds fit",
            _convention_table(by) if size == 1024 else "",
        ),
    ]

    units, task = results["units"], results.get("task", "sum")
    acc = {m: _range([u["test_acc"] for u in units if u["model"] == m]) for m in results["models"]}
    acc = {m: a for m, a in acc.items() if a["n"]}
    if acc:
        first = {u["model"]: u for u in units}
        mrows = [
            [
                LABELS[m],
                f"{a['mean']:.3f} [{a['low']:.3f}, {a['high']:.3f}]",
                _train_acc(units, m),
                a["n"],
                f"{first[m]['params']:,}",
                f"{first[m]['macs'] / 1e6:.1f}",
                f"{first[m]['sec_per_step']:.3f}",
                PAPER_AP.get(m, "—"),
            ]
            for m, a in acc.items()
        ]
        sections.append(
            (
                "(b) Mini models on glyph-digit pairs",
                markdown_table(
                    [
                        "model",
                        "test top-1 (mean [min, max] over seeds)",
                        "train top-1",
                        "seeds",
                        "params",
                        "M multiply-adds",
                        "s / step",
                        "paper AP^bb (Table 5.4)",
                    ],
                    mrows,
                )
                + f"\n\n{results['steps']} {results.get('optimizer', 'sgd').upper()} steps per model (peak lr "
                f"{results.get('lr', 0.1):g}, cosine), same data and budget; label = {TASK_TEXT[task]} of two "
                f"unseen-handwriting digit glyphs, {BG_TEXT[results.get('background', 'texture')]}; random "
                "±2 px shifts. Chance (the most frequent class) is 0.10 for both tasks. The ablation claims "
                f"compare test accuracy paired by seed, CI above {results.get('min_effect', MIN_EFFECT):g} "
                f"(registered minimum effect), after the better model beats chance + {LEARNED_MARGIN:g}.",
            )
        )
        checks += decide(results)
    figures = (
        [
            Figure(
                "mini_models",
                _figure(acc),
                "Test accuracy of the mini models (mean over seeds; whiskers: min and max over seeds).",
            )
        ]
        if acc
        else []
    )
    summary = {f"gmacs_{r['model']}": r["macs"] / 1e9 for r in results["counts"]}
    summary.update({f"acc_{m}": a["mean"] for m, a in acc.items()})
    return Report(
        title="BoTNet: counts and attention ablations",
        checks=checks,
        sections=sections,
        figures=figures,
        summary=summary,
    )


def decide(results: dict) -> list[Check]:
    """The Table 5.4 / 5.5 orderings of the mini models by the shared rule: test accuracy paired by seed,
    difference above `min_effect`, after A beats chance by LEARNED_MARGIN (a model at chance learned
    nothing, and comparing it tests nothing); the first is the headline."""
    models, m = results["models"], results.get("min_effect", MIN_EFFECT)
    acc = {x: {u["seed"]: u["test_acc"] for u in results["units"] if u["model"] == x} for x in models}
    checks = []
    for a, b, key, name in ABLATIONS:
        if not (acc.get(a) and acc.get(b)):
            continue
        seeds = acc[a].keys() & acc[b].keys()
        d = paired(
            {s: acc[a][s] for s in seeds},
            {s: acc[b][s] for s in seeds},
            min_effect=m,
            floor=CHANCE,
            floor_min_effect=LEARNED_MARGIN,
            name=name,
            key=key,
            a_label=LABELS[a],
            b_label=LABELS[b],
            floor_label="chance",
            paper=f"Table 5.4 / 5.5 AP^bb (COCO): {PAPER_AP[a]} vs {PAPER_AP[b]}",
        )
        checks.append(d.check(headline=key == "claim"))
    return checks


def _range(xs: list[float]) -> dict:
    """Mean and range over seeds (descriptive; the claims carry the CIs)."""
    if not xs:
        return {"n": 0}
    return {"n": len(xs), "mean": sum(xs) / len(xs), "low": min(xs), "high": max(xs)}


def _train_acc(units: list[dict], model: str) -> str:
    accs = [u["train_acc"] for u in units if u["model"] == model and "train_acc" in u]
    return f"{sum(accs) / len(accs):.3f}" if accs else "—"


def _gmacs(row: dict, with_fc: bool) -> float:
    return (row["macs"] - (0 if with_fc else row.get("classifier_macs", 0))) / 1e9


def _shorten(x: float, decimals: int, how: str) -> float:
    """x as the thesis would print it with `decimals` decimals: truncated or rounded."""
    scale = 10**decimals
    return (math.floor(x * scale + 1e-9) if how == "truncate" else round(x * scale)) / scale


def _convention(with_fc: bool, digits: str) -> str:
    done = {"truncate": "truncated", "round": "rounded"}[digits]
    return f"{'with' if with_fc else 'without'} the 1000-way classifier, {done}"


def _convention_table(by: dict) -> str:
    """Each of the four (classifier counted?, truncated/rounded) conventions against the printed values."""
    rows = []
    for with_fc in (True, False):
        for digits in ("round", "truncate"):
            cells = []
            for n, (v, dec) in PAPER_MACS.items():
                got = _shorten(_gmacs(by[n], with_fc), dec, digits)
                cells.append(f"{got:.{dec}f} {'✓' if got == v else '✗'}")
            rows.append([_convention(with_fc, digits), *cells])
    head = ["convention", *(f"{n} ({v})" for n, (v, _) in PAPER_MACS.items())]
    return (
        markdown_table(head, rows)
        + "\n\nTable 5.1 describes the detection backbone at 1024×1024 (no classifier); its parameters are the "
        "classification network's (25.5 M includes the classifier's 2.05 M) and are truncated, not rounded."
    )


def _figure(acc: dict):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.4))
    names = list(acc)
    means = [acc[m]["mean"] for m in names]
    err = [
        [max(0.0, acc[m]["mean"] - acc[m]["low"]) for m in names],
        [max(0.0, acc[m]["high"] - acc[m]["mean"]) for m in names],
    ]
    ax.bar(range(len(names)), means, yerr=err, capsize=3, color="tab:blue")
    ax.set_xticks(range(len(names)), [LABELS[m] for m in names], rotation=20, fontsize=8)
    ax.set_ylabel("test top-1")
    fig.tight_layout()
    return fig
