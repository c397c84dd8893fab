"""The report of `rin-self-conditioning`: a pure function of its results."""

from __future__ import annotations

import numpy as np

from replab.experiments.diffusion._figures import model_attention, per_seed, sample_grids
from replab.track.claims import paired
from replab.track.report import Check, Report, markdown_table

PAPER = "Fig. 2.8a (ImageNet 64/128): FID and IS improve monotonically with the rate; curves only"
LABELS = {"rate_sc": "self-cond", "rate_0": "rate 0"}


def _by_seed(res: dict, label: str, metric: str) -> dict[int, float]:
    return {int(k.split("/")[1]): float(v[metric]) for k, v in res.items() if k.split("/")[0] == label}


def _spread(vals: dict) -> str:
    v = list(vals.values())
    return f"{np.mean(v):.3f} ± {np.std(v):.3f} (n={len(v)})" if v else "–"


def report(results: dict) -> Report:
    cfg, res, refs = results["config"], results["results"], results["references"]
    rate = float(cfg["rate"])
    rep = Report(title="RIN latent self-conditioning (digits)")
    metrics = ("fd", "cond_acc", "nn_dist", "final_loss", "steps", "cpu_seconds_per_step")
    values = {(lab, m): _by_seed(res, lab, m) for lab in LABELS for m in metrics}
    floor_fd = {int(s): float(r["floor"]["fd"]) for s, r in refs.items()}
    rows = []
    for lab, shown in LABELS.items():
        r = rate if lab == "rate_sc" else 0.0
        rows.append(
            [
                f"{shown} (rate {r:g})" if lab == "rate_sc" else shown,
                *[_spread(values[(lab, m)]) for m in metrics],
            ]
        )
    for which in ("real", "floor"):
        ref = {
            m: {int(s): float(r[which][m]) for s, r in refs.items()} for m in ("fd", "cond_acc", "nn_dist")
        }
        name = "held-out real digits" if which == "real" else "floor: pixel-wise Gaussian"
        rows.append([name, _spread(ref["fd"]), _spread(ref["cond_acc"]), _spread(ref["nn_dist"]), "", "", ""])
    clf = _spread({int(s): float(r["classifier_accuracy"]) for s, r in refs.items()})
    rep.sections.append(
        (
            "Sample metrics",
            "Mean ± standard deviation over seeds (a description of the spread, not a CI). FD: Fréchet "
            "distance between Gaussians fitted to the 64-d features of a digits MLP (trained in the run, "
            f"held-out accuracy {clf}) of {cfg['n_samples']} class-balanced samples ({cfg['sample_steps']} "
            f"{cfg['sampler'].upper()} steps, EMA weights) and of the training digits; cond_acc: the "
            "classifier's agreement with the sampled class; nn_dist: mean L2 distance to the nearest "
            "training digit (memorisation check; the held-out row is the level of new real digits). "
            f"Training steps: {results['steps']} (match: {cfg['match']}).\n\n"
            + markdown_table(
                ["model", "FD ↓", "cond. acc ↑", "NN dist", "final ε-MSE", "steps", "CPU s/step"], rows
            ),
        )
    )
    m, m_acc = float(cfg["min_effect"]), float(cfg["acc_min_effect"])
    a_fd, b_fd = values[("rate_sc", "fd")], values[("rate_0", "fd")]
    seeds = sorted(set(a_fd) & set(b_fd))
    head = f"self-conditioning (rate {rate:g}) lowers FD vs rate 0 by > {m:.0%}"
    head_acc = f"self-conditioning (rate {rate:g}) raises conditional accuracy vs rate 0 by > {m_acc:g}"
    if not seeds:
        rep.checks.append(Check(head, None, "no seed with both models finished"))
    else:
        d = paired(
            {s: a_fd[s] for s in seeds},
            {s: b_fd[s] for s in seeds},
            min_effect=m,
            effect="ratio",
            direction="less",
            floor={s: floor_fd[s] for s in seeds},
            name=head,
            a_label=f"rate {rate:g}",
            b_label="rate 0",
            floor_label="pixel-wise Gaussian samples",
            paper=PAPER,
        )
        rep.checks.append(d.check(headline=True))
        rep.summary.update(d.summary())
        a_acc, b_acc = values[("rate_sc", "cond_acc")], values[("rate_0", "cond_acc")]
        d2 = paired(
            {s: a_acc[s] for s in seeds},
            {s: b_acc[s] for s in seeds},
            min_effect=m_acc,
            direction="greater",
            floor=0.1,
            floor_min_effect=m_acc,
            name=head_acc,
            key="cond_acc",
            a_label=f"rate {rate:g}",
            b_label="rate 0",
            floor_label="chance",
            paper=PAPER,
        )
        rep.checks.append(d2.check(headline=True))
        rep.summary.update(d2.summary())
    for (lab, metric), vals in values.items():
        if vals and metric in ("fd", "cond_acc", "nn_dist"):
            rep.summary[f"{lab}/{metric}"] = float(np.mean(list(vals.values())))
    rep.sections.append(
        (
            "The rule",
            f"FD: the ratio mean FD(rate {rate:g}) / mean FD(rate 0), paired by seed, must lie below 1 − {m:g} "
            "with the 95% CI (bootstrap) beyond it and the sign-flip test at p ≤ 0.05 over at least 5 seeds, "
            "after rate 0.9 beats the pixel-wise Gaussian floor. Conditional accuracy: the paired difference "
            f"must exceed {m_acc:g} by the same rule after beating chance (0.1) by {m_acc:g}. Ties never win. "
            "A 5-seed sweep of single-seed runs is decided once by `replab ledger`.",
        )
    )
    grids, firsts = {}, {}
    for lab, shown in LABELS.items():
        key = next((k for k in sorted(res) if k.startswith(f"{lab}/")), None)
        if key is not None:
            grids[f"{shown} (seed {key.split('/')[1]})"] = res[key]["grid"]
            firsts[shown] = res[key]
    if grids:
        rep.figures.append(
            sample_grids("samples", grids, "Class-conditional samples (columns: classes 0–9), first seed.")
        )
    if (maps := model_attention(firsts)) is not None:
        rep.figures.append(maps)
    shown_metrics = {
        metric: {LABELS[lab]: values[(lab, metric)] for lab in LABELS} for metric in ("fd", "cond_acc")
    }
    rep.figures.append(per_seed("metrics", shown_metrics, "FD (lower is better) and conditional accuracy."))
    return rep
