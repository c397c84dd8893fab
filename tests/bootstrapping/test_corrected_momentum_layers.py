"""Per-layer corrected momentum (seed004 §S3.2 "Per-layer correction", thesis Fig 4.15): param groups with their
own correction, `layer_groups`, and the `per-layer` setting of `corrected-momentum`.

Tolerances: float32 optimizer state against float64 hand recursions or against differently partitioned
float32 optimizers (gathered columns, separate matmuls): rtol 1e-5 / atol 1e-6 over 30–40 steps, as in
`test_corrected_momentum.py`.
"""

import dataclasses
import json

import pytest
import torch
from torch import nn

from replab.experiments.bootstrapping import _corrected_momentum_tasks as T
from replab.experiments.bootstrapping import corrected_momentum as cm
from replab.optim import CorrectedMomentum, DampenedMomentum, TDTerms, td_terms
from replab.optim.corrected_momentum import layer_groups

TOL = dict(rtol=1e-5, atol=1e-6)


def _net(seed=0):
    return T.mlp(2, 16, 5, seed)  # the per-layer setting's 6-layer MLP (1153 parameters)


def _linears(net):
    return [m for m in net if isinstance(m, nn.Linear)]


def _batch(k, m=16):
    g = torch.Generator().manual_seed(100 + k)
    s, s2 = torch.randn(m, 2, generator=g), torch.randn(m, 2, generator=g)
    r = torch.randn(m, generator=g)
    discount = 0.95 * (torch.rand(m, generator=g) > 0.1).float()
    return s, r, s2, discount


def _columns(net, chosen):
    """Flat positions (model order) of the parameters of the Linear layers in `chosen`."""
    pos, cols = 0, []
    for i, layer in enumerate(_linears(net)):
        size = sum(p.numel() for p in layer.parameters())
        if i in chosen:
            cols.append(torch.arange(pos, pos + size))
        pos += size
    return torch.cat(cols)


def test_every_layer_selected_is_the_single_group_optimizer():
    """layer_groups with all 6 layers corrected equals CorrectedMomentum(net.parameters()) (40 steps)."""
    nets = [_net(), _net()]
    opts = [
        CorrectedMomentum(layer_groups(_linears(nets[0]), range(6)), 0.1, 0.9),
        CorrectedMomentum(nets[1].parameters(), 0.1, 0.9),
    ]
    for k in range(40):
        batch = _batch(k)
        for net, opt in zip(nets, opts):
            opt.step(lambda net=net, batch=batch: td_terms(net, *batch))
    for p, q in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(p, q, **TOL)
    assert opts[0].state["flat"]["zeta"].shape == (1153, 1153)


def test_an_uncorrected_layer_follows_plain_dampened_momentum():
    """With the bottom 3 layers corrected, each top layer's parameters follow θ_t = θ_{t−1} − αμ_t,
    μ_t = βμ_{t−1} + (1−β)g_t (eq. 4.2–4.3) of their own recorded gradients, recomputed here in float64,
    and η stays 0 there; the bottom layers are corrected (they leave that recursion)."""
    net, alpha, beta = _net(), 0.5, 0.9  # a large α: the correction builds up within 60 steps
    opt = CorrectedMomentum(layer_groups(_linears(net), {0, 1, 2}), alpha, beta)
    theta = [p.detach().double().clone() for p in net.parameters()]
    mu = [torch.zeros_like(t) for t in theta]
    for k in range(60):
        batch = _batch(k)
        opt.step(lambda batch=batch: td_terms(net, *batch))
        for i, p in enumerate(net.parameters()):  # .grad: this step's minibatch gradient
            mu[i] = beta * mu[i] + (1 - beta) * p.grad.double()
            theta[i] = theta[i] - alpha * mu[i]
    params = list(net.parameters())
    gap = [float((params[i].detach().double() - theta[i]).abs().max()) for i in range(12)]
    for i in range(6, 12):  # layers 3, 4, 5 (weight, bias each)
        torch.testing.assert_close(params[i].detach().double(), theta[i], **TOL)
    top = _columns(net, {3, 4, 5})
    assert not opt.state["flat"]["eta"][top].any()
    assert opt.state["flat"]["zeta"].shape == (592, 592)  # bottom 3 layers: 48 + 272 + 272
    # the corrected layers left that recursion (≈ 9e-5 here) by far more than the top's rounding (≈ 1e-7)
    assert max(gap[:6]) > 1e-5 and max(gap[:6]) > 100 * max(gap[6:])


