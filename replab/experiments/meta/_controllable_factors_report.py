"""The report of `controllable-factors`: a pure function of its results."""

from __future__ import annotations

import numpy as np

from replab.meta.selectivity import coordinate_isolation
from replab.track.claims import paired
from replab.track.report import Check, Figure, Report, markdown_table

PAPER = "Fig. 6.2: f_0, f_1 follow y and f_2, f_3 follow x with ± signs; a plain AE does not isolate x and y"
ACTIONS = ("up", "down", "left", "right")


def _by_seed(res, arm, seeds, key):
    return {s: res[f"{arm}/{s}"][key] for s in range(seeds) if f"{arm}/{s}" in res}


def report(results: dict) -> Report:
    cfg, res = results["config"], results["results"]
    seeds, arms = int(cfg["seeds"]), list(cfg["arms"])
    rep = Report(title="Independently controllable factors: selectivity in the square gridworld")
    rows = []
    for arm in arms:
        units = [res[f"{arm}/{s}"] for s in range(seeds) if f"{arm}/{s}" in res]
        if not units:
            continue
        al = [u["alignment"] for u in units]
        rows.append([
            arm, f"{np.mean(al):.3f} ± {np.std(al):.3f}", f"{np.mean([u['alignment_init'] for u in units]):.3f}",
            f"{np.mean([u['covered'] for u in units]):.1f}",
            f"{np.mean([u['final']['recon_mse'] for u in units]):.4f}",
            f"{np.mean([len(set(np.argmax(u['final']['policy'], 1))) for u in units]):.1f}", len(units),
        ])  # fmt: skip
        rep.summary[f"alignment/{arm}"] = float(np.mean(al))
    rep.sections.append(
        (
            "Alignment of the features with the controllable factors",
            f"{cfg['steps']} steps of batch {cfg['batch']}, λ = {cfg['lam']}, Adam {cfg['lr']}, directed = "
            f"{cfg['directed']}. alignment = mean_k | |r(f_k, x)| − |r(f_k, y)| | on all 121 positions; "
            "directions = how many of +x, −x, +y, −y some feature follows with r > 0.9 (§S6.6 expects 4); "
            "distinct actions = distinct argmax actions of the K policies (expects K).\n\n"
            + markdown_table(
                ["arm", "alignment", "at init", "directions", "recon MSE", "distinct actions", "seeds"], rows
            ),
        )
    )
    first = next((s for s in range(seeds) if f"joint/{s}" in res), None)
    if first is not None:
        u = res[f"joint/{first}"]["final"]
        rep.sections.append(
            (
                f"Joint training, seed {first}: correlations, policies, selectivity",
                markdown_table(
                    [
                        "feature",
                        "r(x)",
                        "r(y)",
                        *[f"π({a})" for a in ACTIONS],
                        *[f"sel({a})" for a in ACTIONS],
                    ],
                    [
                        [
                            f"f_{k}",
                            *np.round(u["corr"][k], 3),
                            *np.round(u["policy"][k], 3),
                            *np.round(u["selectivity"][k], 3),
                        ]
                        for k in range(len(u["corr"]))
                    ],
                ),
            )  # fmt: skip
        )
    for s in range(seeds):
        if c := res.get(f"continuous/{s}"):
            rep.sections.append(
                (
                    f"Continuous factors (K = 2), seed {s}",
                    f"The action explains R² = {c['modes']['r2']:.3f} of the variance of Δh = f(s′) − f(s) (§S6.4: "
                    "Δh clusters into ±x, ±y modes). Mean Δh per action: "
                    + ", ".join(
                        f"{a}: {np.round(d, 3).tolist()}" for a, d in zip(ACTIONS, c["modes"]["mean_dh"])
                    ),
                )
            )
            break
    m = float(cfg["min_effect"])
    joint, ae = _by_seed(res, "joint", seeds, "alignment"), _by_seed(res, "ae", seeds, "alignment")
    floor = _by_seed(res, "joint", seeds, "alignment_init")
    common = sorted(set(joint) & set(ae))
    name = f"joint selectivity training aligns features with x/y better than a plain AE (by > {m:g})"
    if common:
        d = paired(
            {s: joint[s] for s in common}, {s: ae[s] for s in common}, min_effect=m, direction="greater",
            floor={s: floor[s] for s in common}, name=name, key="claim", a_label="joint", b_label="ae",
            floor_label="untrained network", paper=PAPER,
        )  # fmt: skip
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
    else:
        rep.checks.append(Check(name, None, "needs the joint and ae arms"))
    iso = _isolation(res, seeds, m)
    if iso is None:
        rep.checks.append(Check(ISOLATION, None, "needs the joint and ae arms"))
    else:  # a secondary, post-hoc check: not a headline, not in the ledger (see `_isolation`)
        rep.checks.append(iso.check(headline=False))
        rep.summary.update(iso.summary())
    rep.figures.append(_matrices(res, arms, seeds))
    return rep


