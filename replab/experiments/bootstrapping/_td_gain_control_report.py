"""The `control` arm's part of the `td-gain` report: control beside Q-learning policy evaluation (`ql`), the
thesis's Fig 3.8 ("while Q-Learning does not have as strong a gain as the regressions from Figure 3.7, it
has a larger gain than policy evaluation"), paired by seed. Descriptive: no registered minimum effect, not
decided by the shared rule (the headline stays `mc` > `ql`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from replab.track.report import Figure, Report, markdown_table

PAPER_CONTROL = "Fig 3.8: Q-learning control's gain (full lines) larger than policy evaluation's (dashed)"

LAST_EPISODES = 10
"""Episodes averaged for the agent's final score."""


def last_return(unit: dict) -> float:
    """Mean undiscounted return of the control agent's last `LAST_EPISODES` finished episodes."""
    ep = unit.get("episodes") or []
    return float(np.mean([e[1] for e in ep[-LAST_EPISODES:]])) if ep else float("nan")


def add_control(
    rep: Report,
    res: dict,
    cfg: dict,
    per_seed: Callable[..., dict[int, float]],
    fmt: Callable[[list[float]], str],
) -> None:
    """The section 'Control vs policy evaluation' and the agent's learning curve, when `control` ran.
    `per_seed(arm, name=None)` gives {seed: near-band value} of the td-gain report (`name` a curve, default
    the gain in the configured loss); `fmt` formats a list of values as mean ± sd."""
    seeds = [s for s in range(int(cfg["seeds"])) if f"control/s{s}" in res]
    if not seeds:
        return
    units = [res[f"control/s{s}"] for s in seeds]
    sched = units[0]["schedule"]
    loss = "Q-learning" if cfg["gain_loss"] == "ql" else "own"
    other = "gain_own" if cfg["gain_loss"] == "ql" else "gain_ql"
    c, q = per_seed("control"), per_seed("ql")
    co, qo = per_seed("control", name=other), per_seed("ql", name=other)
    cc, qc = per_seed("control", name="cosine"), per_seed("ql", name="cosine")
    rows, diffs = [], []
    for s, u in zip(seeds, units):
        d = c[s] - q[s] if s in q else float("nan")
        diffs.append(d)
        rows.append(
            [s, f"{c[s]:.3g}", f"{q[s]:.3g}" if s in q else "–", f"{d:+.3g}" if s in q else "–",
             f"{co[s] - qo[s]:+.3g}" if s in qo else "–", f"{cc[s] - qc[s]:+.3g}" if s in qc else "–",
             len(u["episodes"]), f"{last_return(u):.1f}"]
        )  # fmt: skip
    paired = [x for x in diffs if np.isfinite(x)]
    verdict = (
        f"control − ql, near gain ({loss} loss), paired over {len(paired)} seed(s): {fmt(paired)}; "
        f"control > ql in {sum(x > 0 for x in paired)} of {len(paired)}."
        if paired
        else "No `ql` arm ran beside it: add `ql` to objectives for the pairing."
    )
    rep.sections.append(
        (
            "Control vs policy evaluation (Fig 3.8)",
            "`control`: Q-learning control (eq. 3.17, max bootstrap, θ̄ copied every "
            f"{cfg['target_every']}) learning from scratch on the task's env, one update per env step after "
            f"{sched['warmup_env_steps']} env steps, acting ε-greedily with its own Q (ε = "
            f"{sched['eps_start']:g} → {sched['eps_final']:g} over {sched['decay_updates']} updates: our "
            "schedule, the thesis gives none), replay of its own transitions with trajectory ids (the last "
            f"{cfg['transitions']} rows sampled), the same network, initialisation, Adam, lr, batch, γ and "
            "gain probe as the other arms, the probe's update samples and neighbours on its own replay "
            "(`ql`: on the expert buffer). Its table row's MSE to G is on its replay's terminated episodes. "
            f"Descriptive, paired by seed, not decided by the rule. The thesis: {PAPER_CONTROL}.\n\n"
            f"{verdict}\n\n"
            + markdown_table(
                [
                    "seed",
                    "control near gain",
                    "ql near gain",
                    "control − ql",
                    f"control − ql, {'own' if loss == 'Q-learning' else 'QL'} loss",
                    "near cosine, control − ql",
                    "episodes",
                    f"return, last {LAST_EPISODES}",
                ],
                rows,
            ),
        )  # fmt: skip
    )
    if paired:
        rep.summary["control_minus_ql/near_gain"] = float(np.mean(paired))
    rep.figures.append(_episodes_figure(res, seeds))


def _episodes_figure(res: dict, seeds: list[int]) -> Figure:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.4), constrained_layout=True)
    for s in seeds:
        ep = np.array(res[f"control/s{s}"]["episodes"], float).reshape(-1, 2)
        if len(ep):
            ax.plot(ep[:, 0], ep[:, 1], lw=0.8, label=f"seed {s}")
    ax.set_xlabel("env step")
    ax.set_ylabel("episode return")
    ax.legend(fontsize=7)
    caption = "The control agent's undiscounted return of each finished episode (ε-greedy behaviour)."
    return Figure("control_episodes", fig, caption)
