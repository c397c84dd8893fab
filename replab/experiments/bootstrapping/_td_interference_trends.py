"""Two descriptive readings of `td-interference`'s results (no claim; a pure function of results.json):

- Fig 3.5's pooling: Pearson r(log ρ̄, gap) over every capacity *and* every n_T of a seed. §S2.7: the gap is
  dominated by n_T, so the pooled r answers another question than the within-n_T r the claims use.
- Fig 3.16's capacity trend: ρ̄ against the network's capacity (n_h × n_L ordered by parameter count),
  per method. The thesis: "higher-capacity neural networks have a smaller interference in TD experiments
  while the reverse is observed in classification". Ours is the ρ̄ measured at the end of training (the
  thesis averages it during training); Spearman's rank correlation of ρ̄ with the parameter count, per
  seed and n_T across the capacities, mean over n_T, then mean and range over seeds."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from replab.track.report import markdown_table


def pearson(xs, ys) -> float:
    """Pearson r over the finite pairs; nan with fewer than 3 or a constant coordinate."""
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def n_params(width: int, depth: int, d_in: int = 128, d_out: int = 14) -> int:
    """Parameters of the MLP d_in → (1 + depth) × width → d_out (weights and biases)."""
    return d_in * width + width + depth * (width * width + width) + width * d_out + d_out


def _unit(res, method, n, w, d, s):
    return res.get(f"{method}/n{n}/h{w}L{d}/s{s}")


def pooled_r(res, cfg, method) -> dict[int, float]:
    """{seed: r(log ρ̄, gap) over all capacities and n_T of the seed} (ρ̄ ≤ 0 dropped)."""
    out = {}
    for s in range(int(cfg["seeds"])):
        units = [
            u
            for n in cfg["n_train"]
            for w in cfg["widths"]
            for d in cfg["depths"]
            if (u := _unit(res, method, n, w, d, s)) is not None
        ]
        r = pearson([np.log(u["rho"]) if u["rho"] > 0 else np.nan for u in units], [u["gap"] for u in units])
        if np.isfinite(r):
            out[s] = r
    return out


def capacity_trend(res, cfg, method) -> tuple[list[float], dict[int, float]]:
    """(mean ρ̄ per capacity in parameter order, over n_T and seeds; {seed: Spearman(ρ̄, parameters) across
    capacities, mean over n_T})."""
    caps = sorted(((w, d) for w in cfg["widths"] for d in cfg["depths"]), key=lambda c: n_params(*c))
    means, per_seed = [], {}
    for w, d in caps:
        vals = [
            u["rho"]
            for n in cfg["n_train"]
            for s in range(int(cfg["seeds"]))
            if (u := _unit(res, method, n, w, d, s)) is not None
        ]
        means.append(float(np.mean(vals)) if vals else float("nan"))
    for s in range(int(cfg["seeds"])):
        rs = []
        for n in cfg["n_train"]:
            units = [_unit(res, method, n, w, d, s) for w, d in caps]
            if len(caps) >= 3 and all(u is not None for u in units):
                rho = [u["rho"] for u in units]
                if np.std(rho) > 0:
                    rs.append(float(spearmanr(range(len(caps)), rho).statistic))
        if rs:
            per_seed[s] = float(np.mean(rs))
    return means, per_seed


def _fmt(d: dict[int, float]) -> str:
    v = list(d.values())
    return f"{np.mean(v):+.3f} [{min(v):+.3f}, {max(v):+.3f}] (n={len(v)})" if v else "–"


def trends_section(cfg, res, methods, labels: dict[str, str]) -> str | None:
    """The Fig 3.5 / Fig 3.16 readings as one markdown section body; None when no unit has ρ̄."""
    caps = sorted(((w, d) for w in cfg["widths"] for d in cfg["depths"]), key=lambda c: n_params(*c))
    rows = []
    for method in methods:
        means, trend = capacity_trend(res, cfg, method)
        if all(np.isnan(means)):
            continue
        rows.append([labels[method], _fmt(pooled_r(res, cfg, method)), _fmt(trend), *means])
    if not rows:
        return None
    return (
        "Descriptive, no claim. *Pooled r*: Pearson r(log ρ̄, gap) over all capacities and all n_T of a seed "
        "(Fig 3.5's pooling; §S2.7: the gap is dominated by n_T, so this is not the within-n_T r of the "
        "claims); mean [min, max] over seeds. *Capacity trend*: Spearman rank correlation of the final ρ̄ "
        "with the parameter count across the capacities, per seed and n_T, mean over n_T (the thesis, Fig "
        "3.16, averages ρ̄ during training: in TD higher capacity has lower interference, in classification "
        "higher). Then the mean final ρ̄ per capacity (n_h, n_L), over n_T and seeds, in parameter order.\n\n"
        + markdown_table(
            ["method", "pooled r (Fig 3.5)", "capacity trend (Fig 3.16)", *(f"ρ̄ h{w}L{d}" for w, d in caps)],
            rows,
        )
    )
