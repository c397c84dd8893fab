"""The plasticity-injection report: |ΔQ| and returns at T, the plasticity probe, final scores and the
plateau game; one figure per claim. A pure function of the results."""

from __future__ import annotations

import numpy as np

from replab.track.report import Check, Figure, Report, markdown_table, pyplot


def by(results: dict) -> dict[str, dict[str, list[dict]]]:
    """{game: {condition: [result per seed]}} of the finished jobs."""
    out: dict[str, dict[str, list[dict]]] = {}
    for r in sorted(results["done"].values(), key=lambda r: (r["game"], r["condition"], r["seed"])):
        out.setdefault(r["game"], {}).setdefault(r["condition"], []).append(r)
    return out


def mean(xs) -> float:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else float("nan")


def curve(runs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    steps = np.array([t for t, _ in runs[0]["evals"]])
    scores = np.array([[np.mean(s) for _, s in r["evals"]] for r in runs])
    return steps, scores.mean(0)


def claim1(g: dict, games: list[str], conds: list[str]) -> tuple[Check, Figure, list]:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(games), figsize=(4.2 * len(games), 6), squeeze=False)
    rows, dq_ok, drop_ok = [], True, True
    injected = [c for c in ("inject", "grow") if c in conds]
    for j, game in enumerate(games):
        dq = {c: max(r["at_t"]["delta_q_max"] for r in g[game][c]) for c in conds}
        before = {c: mean(r["at_t"]["return_before"] for r in g[game][c]) for c in conds}
        after = {c: mean(r["at_t"]["return_after"] for r in g[game][c]) for c in conds}
        dq_ok &= all(dq[c] < 1e-5 for c in injected)
        if "reset" in conds:
            drop_ok &= after["reset"] < 0.75 * before["reset"]
        for c in conds:
            scale = mean(r["at_t"]["q_scale"] for r in g[game][c])
            rows.append([game, c, dq[c], scale, before[c], after[c]])
        ax = axes[0][j]
        ax.bar(conds, [max(dq[c], 1e-12) for c in conds], color="tab:blue")
        ax.set_yscale("log")
        ax.axhline(1e-5, color="k", ls="--", lw=0.8)
        ax.set_title(f"{game}: max |ΔQ| at T (floor 1e-12)")
        ax = axes[1][j]
        x = np.arange(len(conds))
        ax.bar(x - 0.2, [before[c] for c in conds], 0.4, label="just before T")
        ax.bar(x + 0.2, [after[c] for c in conds], 0.4, label="just after T")
        ax.set_xticks(x, conds)
        ax.set_title(f"{game}: greedy return at T")
        ax.legend(fontsize=7)
    fig.tight_layout()
    measured = "; ".join(
        f"{r[0]} {r[1]}: max|ΔQ| {r[2]:.2g}, return {r[4]:.2f} → {r[5]:.2f}"
        for r in rows
        if r[1] != "baseline"
    )
    check = Check(
        "(1) injection leaves Q unchanged, a head reset drops the return", dq_ok and drop_ok, measured
    )
    return check, Figure("claim1_at_injection", fig, "max |ΔQ| and return just before/after T"), rows


def claim2(g: dict, games: list[str], conds: list[str]) -> tuple[Check, Figure, list]:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(games), figsize=(4.8 * len(games), 3.4), squeeze=False)
    rows, ok, parts = [], True, []
    for j, game in enumerate(games):
        base = g[game]["baseline"]
        at_t = {k: mean(r["probe_t"].get(k) for r in base) for k in ("fresh", "continue", "inject")}
        end_cont = mean(r["probe_end"]["continue"] for r in base)
        end_inj = mean(r["probe_end"].get("inject") for r in base)
        ok &= end_inj < end_cont
        parts.append(f"{game}: end continue {end_cont:.3f} vs inject-then-fit {end_inj:.3f} "
                     f"(at T {at_t['continue']:.3f} vs {at_t['inject']:.3f}; fresh net {at_t['fresh']:.3f})")  # fmt: skip
        own = {c: mean(r["probe_end"]["continue"] for r in g[game][c]) for c in conds}
        rows.append([game, at_t["fresh"], at_t["continue"], at_t["inject"], end_cont, end_inj]
                    + [own[c] for c in conds])  # fmt: skip
        labels = ["T: fresh", "T: continue", "T: inject", "end: continue", "end: inject"]
        labels += [f"end: {c} run" for c in conds if c != "baseline"]
        vals = [at_t["fresh"], at_t["continue"], at_t["inject"], end_cont, end_inj]
        vals += [own[c] for c in conds if c != "baseline"]
        ax = axes[0][j]
        ax.barh(
            labels, vals, color=["grey"] + ["tab:blue", "tab:orange"] * 2 + ["tab:green"] * (len(vals) - 5)
        )
        ax.invert_yaxis()
        ax.set_xlabel("probe loss after fitting (lower = more plastic)")
        ax.set_title(game)
    fig.tight_layout()
    check = Check("(2) after injection the plasticity probe improves", ok, "; ".join(parts))
    return check, Figure("claim2_probe", fig, "random-label probe loss reached from each network"), rows