@pytest.mark.parametrize("rest", ["none", "diag"])
def test_both_ends_equals_two_separate_optimizers(rest):
    """Non-contiguous layers (0 and 5: both ends) with the others at `rest` equal the reference code's
    OptChain: one full-ζ optimizer over the corrected layers' parameters fed their columns of the
    per-example terms, and a dampened (or diagonal) one over the others."""
    nets = [_net(1), _net(1)]
    chosen = {0, 5}
    ours = CorrectedMomentum(layer_groups(_linears(nets[0]), chosen, rest=rest), 0.1, 0.9)
    lin = _linears(nets[1])
    corr_params = [p for i, m in enumerate(lin) if i in chosen for p in m.parameters()]
    other_params = [p for i, m in enumerate(lin) if i not in chosen for p in m.parameters()]
    first = CorrectedMomentum(corr_params, 0.1, 0.9)
    second = (
        DampenedMomentum(other_params, 0.1, 0.9)
        if rest == "none"
        else CorrectedMomentum(other_params, 0.1, 0.9, correction="diag")
    )
    cols, others = _columns(nets[1], chosen), _columns(nets[1], {1, 2, 3, 4})
    for k in range(30):
        batch = _batch(k)
        ours.step(lambda batch=batch: td_terms(nets[0], *batch))
        t = td_terms(nets[1], *batch)
        first.step(lambda t=t: TDTerms(t.loss, t.delta, t.a[:, cols], t.b[:, cols]))
        second.step(lambda t=t: TDTerms(t.loss, t.delta, t.a[:, others], t.b[:, others]))
    for p, q in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(p, q, **TOL)
    assert ours.state["flat"]["eta"][cols].abs().max() > 1e-6  # the correction acted


def test_per_layer_arguments_are_checked():
    net = _net()
    lin = _linears(net)
    with pytest.raises(ValueError, match=r"layer indices \[6\] out of range for 6 layers"):
        layer_groups(lin, {6})
    with pytest.raises(ValueError, match="rest must be one of"):
        layer_groups(lin, {0}, rest="oops")
    groups = layer_groups(lin, {0})
    groups[1]["lr"] = 0.5
    with pytest.raises(ValueError, match="param group 1: lr = 0.5 differs from group 0's 0.1"):
        CorrectedMomentum(groups, 0.1, 0.9)
    backwards = list(reversed(layer_groups(lin, {0})))  # columns no longer follow the model's order
    opt = CorrectedMomentum(backwards, 0.1, 0.9)
    with pytest.raises(ValueError, match="columns follow the model's parameters in order"):
        opt.step(lambda: td_terms(net, *_batch(0)))


def test_corrected_layer_sets_of_the_methods():
    assert cm.corrected_layer_set("bottom", 3, 6) == {0, 1, 2}
    assert cm.corrected_layer_set("top", 3, 6) == {3, 4, 5}
    assert cm.corrected_layer_set("ends", 3, 6) == {0, 1, 5}
    assert cm.corrected_layer_set("ends", 2, 6) == {0, 5}


