"""The atari100k report: measured scores beside the thesis's Efficient Rainbow and CURL columns, HNS."""

from __future__ import annotations

import numpy as np

from replab.envs.atari_scores import SCORES, hns, hns_summary
from replab.experiments.discrete._report import accounting, curves_figure, finals, mean_std
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

COLUMNS = (  # (label, source): thesis reference columns first, then ours
    ("Eff. Rainbow (thesis)", "eff_rainbow"),
    ("CURL (thesis)", "curl"),
    ("Rainbow (ours)", "rainbow"),
    ("CURL (ours)", "ours_curl"),
)


def _hns_table(games: list[str], per_game: dict) -> dict[str, dict[str, float]]:
    """{column source: {game: HNS}} for the thesis columns and our per-game means (games we ran)."""
    out: dict[str, dict[str, float]] = {src: {} for _, src in COLUMNS}
    for game in games:
        ref, ours = SCORES[game], per_game.get(game, {})
        out["eff_rainbow"][game] = hns(game, ref["eff_rainbow"])
        out["curl"][game] = hns(game, ref["curl"])
        for method, src in (("rainbow", "rainbow"), ("curl", "ours_curl")):
            if ours.get(method):
                out[src][game] = hns(game, float(np.mean(ours[method])))
    return out


def hns_figure(games: list[str], table: dict[str, dict[str, float]], steps: int) -> Figure:
    """Grouped bars: HNS per game of the two thesis columns and our two agents."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(games) + 1.5), 3.4))
    width = 0.8 / len(COLUMNS)
    x = np.arange(len(games))
    for i, (label, src) in enumerate(COLUMNS):
        vals = [table[src].get(g, np.nan) for g in games]
        ax.bar(
            x + (i - (len(COLUMNS) - 1) / 2) * width, vals, width, label=label, hatch="" if i < 2 else "//"
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, games, rotation=30 if len(games) > 6 else 0)
    ax.set_ylabel("human-normalised score")
    ax.set_title(f"ours at {steps:,} agent steps ({4 * steps:,} frames); thesis at 100k")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return Figure(
        "hns",
        fig,
        "Human-normalised score per game: the thesis's Efficient Rainbow and CURL (Table 3.2, 100k agent "
        f"steps) beside our mean over seeds at {steps:,} agent steps (hatched).",
    )


def report(results: dict) -> Report:
    cfg = results["config"]
    games, methods, steps = list(cfg["games"]), list(cfg["methods"]), cfg["agent_steps"]
    per_game = finals(results)
    table = _hns_table(games, per_game)
    rows, wins, decided, summary = [], 0, 0, {}
    for game in games:
        g, ref = per_game.get(game, {}), SCORES[game]
        rb, cu = g.get("rainbow", []), g.get("curl", [])
        if rb and cu:
            decided += 1
            wins += int(np.mean(cu) >= np.mean(rb))
        row = [game, ref["random"], ref["human"], ref["eff_rainbow"], ref["curl"], mean_std(rb), mean_std(cu)]
        row += [table[src].get(game, float("nan")) for _, src in COLUMNS]
        rows.append(row)
        for m, xs in (("rainbow", rb), ("curl", cu)):
            if xs:
                summary[f"{game}/{m}"] = float(np.mean(xs))
                summary[f"{game}/{m}_hns"] = hns(game, float(np.mean(xs)))
    for stat, fn in (("median", np.median), ("mean", np.mean)):
        row = [f"**{stat} HNS** ({len(games)} games)", "", "", "", "", "", ""]
        for _, src in COLUMNS:
            vals = list(table[src].values())
            row.append(float(fn(vals)) if len(vals) == len(games) else float("nan"))
        rows.append(row)
    ours_curl = [table["ours_curl"][g] for g in games if g in table["ours_curl"]]
    pub_rainbow = [table["eff_rainbow"][g] for g in games if g in table["ours_curl"]]
    full = steps >= 100_000 and cfg["max_frames"] >= 108_000
    med_ours = float(np.median(ours_curl)) if ours_curl else float("nan")
    med_pub = float(np.median(pub_rainbow)) if pub_rainbow else float("nan")
    summary["curl_wins"] = float(wins)
    summary["median_hns/curl"] = med_ours
    checks = [
        Check(
            "measured CURL >= measured Rainbow on more than half of the games",
            (wins > decided / 2) if decided else None,
            f"CURL >= Rainbow on {wins} of {decided} games at {steps:,} agent steps ({4 * steps:,} frames)",
        ),
        Check(
            "at 100k agent steps: measured CURL median HNS >= published Efficient Rainbow median HNS",
            (med_ours >= med_pub) if full and ours_curl else None,
            f"{med_ours:.3f} vs {med_pub:.3f} on {len(ours_curl)} games"
            + ("" if full else f" (not decided: the budget is {steps:,} agent steps, not 100k)"),
        ),
    ]
    headers = ["game", "random", "human", "Eff. Rainbow (thesis)", "CURL (thesis)", "Rainbow (ours)"]
    headers += ["CURL (ours)"] + [f"HNS {label}" for label, _ in COLUMNS]
    med26 = {c: hns_summary(c) for c in ("eff_rainbow", "curl")}
    capped = cfg["max_frames"] < 108_000
    sections = [
        (
            "Per-game scores",
            f"**100k agent steps = 400k frames** (frame skip 4). Ours: mean ± std over seeds of the mean score "
            f"of {cfg['eval_episodes']} evaluation games at **{steps:,} agent steps = {4 * steps:,} frames**; the "
            "thesis columns are at 100k agent steps (CURL: mean of 20 seeds). HNS = (score − random) / "
            "(human − random), reference scores from `replab.envs.atari_scores` (thesis Table 3.2); the last "
            "two rows summarise the games of this run. Over all 26 games the thesis reports median / mean "
            f"HNS {med26['eff_rainbow'][0]:.3f} / {med26['eff_rainbow'][1]:.3f} (Eff. Rainbow) and "
            f"{med26['curl'][0]:.3f} / {med26['curl'][1]:.3f} (CURL)."
            + (
                f"\n\n**Episodes were capped at {cfg['max_frames']:,} frames (the protocol: 108,000)**: these "
                "scores are not comparable with the thesis columns."
                if capped
                else ""
            )
            + "\n\n"
            + markdown_table(headers, rows),
        ),
        (
            "Protocol",
            "Frame skip 4 with max-pooling of the last two frames, 84×84 grayscale, 4 stacked frames, no sticky "
            f"actions, up to {cfg['noop_max']} no-op starts, {cfg['max_frames']:,}-frame episode cap, life loss "
            "terminal in training only, scores summed over all lives, rewards clipped to ±1 for learning only.",
        ),
        ("Accounting and cost", accounting(results)),
    ]
    figures = [hns_figure(games, table, steps)]
    if any(len(r["evals"]) > 1 for r in results["done"].values()):
        curves = curves_figure(results, games, methods)
        for ax, game in zip(curves.figure.axes, games):  # the thesis's 100k-step scores as reference lines
            for col, ls in (("eff_rainbow", ":"), ("curl", "--")):
                ax.axhline(SCORES[game][col], color="gray", ls=ls, lw=1, label=f"{col} (thesis, 100k)")
            ax.legend(fontsize=7)
        curves.caption += " Dotted / dashed: the thesis's Eff. Rainbow / CURL at 100k agent steps."
        figures.append(curves)
    return Report(
        title="atari100k: Efficient Rainbow vs Rainbow + CURL",
        checks=checks,
        sections=sections,
        figures=figures,
        summary=summary,
    )
