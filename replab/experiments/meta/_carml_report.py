"""The report of `carml`: a pure function of its results (`replab report RUN_ID` rebuilds it)."""

from __future__ import annotations

import numpy as np

from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

PAPER = "ViZDoom direct transfer 71% (Fixed) / 59% (Random) success in 4 episodes (thesis §4.4, Fig. 4.7a)"
SIZE = 9


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def cell_mi(states: np.ndarray, z: np.ndarray) -> float:
    """I(cell; z) in nats from the visited (x, y) cells of trajectories (N, T, 3) labelled z (N,)."""
    cells = states[..., 1] * SIZE + states[..., 0]
    pooled = np.bincount(cells.ravel(), minlength=SIZE * SIZE)
    h_cond = 0.0
    for k in np.unique(z):
        h_cond += (z == k).mean() * _entropy(np.bincount(cells[z == k].ravel(), minlength=SIZE * SIZE))
    return _entropy(pooled) - h_cond


def shuffled_mi(states: np.ndarray, z: np.ndarray, reps: int = 20) -> float:
    """I(cell; z) with the labels permuted (the finite-sample bias of the estimate), mean of `reps`."""
    rng = np.random.default_rng(0)
    return float(np.mean([cell_mi(states, rng.permutation(z)) for _ in range(reps)]))


def modes(states: np.ndarray) -> float:
    """Effective number of final cells: exp of the entropy of the last state's (x, y)."""
    final = states[:, -1, 1] * SIZE + states[:, -1, 0]
    return float(np.exp(_entropy(np.bincount(final, minlength=SIZE * SIZE))))


def diversity(skills: dict) -> dict:
    s, z = np.array(skills["state"]), np.array(skills["z"])
    cells = s[..., 1] * SIZE + s[..., 0]
    per = [len(np.unique(cells[z == k])) for k in np.unique(z)]
    return {
        "mi": cell_mi(s, z),
        "mi_shuffled": shuffled_mi(s, z),
        "modes": modes(s),
        "cells_per_component": float(np.mean(per)),
        "cells_total": len(np.unique(cells)),
    }


def _values(res: dict, seeds: int) -> dict:
    """{name: {seed: value}} of every measured quantity."""
    out: dict = {}

    def put(name, s, v):
        out.setdefault(name, {})[s] = float(v)

    for s in range(seeds):
        if b := res.get(f"baselines/{s}"):
            put("random_init", s, b["random_init"]["success"])
            put("uniform", s, b["uniform"]["success"])
        if o := res.get(f"oracle/{s}"):
            put("oracle", s, o["success"])
            put("oracle/gain", s, o["return_per_episode"][-1] - o["return_per_episode"][0])
        for m in ("carml", "discriminative"):
            if not (r := res.get(f"{m}/{s}")):
                continue
            put(m, s, r["iterations"][-1]["success"])
            put(f"{m}/early", s, r["iterations"][0]["success"])
            ret = r["iterations"][-1]["return_per_episode"]
            put(f"{m}/gain", s, ret[-1] - ret[0])
            last = max(r["skills"], key=int)
            d = diversity(r["skills"][last])
            for k, v in d.items():
                put(f"{m}/{k}", s, v)
    return out