def test_per_layer_setting_defaults_and_validation():
    r = dataclasses.replace(cm.DEFAULT, setting="per-layer").resolved()
    assert (r.steps, r.batch, r.lr, r.beta, r.depth) == (5000, 16, 0.1, 0.9, 5)  # thesis §4.3.3.11
    assert r.methods == ("momentum", "bottom", "top", "ends", "corrected")
    assert sum(p.numel() for p in cm.value_net(r, 0).parameters()) == 1153
    assert cm.DEFAULT.resolved().depth == 3  # the other settings keep the 609-parameter MLP
    original = ("sgd", "momentum", "corrected", "corrected_diag", "oracle", "adam", "adaptive_diag")
    assert cm.SMOKE.methods == cm.PAPER.methods == original  # the presets' arms are unchanged
    with pytest.raises(ValueError, match=r"corrected_layers must be in \[1, 5\]"):
        dataclasses.replace(cm.DEFAULT, setting="per-layer", corrected_layers=6)
    with pytest.raises(ValueError, match="not for --setting rbf"):
        dataclasses.replace(cm.DEFAULT, setting="rbf", methods=("momentum", "bottom"))
    with pytest.raises(ValueError, match="layer_rest must be 'none' or 'diag'"):
        dataclasses.replace(cm.DEFAULT, layer_rest="full")


def test_per_layer_runs_end_to_end(tmp_path):
    from replab.launch import start_run
    from replab.track.store import Store

    cfg = dataclasses.replace(
        cm.SMOKE, setting="per-layer", methods=None, seeds=1, steps=6, eval_every=3, probe_every=3, n_eval=50
    )
    run_id, verdict = start_run(
        "corrected-momentum", cfg, preset="smoke", store=Store(tmp_path / "r.db"), quiet=True
    )
    assert verdict == "inconclusive"  # one seed decides nothing
    results = json.loads((tmp_path / run_id / "results.json").read_text())
    assert set(results["results"]) == {f"{m}/0" for m in ("momentum", "bottom", "top", "ends", "corrected")}
    assert results["config"]["depth"] == 5 and results["config"]["corrected_layers"] == 3
    finals = {k: u["final"] for k, u in results["results"].items()}
    assert len(set(finals.values())) > 1  # the layer sets train differently
    assert (tmp_path / run_id / "mse.png").stat().st_size > 0


def _unit(final):
    return {"steps": [0, 10], "mse": [2.0, final], "final": final, "diverged": False,
            "drift": [0.01], "mean_drift": 0.01, "cpu_seconds_per_step": 1e-3}  # fmt: skip


def _results(bottom, top, floor=0.2):
    res = {}
    for s in range(len(bottom)):
        res[f"bottom/{s}"], res[f"top/{s}"] = _unit(bottom[s]), _unit(top[s])
        res[f"momentum/{s}"], res[f"corrected/{s}"] = _unit(top[s] * 1.1), _unit(bottom[s] * 0.7)
    cfg = dataclasses.asdict(cm.SMOKE) | {
        "setting": "per-layer",
        "methods": ["momentum", "bottom", "top", "corrected"],
        "seeds": len(bottom),
        "depth": 5,
    }
    return {"config": cfg, "constant_mse": floor, "results": res}


def test_per_layer_report_decides_bottom_vs_top_with_the_shared_rule():
    rep = cm.report(_results([0.02, 0.021, 0.025, 0.022, 0.03], [0.05, 0.06, 0.052, 0.055, 0.058]))
    head = next(c for c in rep.checks if c.headline)
    assert head.verdict == "held" and "bottom layers beats correcting the top" in head.name
    assert any("μ̂ (corrected, full ζ) beats μ̂ on the bottom layers" in c.name for c in rep.checks)
    tie = cm.report(_results([0.05] * 5, [0.05] * 5))  # ties are not wins
    assert next(c for c in tie.checks if c.headline).verdict == "did not hold"
    reverse = cm.report(_results([0.05, 0.06, 0.052, 0.055, 0.058], [0.02, 0.021, 0.025, 0.022, 0.03]))
    assert next(c for c in reverse.checks if c.headline).verdict == "did not hold"
    stuck = cm.report(_results([0.3] * 5, [0.5] * 5, floor=0.2))  # the floor guard
    assert next(c for c in stuck.checks if c.headline).verdict == "inconclusive"
