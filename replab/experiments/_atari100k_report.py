"""The atari100k report: measured scores beside the thesis's Efficient Rainbow and CURL columns, HNS."""

from __future__ import annotations

import numpy as np

from replab.envs.atari_scores import SCORES, hns
from replab.experiments._discrete_report import accounting, curves_figure, finals, mean_std
from replab.track.report import Check, Report, markdown_table


def report(results: dict) -> Report:
    from replab.experiments.atari100k import EXPERIMENT

    cfg = results["config"]
    games, methods, steps = list(cfg["games"]), list(cfg["methods"]), cfg["agent_steps"]
    per_game = finals(results)
    rows, wins, decided, summary = [], 0, 0, {}
    ours_curl_hns, pub_rainbow_hns = [], []
    for game in games:
        g, ref = per_game.get(game, {}), SCORES[game]
        rb, cu = g.get("rainbow", []), g.get("curl", [])
        if rb and cu:
            decided += 1
            wins += int(np.mean(cu) >= np.mean(rb))
        row = [game, ref["random"], ref["human"], ref["eff_rainbow"], ref["curl"], mean_std(rb), mean_std(cu)]
        row += [hns(game, np.mean(xs)) if xs else float("nan") for xs in (rb, cu)]
        rows.append(row)
        for m, xs in (("rainbow", rb), ("curl", cu)):
            if xs:
                summary[f"{game}/{m}"] = float(np.mean(xs))
                summary[f"{game}/{m}_hns"] = hns(game, float(np.mean(xs)))
        if cu:
            ours_curl_hns.append(hns(game, float(np.mean(cu))))
            pub_rainbow_hns.append(hns(game, ref["eff_rainbow"]))
    full = steps >= 100_000
    med_ours = float(np.median(ours_curl_hns)) if ours_curl_hns else float("nan")
    med_pub = float(np.median(pub_rainbow_hns)) if pub_rainbow_hns else float("nan")
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
            (med_ours >= med_pub) if full and ours_curl_hns else None,
            f"{med_ours:.3f} vs {med_pub:.3f} on {len(ours_curl_hns)} games"
            + ("" if full else f" (not decided: the budget is {steps:,} agent steps, not 100k)"),
        ),
    ]
    headers = [
        "game",
        "random",
        "human",
        "Eff. Rainbow (thesis)",
        "CURL (thesis)",
        "Rainbow (ours)",
        "CURL (ours)",
    ]
    sections = [
        (
            "Per-game scores",
            f"Ours: mean ± std over seeds of the mean score of {cfg['eval_episodes']} evaluation games at "
            f"{steps:,} agent steps = {4 * steps:,} frames (the thesis columns are at 100k agent steps, 20 seeds "
            "for CURL). HNS = (score − random) / (human − random), reference scores from "
            "`replab.envs.atari_scores` (thesis Table 3.2).\n\n"
            + markdown_table([*headers, "HNS Rainbow (ours)", "HNS CURL (ours)"], rows),
        ),
        (
            "Protocol",
            "Frame skip 4 with max-pooling of the last two frames, 84×84 grayscale, 4 stacked frames, no sticky "
            f"actions, up to {cfg['noop_max']} no-op starts, {cfg['max_frames']:,}-frame episode cap, life loss "
            "terminal in training only, scores summed over all lives, rewards clipped to ±1 for learning only.",
        ),
        ("Accounting and cost", accounting(results)),
    ]
    has_curves = any(len(r["evals"]) > 1 for r in results["done"].values())
    return Report(
        title="atari100k: Efficient Rainbow vs Rainbow + CURL",
        claim=EXPERIMENT.claim,
        source=EXPERIMENT.source,
        checks=checks,
        sections=sections,
        figures=[curves_figure(results, games, methods)] if has_curves else [],
        summary=summary,
    )