def _decide(v, a, b, m, key, name, headline=False, floor=None, paper="", a_label=None, b_label=None):
    if a not in v or b not in v or (floor and floor not in v):
        return Check(name, None, f"needs {a} and {b}" + (f" and {floor}" if floor else "")), None
    seeds = sorted(set(v[a]) & set(v[b]) & (set(v[floor]) if floor else set(v[a])))
    if not seeds:
        return Check(name, None, "no seed with both measured"), None
    d = paired(
        {s: v[a][s] for s in seeds}, {s: v[b][s] for s in seeds}, min_effect=m, direction="greater",
        floor={s: v[floor][s] for s in seeds} if floor else None, name=name, key=key,
        a_label=a_label or a, b_label=b_label or b, floor_label=floor or "floor", paper=paper,
    )  # fmt: skip
    return d.check(headline=headline), d


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    seeds = int(cfg["seeds"])
    v = _values(res, seeds)
    rep = Report(title="CARML: direct transfer of self-supervised meta-RL (EgoRoom)")
    rows = []
    for name, label in (
        ("uniform", "uniform-random policy (floor)"),
        ("random_init", "random-init RL²"),
        ("carml/early", "CARML, iteration 1"),
        ("carml", f"CARML, iteration {cfg['iterations']}"),
        ("discriminative", "discriminative variant"),
        ("oracle", "oracle RL²"),
    ):
        if name in v:
            xs = list(v[name].values())
            rows.append([label, f"{np.mean(xs):.3f}", f"{np.std(xs):.3f}", len(xs)])
            rep.summary[f"success/{name.replace('/', '_')}"] = float(np.mean(xs))
    rep.sections.append(
        (
            "Direct-transfer success on held-out test tasks",
            f"{cfg['test_trials']} test trials of {cfg['episodes']} episodes × {cfg['steps']} steps in "
            f"'{cfg['room']}' rooms (target colours held out from training in random rooms); success = reaching "
            "distance ≤ 1 of the target in the last episode; no parameter updates. Mean and standard deviation "
            f"over seeds. Training: {cfg['iterations']} CARML iterations × {cfg['updates']} PPO updates of "
            f"{cfg['tasks']} tasks; the oracle {cfg['oracle_updates']} updates.\n\n"
            + markdown_table(["meta-learner", "success", "sd", "seeds"], rows),
        )
    )
    ret_rows = []
    for m in ("carml", "discriminative"):
        for s in range(seeds):
            if r := res.get(f"{m}/{s}"):
                for i, it in enumerate(r["iterations"], 1):
                    ret_rows.append([f"{m} it {i}", s, *[f"{x:.2f}" for x in it["return_per_episode"]]])
    for s in range(seeds):
        if o := res.get(f"oracle/{s}"):
            ret_rows.append(["oracle", s, *[f"{x:.2f}" for x in o["return_per_episode"]]])
        if b := res.get(f"baselines/{s}"):
            ret_rows.append(["random-init", s, *[f"{x:.2f}" for x in b["random_init"]["return_per_episode"]]])
    rep.sections.append(
        (
            "Return per episode of a trial (in-context adaptation)",
            "Test-task return (Σ 1/(1+d)) of episodes 1.."
            f"{cfg['episodes']}; a meta-learner's return should rise across the trial.\n\n"
            + markdown_table(
                ["meta-learner", "seed", *[f"ep {e + 1}" for e in range(cfg["episodes"])]], ret_rows
            ),
        )
    )
    div_rows = []
    for m in ("carml", "discriminative"):
        if f"{m}/mi" in v:
            div_rows.append(
                [m, *[f"{np.mean(list(v[f'{m}/{k}'].values())):.3f}" for k in
                      ("mi", "mi_shuffled", "modes", "cells_per_component", "cells_total")]]
            )  # fmt: skip
    rep.sections.append(
        (
            "Task diversity and structure (last iteration)",
            f"{cfg['skill_trials']} trials per component z; last episode's states. I(cell; z) in nats against the "
            "same with shuffled z; modes = exp(entropy of the final cell).\n\n"
            + markdown_table(
                ["scaffold", "I(cell; z)", "I shuffled", "modes", "cells / component", "cells"], div_rows
            ),
        )
    )
    checks = [
        _decide(v, "carml", "random_init", float(cfg["min_effect"]), "claim",
                f"CARML beats random-init RL² by > {cfg['min_effect']:g} success (paired by seed)", True,
                "uniform", PAPER),
        _decide(v, "carml", "carml/early", float(cfg["late_min_effect"]), "late_vs_early",
                "late CARML iteration ≥ early (success; ties are not wins)", a_label="late", b_label="early"),
        _decide(v, "carml/mi", "carml/mi_shuffled", float(cfg["structure_min_effect"]), "structured",
                "CARML skills are structured: I(cell; z) beats shuffled z", a_label="I(cell;z)",
                b_label="shuffled"),
        _decide(v, "carml/modes", "discriminative/modes", float(cfg["modes_min_effect"]), "modes",
                "the discriminative variant covers fewer modes than CARML", a_label="carml",
                b_label="discriminative"),
        _decide(v, "oracle", "random_init", 0.0, "oracle_vs_random",
                "the oracle RL² beats random-init (does meta-RL learn at this budget?)"),
        _gain(v),
    ]  # fmt: skip
    for check, d in checks:
        rep.checks.append(check)
        if d is not None and d.key == "claim":
            rep.summary.update(d.summary())
    rep.figures.append(_success_figure(v, res, cfg))
    for m in ("carml", "discriminative"):
        if any(f"{m}/{s}" in res for s in range(seeds)):
            rep.figures.append(_skill_figure(res, m, seeds, int(cfg["k"])))
    return rep


