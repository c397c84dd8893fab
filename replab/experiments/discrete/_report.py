"""Report pieces shared by curl-minatar and atari100k: per-game finals, per-(seed, game) units for the
decisions, the CURL-vs-TD gradient table, learning curves, accounting."""

from __future__ import annotations

import numpy as np

from replab.track.claims import paired
from replab.track.report import Figure, markdown_table, pyplot


def finals(results: dict) -> dict[str, dict[str, list[float]]]:
    """{game: {method: [final score per seed]}} from the finished jobs."""
    out: dict[str, dict[str, list[float]]] = {}
    for r in sorted(results["done"].values(), key=lambda r: (r["game"], r["method"], r["seed"])):
        out.setdefault(r["game"], {}).setdefault(r["method"], []).append(r["final"])
    return out


def per_unit(results: dict, transform) -> dict[str, dict[tuple, float]]:
    """{method: {(seed, game): transform(game, final score)}} from the finished jobs: the units a paired
    decision pairs across methods (both methods of a seed share its env seed and initial network)."""
    out: dict[str, dict[tuple, float]] = {}
    for r in results["done"].values():
        out.setdefault(r["method"], {})[(int(r["seed"]), r["game"])] = float(transform(r["game"], r["final"]))
    return out


def curl_vs_rainbow(units: dict[str, dict[tuple, float]], m: float, name: str, floor_label: str, paper: str):
    """The headline decision of both experiments: CURL vs Rainbow on normalised scores paired by (seed,
    game), floor 0 (the random policy), `m` the registered minimum effect of the claim and of the floor
    guard. None when no (seed, game) has both methods."""
    both = units.get("curl", {}).keys() & units.get("rainbow", {}).keys()
    if not both:
        return None
    return paired(
        {k: units["curl"][k] for k in both},
        {k: units["rainbow"][k] for k in both},
        min_effect=m,
        direction="greater",
        floor=0.0,
        floor_min_effect=m,
        name=name,
        a_label="curl",
        b_label="rainbow",
        floor_label=floor_label,
        paper=paper,
    )


def grad_probe_table(results: dict, games: list[str], note: str = "") -> str:
    """Markdown: per game and measurement step, ||∇_encoder c·L_CURL|| / ||∇_encoder L_TD|| over the CURL
    jobs' seeds (mean [min–max]), the two norms and CURL's contrastive accuracy (`_parts.grad_probe`)."""
    rows = []
    for game in games:
        jobs = [r for r in results["done"].values() if r["game"] == game and r.get("grad_probe")]
        for t in sorted({p["agent_steps"] for r in jobs for p in r["grad_probe"]}):
            ps = [p for r in jobs for p in r["grad_probe"] if p["agent_steps"] == t]
            ratio = [p["ratio"] for p in ps]
            rows.append(
                [
                    game,
                    f"{t:,}",
                    int(np.mean([p["updates"] for p in ps])),
                    len(ps),
                    ", ".join(f"{c:g}" for c in sorted({p["coef"] for p in ps})),
                    f"{np.mean(ratio):.3g} [{min(ratio):.3g}–{max(ratio):.3g}]",
                    float(np.mean([p["td_norm"] for p in ps])),
                    float(np.mean([p["curl_norm"] for p in ps])),
                    float(np.mean([p["curl_accuracy"] for p in ps])),
                ]
            )
    if not rows:
        return "Not measured (no CURL job, or results written before the measurement existed)."
    return (
        "Measured at each evaluation once updates have started, on 4 replay batches drawn without "
        "disturbing training: the norm of the CURL gradient (times its coefficient c) and of the TD "
        "gradient (importance-weighted, as in the update) over the online encoder's parameters, the conv "
        "both losses share. Ratio > 1: the CURL loss pulls harder on the encoder than the TD loss. Mean "
        f"over seeds [min–max]; a description, not a check.{note}\n\n"
        + markdown_table(
            [
                "game",
                "agent steps",
                "updates",
                "seeds",
                "c",
                "CURL / TD gradient norm",
                "TD norm",
                "c · CURL norm",
                "CURL accuracy",
            ],
            rows,
        )
    )


def mean_std(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{np.mean(xs):.2f} ± {np.std(xs):.2f} (n={len(xs)})"


def curves_figure(results: dict, games: list[str], methods: list[str], ylabel: str = "score") -> Figure:
    """Evaluation score vs agent steps per game: mean over seeds, min–max band."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(games), figsize=(4 * len(games), 3.2), squeeze=False)
    for ax, game in zip(axes[0], games):
        for method in methods:
            runs = [r for r in results["done"].values() if r["game"] == game and r["method"] == method]
            if not runs:
                continue
            steps = [t for t, _ in runs[0]["evals"]]
            vals = np.array(
                [[np.mean(s) for _, s in r["evals"]] for r in runs if len(r["evals"]) == len(steps)]
            )
            ax.plot(steps, vals.mean(0), marker="o", label=method)
            ax.fill_between(steps, vals.min(0), vals.max(0), alpha=0.2)
        ax.set_title(game)
        ax.set_xlabel("agent steps")
        ax.set_ylabel(ylabel)
        ax.legend()
    fig.tight_layout()
    return Figure(
        "curves", fig, "Evaluation score vs agent steps (mean over seeds, band: min–max over seeds)."
    )


def accounting(results: dict) -> str:
    """A markdown paragraph with the frame / env-step / agent-step counts and timings of the jobs."""
    done = list(results["done"].values())
    if not done:
        return "No job finished."
    c = done[0]["counters"]
    lines = [
        f"Each job: {c['agent_steps']:,} agent steps = {c['env_steps']:,} env steps; {c['frames']:,} emulator "
        f"frames simulated (Atari: no-op starts included); {c['updates']:,} gradient updates "
        f"({c['episodes']} agent episodes, {c['games']} scored games in training).",
        "",
        f"Replay: {done[0].get('replay', '-')}.",
        "",
    ]
    for method in sorted({r["method"] for r in done}):
        rs = [r for r in done if r["method"] == method]
        lines.append(
            f"- {method}: {np.mean([r['update_ms'] for r in rs]):.1f} ms per update, "
            f"{np.mean([r['act_env_ms'] for r in rs]):.2f} ms per agent step acting + env, "
            f"{np.mean([r['seconds'] for r in rs]):.0f} s wall / "
            f"{np.mean([r.get('cpu_seconds', float('nan')) for r in rs]):.0f} s CPU per job ({len(rs)} jobs)"
        )
    return "\n".join(lines)
