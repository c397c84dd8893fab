"""The plasticity-injection report: |ΔQ| and returns at T, the plasticity probe, final scores and the
plateau game; one figure per claim. A pure function of the results."""

from __future__ import annotations

import math

import numpy as np

from replab.track.claims import paired
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


DQ_TOL = 1e-5
"""|ΔQ| below which the outputs count as unchanged at injection (seed002 §2.6: < 1e-5)."""
RETURN_TOL = 1e-9
"""|return after T − return before T| below which the greedy returns count as the same: both are means of
sums of integer game rewards of the same seeded episodes, so an unchanged greedy policy scores exactly the
same; the tolerance only absorbs float formatting."""

# Registered minimum effects of results stored before they were in the config (`Config` holds them now).
DEFAULTS = {"score_gain": 0.1, "reset_drop": 0.75, "probe_gain": 0.05}


def claim1(g: dict, games: list[str], conds: list[str]) -> tuple[Check | None, Figure, list]:
    """The known-answer check (injection changes no output, hence no greedy action), the figure and rows.

    The baseline's returns before and after T are the check's control (issue 19): with no intervention
    they must agree, else the evaluation at T is not reproducible and a changed return says nothing
    about injection; the check then fails and names the baseline."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(games), figsize=(4.2 * len(games), 6), squeeze=False)
    rows, ok, parts = [], True, []
    injected = [c for c in ("inject", "grow") if c in conds]
    same_return = lambda r: abs(r["at_t"]["return_after"] - r["at_t"]["return_before"]) <= RETURN_TOL  # noqa: E731
    for j, game in enumerate(games):
        dq = {c: max(r["at_t"]["delta_q_max"] for r in g[game][c]) for c in conds}
        before = {c: mean(r["at_t"]["return_before"] for r in g[game][c]) for c in conds}
        after = {c: mean(r["at_t"]["return_after"] for r in g[game][c]) for c in conds}
        if injected:  # the control: no intervention, so the evaluation at T must reproduce
            same = all(same_return(r) for r in g[game]["baseline"])
            ok &= same
            if not same:
                parts.append(f"{game} baseline: returns differ (the evaluation at T is not reproducible)")
        for c in injected:
            same = all(same_return(r) for r in g[game][c])
            ok &= dq[c] < DQ_TOL and same
            parts.append(f"{game} {c}: max|ΔQ| {dq[c]:.2g}, returns {'identical' if same else 'differ'}")
        for c in conds:
            scale = mean(r["at_t"]["q_scale"] for r in g[game][c])
            rows.append([game, c, dq[c], scale, before[c], after[c]])
        ax = axes[0][j]
        ax.bar(conds, [max(dq[c], 1e-12) for c in conds], color="tab:blue")
        ax.set_yscale("log")
        ax.axhline(DQ_TOL, color="k", ls="--", lw=0.8)
        ax.set_title(f"{game}: max |ΔQ| at T (floor 1e-12)")
        ax = axes[1][j]
        x = np.arange(len(conds))
        ax.bar(x - 0.2, [before[c] for c in conds], 0.4, label="just before T")
        ax.bar(x + 0.2, [after[c] for c in conds], 0.4, label="just after T")
        ax.set_xticks(x, conds)
        ax.set_title(f"{game}: greedy return at T")
        ax.legend(fontsize=7)
    fig.tight_layout()
    check = None
    if injected:
        check = Check(
            f"injection leaves Q unchanged (max |ΔQ| < {DQ_TOL:g}, the same greedy return) in every run; "
            "the baseline's return at T reproduces (control)",
            ok,
            "; ".join(parts),
        )
    return check, Figure("claim1_at_injection", fig, "max |ΔQ| and return just before/after T"), rows


def claim2(g: dict, games: list[str], conds: list[str]) -> tuple[Figure, list]:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(games), figsize=(4.8 * len(games), 3.4), squeeze=False)
    rows = []
    for j, game in enumerate(games):
        base = g[game]["baseline"]
        at_t = {k: mean(r["probe_t"].get(k) for r in base) for k in ("fresh", "continue", "inject")}
        end_cont = mean(r["probe_end"]["continue"] for r in base)
        end_inj = mean(r["probe_end"].get("inject") for r in base)
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
    return Figure("claim2_probe", fig, "random-label probe loss reached from each network"), rows


def claim3(g: dict, games: list[str], conds: list[str], T: int) -> tuple[Figure, list, str]:
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
        rand = mean(r.get("random") for r in g[game]["baseline"])
        rows.append([game, rand, before, gains[game]] + [finals[c] for c in conds])
    axes[0][0].set_ylabel("evaluation score (mean over seeds)")
    fig.tight_layout()
    plateau = min(gains, key=gains.get)
    return Figure("claim3_curves", fig, "evaluation score vs agent steps; dotted: T"), rows, plateau


PAPER = {
    "claim": "injection raises the score where the agent lost plasticity; beats resets and scratch in "
    "aggregate (Atari 57, IQM not recovered)",
    "scratch": "injection avoids retraining from scratch (abstract; qualitative)",
    "reset_drop": "a reset causes a visible drop of the return at T (seed002 §2.6 expected finding 1)",
    "probe": "after injection the probe loss is lower (plasticity restored; seed002 §2.6 finding 2)",
}


def _units(g: dict, games: list[str], cond: str, value) -> dict:
    return {(r["seed"], game): value(r) for game in games for r in g[game][cond]}


def decisions(results: dict) -> list:
    """The headline claims, decided by the shared rule with units (seed, game): the run's seeds, pooled
    across runs by the ledger."""
    cfg = results["config"]
    games, g = list(cfg["games"]), by(results)
    conds = [c for c in cfg["conditions"] if all(c in g.get(game, {}) for game in games)]
    if not games or any(game not in g for game in games) or "baseline" not in conds:
        return []
    sg = cfg.get("score_gain", DEFAULTS["score_gain"])
    gain = math.log1p(sg)
    base = {(r["seed"], game): r for game in games for r in g[game]["baseline"]}
    has_random = all(r.get("random") is not None for r in base.values())
    floor = {k: math.log1p(r["random"]) for k, r in base.items()} if has_random else None
    final = lambda r: math.log1p(max(r["final"], 0.0))  # noqa: E731
    out = []
    for other, key in (("baseline", "claim"), ("scratch", "scratch")):
        if "inject" in conds and other in conds:
            out.append(
                paired(
                    _units(g, games, "inject", final),
                    _units(g, games, other, final),
                    min_effect=gain,
                    direction="greater",
                    floor=floor,
                    name=f"injection ends above {other}: log(1 + final score) higher by ≥ log {1 + sg:g}",
                    key=key,
                    a_label="inject",
                    b_label=other,
                    floor_label="random policy",
                    paper=PAPER[key],
                )
            )
    if "reset" in conds:
        drop = cfg.get("reset_drop", DEFAULTS["reset_drop"])
        out.append(
            paired(
                _units(g, games, "reset", lambda r: math.log1p(max(r["at_t"]["return_before"], 0.0))),
                _units(g, games, "reset", lambda r: math.log1p(max(r["at_t"]["return_after"], 0.0))),
                min_effect=-math.log(drop),
                direction="greater",
                floor=floor,
                name=f"a head reset drops the return at T: log(1 + return) before − after > log(1 / {drop:g})",
                key="reset_drop",
                a_label="before T",
                b_label="after the reset",
                floor_label="random policy",
                paper=PAPER["reset_drop"],
            )
        )
    if all("inject" in r["probe_end"] for r in base.values()):
        chance = (
            {k: math.log(r["n_actions"]) for k, r in base.items()}
            if all("n_actions" in r for r in base.values())
            else None
        )
        out.append(
            paired(
                {k: r["probe_end"]["inject"] for k, r in base.items()},
                {k: r["probe_end"]["continue"] for k, r in base.items()},
                min_effect=cfg.get("probe_gain", DEFAULTS["probe_gain"]),
                direction="less",
                effect="ratio",
                floor=chance,
                name="after injection the network fits new random labels better (probe loss at the end)",
                key="probe",
                a_label="inject, then fit",
                b_label="continue",
                floor_label="chance ln |A|",
                paper=PAPER["probe"],
            )
        )
    return out


def report(results: dict) -> Report:
    cfg = results["config"]
    games, g = list(cfg["games"]), by(results)
    conds = [c for c in cfg["conditions"] if all(c in g.get(game, {}) for game in games)]
    rep = Report("")
    if not games or any(game not in g for game in games) or "baseline" not in conds:
        rep.checks.append(Check("jobs finished", None, "not every game has a finished baseline"))
        return rep
    c1, f1, rows1 = claim1(g, games, conds)
    f2, rows2 = claim2(g, games, conds)
    f3, rows3, plateau = claim3(g, games, conds, int(cfg["inject_step"]))
    if c1 is not None:
        rep.checks.append(c1)
    rep.checks += [d.check(headline=True) for d in decisions(results)]
    rep.figures += [f1, f2, f3]
    rep.sections.append(("At T (mean over seeds; |ΔQ| the max over seeds)", markdown_table(
        ["game", "condition", "max |ΔQ|", "mean |Q|", "return before", "return after"], rows1)))  # fmt: skip
    rep.sections.append(("Plasticity probe (mean final loss on random-label tasks)", markdown_table(
        ["game", "T: fresh net", "T: continue", "T: inject", "end: continue", "end: inject"]
        + [f"end: {c} run" for c in conds], rows2)))  # fmt: skip
    rep.sections.append(("Final scores (mean over seeds)", markdown_table(
        ["game", "random policy", "baseline return at T", "baseline gain after T"] + conds, rows3)
        + f"\n\nThe game whose baseline gained least after T (the source's plateau game): {plateau}. The "
        "claims are decided over every game, paired by seed; with fewer than 5 seeds (DEFAULT: 2 per run) "
        "they are inconclusive in one run, and `replab ledger` pools the runs of a sweep."))  # fmt: skip
    done = list(results["done"].values())
    macs = {c: mean(r["macs"] for r in done if r["condition"] == c) for c in conds}
    train_cpu = {c: mean(r["train_cpu_seconds"] for r in done if r["condition"] == c) for c in conds}
    rep.sections.append(("Compute", markdown_table(
        ["condition", "forward multiply-adds per state (end)", "trainable params (end)", "train CPU s (mean)"],
        [[c, macs[c], mean(r["trainable"] for r in done if r["condition"] == c), train_cpu[c]] for c in conds],
    ) + "\n\nEvery condition makes the same number of updates; injected heads add two head forward passes "
        "per update. 'scratch' re-initialises the whole network at T and trains it on the same replay."))  # fmt: skip
    for row in rows3:
        for c, v in zip(conds, row[4:]):
            rep.summary[f"{row[0]}/{c}/final"] = float(v)
    for row in rows1:
        rep.summary[f"{row[0]}/{row[1]}/delta_q_max"] = float(row[2])
    for row in rows2:
        rep.summary[f"{row[0]}/probe_end_continue"] = float(row[4])
        rep.summary[f"{row[0]}/probe_end_inject"] = float(row[5])
    rep.summary["plateau_game_index"] = float(games.index(plateau))
    return rep