ISOLATION = "post hoc: joint training isolates both x and y better than a plain AE (coordinate isolation)"


def _isolation(res, seeds: int, m: float):
    """Post hoc (2026-12-05, after seeds 0–2 of the 5-seed sweep had been seen): `alignment` is 1 when every
    feature follows one and the same coordinate, while Fig. 6.2 has features for x and for y. coordinate
    isolation = min over x, y of the best feature's |r(c)| − |r(other)|; joint − AE, paired by seed, the
    headline's minimum effect, the untrained network as the floor. Its threshold was not registered before
    the runs, so it is reported beside the headline, never as one (DESIGN §3)."""
    iso = {arm: {} for arm in ("joint", "ae", "init")}
    for s in range(seeds):
        if f"joint/{s}" in res and f"ae/{s}" in res:
            iso["joint"][s] = coordinate_isolation(res[f"joint/{s}"]["final"]["corr"])
            iso["ae"][s] = coordinate_isolation(res[f"ae/{s}"]["final"]["corr"])
            iso["init"][s] = coordinate_isolation(res[f"joint/{s}"]["init"]["corr"])
    if not iso["joint"]:
        return None
    return paired(
        iso["joint"], iso["ae"], min_effect=m, direction="greater", floor=iso["init"], name=ISOLATION,
        key="isolation", a_label="joint", b_label="ae", floor_label="untrained network", paper=PAPER,
    )  # fmt: skip


def _matrices(res, arms, seeds) -> Figure:
    import matplotlib.pyplot as plt

    shown = [a for a in arms if a != "continuous" and any(f"{a}/{s}" in res for s in range(seeds))]
    fig, axes = plt.subplots(len(shown), 3, figsize=(10, 2.8 * max(1, len(shown))), squeeze=False)
    for row, arm in zip(axes, shown):
        s = next(s for s in range(seeds) if f"{arm}/{s}" in res)
        u = res[f"{arm}/{s}"]["final"]
        for ax, key, labels, title, lim in (
            (row[0], "selectivity", ACTIONS, "selectivity E_s[sel(s,a,k)]", 1),
            (row[1], "policy", ACTIONS, "policy E_s[π_k(a|s)]", 1),
            (row[2], "corr", ("x", "y"), "corr(f_k, coordinate)", 1),
        ):
            mat = np.array(u[key])
            im = ax.imshow(mat, cmap="RdBu_r", vmin=-lim, vmax=lim)
            for (i, j), val in np.ndenumerate(mat):
                ax.text(j, i, f"{val:.2f}", ha="center", va="center", fontsize=7)
            ax.set_xticks(range(len(labels)), labels, fontsize=7)
            ax.set_yticks(range(len(mat)), [f"f_{k}" for k in range(len(mat))], fontsize=7)
            ax.set_title(f"{arm} s{s}: {title}", fontsize=8)
        fig.colorbar(im, ax=row[2], fraction=0.05)
    fig.tight_layout()
    return Figure(
        "selectivity", fig,
        "Selectivity matrix (feature × action), policy matrix and feature–coordinate correlations per arm.",
    )  # fmt: skip