def _gain(v):
    """Return rising across the trial: last − first episode return of CARML, against zero (one-sample as a
    paired comparison with a zero column)."""
    if "carml/gain" not in v:
        return Check(
            "CARML's test return rises from the first to the last episode", None, "needs carml"
        ), None
    zero = {s: 0.0 for s in v["carml/gain"]}
    d = paired(v["carml/gain"], zero, min_effect=0.0, name="CARML's test return rises across a trial's episodes",
               key="in_context", a_label="last episode − first", b_label="zero")  # fmt: skip
    return d.check(headline=False), d


def _success_figure(v, res, cfg) -> Figure:
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [
        n for n in ("uniform", "random_init", "carml/early", "carml", "discriminative", "oracle") if n in v
    ]
    means = [np.mean(list(v[n].values())) for n in names]
    ax.bar(range(len(names)), means, color="C0")
    for i, n in enumerate(names):
        ax.scatter([i] * len(v[n]), list(v[n].values()), color="k", s=8, zorder=3)
    ax.set_xticks(range(len(names)), [n.replace("/", "\n") for n in names], fontsize=7)
    ax.set_ylabel("direct-transfer success")
    ax.set_title("held-out test tasks")
    for m, key in (("carml", "carml"), ("oracle", "oracle")):
        curves = []
        for s in range(int(cfg["seeds"])):
            r = res.get(f"{key}/{s}")
            if r:
                curves.append((r["iterations"][-1] if m == "carml" else r)["return_per_episode"])
        if curves:
            bx.plot(range(1, len(curves[0]) + 1), np.mean(curves, 0), marker="o", label=m)
    for s in range(int(cfg["seeds"])):
        if b := res.get(f"baselines/{s}"):
            bx.plot(range(1, len(b["random_init"]["return_per_episode"]) + 1),
                    b["random_init"]["return_per_episode"], ls=":", color="grey", label="random-init" if s == 0 else None)  # fmt: skip
    bx.set_xlabel("episode of the trial")
    bx.set_ylabel("test return")
    bx.legend(fontsize=8)
    bx.set_title("in-context adaptation")
    fig.tight_layout()
    return Figure(
        "transfer", fig, "Direct-transfer success (bars: mean, dots: seeds) and return per episode."
    )


def _skill_figure(res, method, seeds, k) -> Figure:
    """Skill maps: the (x, y) paths of the last episode per component z, coloured by orientation."""
    import matplotlib.pyplot as plt

    r = next(res[f"{method}/{s}"] for s in range(seeds) if f"{method}/{s}" in res)
    its = sorted(r["skills"], key=int)
    fig, axes = plt.subplots(len(its), k, figsize=(1.6 * k, 1.8 * len(its)), squeeze=False)
    rng = np.random.default_rng(0)
    for row, it in zip(axes, its):
        s, z = np.array(r["skills"][it]["state"]), np.array(r["skills"][it]["z"])
        for c, ax in enumerate(row):
            trajs = s[z == c]
            if not len(trajs):
                continue
            xy = trajs[..., :2] + rng.normal(0, 0.12, (len(trajs), 1, 2))  # one jitter per path
            ax.plot(xy[..., 0].T, xy[..., 1].T, color="grey", lw=0.5, alpha=0.6)
            ax.scatter(
                xy[..., 0].ravel(),
                xy[..., 1].ravel(),
                c=trajs[..., 2].ravel(),
                cmap="hsv",
                vmin=0,
                vmax=4,
                s=5,
            )
            ax.set_xlim(0, SIZE - 1)
            ax.set_ylim(SIZE - 1, 0)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"it {it} z={c}", fontsize=7)
    fig.tight_layout()
    return Figure(
        f"skills_{method}", fig,
        f"Skill maps of {method} (seed {next(s for s in range(seeds) if f'{method}/{s}' in res)}): last-episode "
        "paths per component, colour = orientation (N, E, S, W).",
    )  # fmt: skip