def claim3(g: dict, games: list[str], conds: list[str], T: int) -> tuple[Check, Figure, list, str]:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(games), figsize=(4.2 * len(games), 3.2), squeeze=False)
    rows, gains = [], {}
    for j, game in enumerate(games):
        ax = axes[0][j]
        for c in conds:
            steps, m = curve(g[game][c])
            ax.plot(steps, m, label=c)
        ax.axvline(T, color="k", ls=":", lw=0.8)
        ax.set_title(game)
        ax.set_xlabel("agent steps")
        ax.legend(fontsize=7)
        finals = {c: mean(r["final"] for r in g[game][c]) for c in conds}
        before = mean(r["at_t"]["return_before"] for r in g[game]["baseline"])
        gains[game] = (finals["baseline"] - before) / max(abs(before), 1e-9)
        rows.append([game, before, gains[game]] + [finals[c] for c in conds])
    axes[0][0].set_ylabel("evaluation score (mean over seeds)")
    fig.tight_layout()
    plateau = min(gains, key=gains.get)
    finals = {c: mean(r["final"] for r in g[plateau][c]) for c in conds}
    held = finals.get("inject", np.nan) >= finals["baseline"]
    if "scratch" in conds:
        held = held and finals["inject"] >= finals["scratch"]
    measured = (
        f"plateau game {plateau} (baseline gain after T {gains[plateau]:+.0%}): final inject "
        f"{finals.get('inject', np.nan):.2f}, baseline {finals['baseline']:.2f}, scratch "
        f"{finals.get('scratch', np.nan):.2f}, grow {finals.get('grow', np.nan):.2f}, reset {finals.get('reset', np.nan):.2f}"
    )
    check = Check("(3) on the plateau game injection ends >= baseline and >= scratch", bool(held), measured)
    return check, Figure("claim3_curves", fig, "evaluation score vs agent steps; dotted: T"), rows, plateau


def report(results: dict) -> Report:
    cfg = results["config"]
    games, g = list(cfg["games"]), by(results)
    conds = [c for c in cfg["conditions"] if all(c in g.get(game, {}) for game in games)]
    rep = Report("")
    if not games or any(game not in g for game in games) or "baseline" not in conds:
        rep.checks.append(Check("jobs finished", None, "not every game has a finished baseline"))
        return rep
    c1, f1, rows1 = claim1(g, games, conds)
    c2, f2, rows2 = claim2(g, games, conds)
    c3, f3, rows3, plateau = claim3(g, games, conds, int(cfg["inject_step"]))
    if not any(c in conds for c in ("inject", "grow")) or "reset" not in conds:
        c1.held = None
    if "inject" not in conds:
        c3.held = None
    rep.checks += [c1, c2, c3]
    rep.figures += [f1, f2, f3]
    rep.sections.append(("At T (mean over seeds; |ΔQ| the max over seeds)", markdown_table(
        ["game", "condition", "max |ΔQ|", "mean |Q|", "return before", "return after"], rows1)))  # fmt: skip
    rep.sections.append(("Plasticity probe (mean final loss on random-label tasks)", markdown_table(
        ["game", "T: fresh net", "T: continue", "T: inject", "end: continue", "end: inject"]
        + [f"end: {c} run" for c in conds], rows2)))  # fmt: skip
    rep.sections.append(("Final scores (mean over seeds)", markdown_table(
        ["game", "baseline return at T", "baseline gain after T"] + conds, rows3)))  # fmt: skip
    done = list(results["done"].values())
    macs = {c: mean(r["macs"] for r in done if r["condition"] == c) for c in conds}
    train_cpu = {c: mean(r["train_cpu_seconds"] for r in done if r["condition"] == c) for c in conds}
    rep.sections.append(("Compute", markdown_table(
        ["condition", "forward multiply-adds per state (end)", "trainable params (end)", "train CPU s (mean)"],
        [[c, macs[c], mean(r["trainable"] for r in done if r["condition"] == c), train_cpu[c]] for c in conds],
    ) + "\n\nEvery condition makes the same number of updates; injected heads add two head forward passes "
        "per update. 'scratch' re-initialises the whole network at T and trains it on the same replay."))  # fmt: skip
    for row in rows3:
        for c, v in zip(conds, row[3:]):
            rep.summary[f"{row[0]}/{c}/final"] = float(v)
    for row in rows1:
        rep.summary[f"{row[0]}/{row[1]}/delta_q_max"] = float(row[2])
    for row in rows2:
        rep.summary[f"{row[0]}/probe_end_continue"] = float(row[4])
        rep.summary[f"{row[0]}/probe_end_inject"] = float(row[5])
    rep.summary["plateau_game_index"] = float(games.index(plateau))
    return rep
