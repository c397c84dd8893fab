"""The parts of `td-gain` every arm shares (`td_gain.py`'s objectives and `_td_gain_control.py`'s control
arm): the pointwise losses (eq. 3.17 and the objectives' own regression), the health Monitor of a unit, the
offset-gain probe's running record (§S2.2, §S2.6b), and the TD-error / sign-variance readouts (§S2.2)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from replab import seeding
from replab.experiments.bootstrapping._td_gain_tasks import TASKS
from replab.probe.health import health_monitor
from replab.probe.interference import mean_td_interference
from replab.probe.sign_variance import sign_variance, td_errors
from replab.probe.td_gain import offset_gain

GAIN_LOSSES = ("ql", "own")
"""The measured losses of the gain probe: eq. 3.17 with the live target, or each objective's own."""


class MaxQ(nn.Module):
    """V(s) = max_a Q(s, a) of a Q-network, a scalar value network for `mean_td_interference` (δ_iδ_j
    ∇V(s_i)ᵀ∇V(s_j) with δ = V(s) − (r + γV(s′)), §S2.2's sign-variance form, `target="frozen"`)."""

    def __init__(self, q: nn.Module):
        super().__init__()
        self.q = q

    def forward(self, x):
        return self.q(x).max(-1, keepdim=True).values


def own_loss(f, row):
    """(Q_θ(s, a) − y)², y the objective's fixed target (eq. 3.19 / L_MC)."""
    return ((f(row["s"]) * row["a_hot"]).sum() - row["y"]).pow(2)


def ql_loss(f, row):
    """The pointwise Q-learning loss of eq. 3.17 with the network itself as target (the gain's yardstick)."""
    target = row["r"] + row["disc"] * f(row["s2"]).max()
    return ((f(row["s"]) * row["a_hot"]).sum() - target).pow(2)


def _nan_to_none(xs) -> list:
    return [None if not np.isfinite(x) else float(x) for x in xs]


def _td_errors(net: nn.Module, data: dict, rows: int | None = None) -> np.ndarray:
    """δ = Q(s, a) − (r + γ max_a′ Q(s′, a′)) of the live network (eq. 3.17's error) on the first `rows`
    buffer rows (all by default)."""
    d = {k: data[k][:rows] for k in ("s", "a_hot", "s2", "r", "disc")}
    with torch.no_grad():
        q_sa = (net(d["s"]) * d["a_hot"]).sum(1)
        q2 = net(d["s2"]).max(1).values
    return td_errors(q_sa.numpy(), d["r"].numpy(), q2.numpy(), d["disc"].numpy())


SERIES_ROWS = 5000
"""Buffer rows (≈ 10 whole trajectories) of the sign variance measured at each probe; the final one uses all."""


def _sign_variance(net: nn.Module, data: dict, rows: int | None = None) -> float:
    """Sign variance of the TD errors in windows of 5 along the stored trajectories (§S2.2, Fig 3.15)."""
    return sign_variance(_td_errors(net, data, rows), data["traj"][:rows].numpy())


def final_summary(run, cfg, net: nn.Module, rows: dict, returns, mask, arm: str, seed: int) -> dict:
    """The end of a unit's training: MSE of Q(s, a) to the return G on the rows where `mask` (the rows whose
    G is known), the sign variance and mean |δ| of the live network's TD errors, mean Q(s, a); logged."""
    with torch.no_grad():
        q_sa = (net(rows["s"]) * rows["a_hot"]).sum(1)
    mse = float((q_sa[mask] - returns[mask]).pow(2).mean()) if mask.any() else float("nan")
    delta = _td_errors(net, rows)
    sv = sign_variance(delta, rows["traj"].numpy())
    run.log({f"eval/sign_variance/{arm}/s{seed}": sv, f"eval/mse_returns/{arm}/s{seed}": mse}, cfg.steps)
    return {"mse_returns": mse, "sign_variance": sv, "mean_abs_td": float(np.abs(delta).mean()),
            "mean_q": float(q_sa.mean())}  # fmt: skip


def health(cfg, run, net: nn.Module, arm: str, seed: int, data: dict):
    """The health Monitor of one unit: the task's last hidden layer on `probe_batch` expert-buffer states,
    plus ρ̄ (eq. 3.13) and the TD interference on 64 buffer transitions (every arm reads the same states)."""
    n = len(data["s"])
    probe_states = data["s"][seeding.rng(run.seed, f"health/{seed}").permutation(n)[: cfg.probe_batch]]
    monitor = health_monitor(
        cfg, net, probe_states, run.log, arm=f"{arm}/s{seed}", layers=[TASKS[cfg.task].hidden]
    )
    if cfg.probes != "none":  # the thesis's interference beside the health probes, 64 buffer transitions
        j = torch.as_tensor(seeding.rng(run.seed, f"health/{seed}").permutation(n)[:64])
        monitor.add_model_probe("function_interference", None, (data["s"][j], None))  # ρ̄, eq. 3.13
        tr = (data["s"][j], data["r"][j], data["s2"][j], data["disc"][j])
        monitor.add("td_interference", lambda m: mean_td_interference(MaxQ(m), None, *tr, target="frozen"))
    return monitor


class GainRecord:
    """The offset-gain probe of one unit (`offset_gain`): its sums over probes and update samples per
    offset, and the per-probe series [update, near gain, gain at k = 0, near cosine, sign variance]."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.offsets = torch.arange(-cfg.max_offset, cfg.max_offset + 1)
        names = [f"{a}:{b}" for a in ("gain", "first_order") for b in GAIN_LOSSES] + ["cosine"]
        self.sums = {name: np.zeros(len(self.offsets)) for name in names}
        self.counts = np.zeros(len(self.offsets))
        self.near = (self.offsets.abs() >= 1) & (self.offsets.abs() <= cfg.near)
        self.series = []

    def probe(self, net: nn.Module, rows: dict, centres: torch.Tensor, traj, t: int, sv: float):
        """One probe at `centres` of the buffer `rows` (s, s2, a_hot, r, disc, y); (near gain, near cosine)."""
        cfg, near = self.cfg, self.near
        measures = {"ql": ql_loss, "own": own_loss}
        out = offset_gain(net, own_loss, measures, rows, centres, self.offsets, lr=cfg.probe_lr, traj=traj)
        ok = out["cosine"].isfinite()
        for name in self.sums:
            self.sums[name] += torch.where(ok, out[name], 0.0).sum(0).numpy()
        self.counts += ok.sum(0).numpy()
        g = out[f"gain:{cfg.gain_loss}"].nanmean(0)
        near_gain, zero = float(g[near].nanmean()), float(g[cfg.max_offset])
        cos = float(out["cosine"].nanmean(0)[near].nanmean())
        self.series.append([t, near_gain, zero, cos, sv])
        return near_gain, cos

    def result(self) -> dict:
        """Per offset, over probes and positions: gain_ql, gain_own, first_order_ql, first_order_own,
        cosine (None where never measured), count, series."""
        counts = self.counts
        mean = {k: np.where(counts > 0, v / np.maximum(counts, 1), np.nan) for k, v in self.sums.items()}
        curves = {name.replace(":", "_"): _nan_to_none(v) for name, v in mean.items()}
        return {**curves, "count": counts.tolist(), "series": self.series}
