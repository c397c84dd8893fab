"""td-gain's `minatar` task: the conv Q-net, its buffer's targets, the probe's looped path, the SMOKE run."""

import copy
import dataclasses

import numpy as np
import pytest
import torch

from replab.experiments.bootstrapping import td_gain as tg
from replab.probe import td_gain as probe

MINI = dataclasses.replace(tg.SMOKE, task="minatar", minatar_net=(4, 16), transitions=600, tail=20)


def test_config_rejects_bad_task_and_net():
    with pytest.raises(ValueError, match="task must be one of \\('cartpole', 'minatar'\\), got 'atari'"):
        dataclasses.replace(tg.SMOKE, task="atari")
    with pytest.raises(ValueError, match="minatar_net must be two sizes >= 1"):
        dataclasses.replace(tg.SMOKE, minatar_net=(16, 0))


def test_conv_net_shape_and_seeded_draw():
    net = tg._net(MINI, 3)
    x = torch.rand(5, 4, 10, 10)
    assert net(x).shape == (5, 3)
    twin, other = tg._net(MINI, 3), tg._net(MINI, 4)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), twin.state_dict().values()))
    assert not torch.equal(net[0].weight, other[0].weight)
    bound = 1 / (4 * 9) ** 0.5  # PyTorch's default conv bound, U(±1/√fan_in)
    assert net[0].weight.abs().max() <= bound and net[0].weight.abs().max() > 0.8 * bound


def test_targets_on_the_minatar_buffer():
    data = tg._data(MINI, 0, 0)
    assert data["s"].shape == (600, 4, 10, 10) and data["a_hot"].shape == (600, 3)
    frozen = tg._net(MINI, 0)
    with torch.no_grad():
        q2 = frozen(data["s2"]).double()
    logged = q2.gather(1, data["a2"][:, None]).squeeze(1)
    one_step = data["r"].double() + data["disc"].double() * logged
    np.testing.assert_allclose(tg.targets(MINI, "lambda0", data, frozen), one_step, rtol=1e-5, atol=1e-6)
    maxed = data["r"].double() + data["disc"].double() * q2.max(1).values
    np.testing.assert_allclose(tg.targets(MINI, "ql", data, frozen), maxed, rtol=1e-5, atol=1e-6)


def test_looped_centres_equal_the_nested_vmap(monkeypatch):
    """The loop over centres (large nets) against the doubly vmapped path, on the same conv net and rows."""
    data = tg._data(MINI, 0, 0)
    net = tg._net(MINI, 1)
    rows = {k: data[k] for k in ("s", "s2", "a_hot", "r", "disc")} | {"y": data["returns"]}
    centres, offsets = torch.tensor([3, 300, 598]), torch.arange(-3, 4)
    measures = {"ql": tg.ql_loss, "own": tg.own_loss}
    kw = {"lr": 1e-3, "traj": data["traj"]}
    monkeypatch.setattr(probe, "NESTED_BYTES", 2**40)
    nested = probe.offset_gain(net, tg.own_loss, measures, rows, centres, offsets, **kw)
    monkeypatch.setattr(probe, "NESTED_BYTES", 0)
    looped = probe.offset_gain(net, tg.own_loss, measures, rows, centres, offsets, **kw)
    assert nested.keys() == looped.keys()
    for name in nested:
        a, b = nested[name], looped[name]
        assert torch.equal(a.isnan(), b.isnan()), name
        ok = ~a.isnan()
        assert ok.sum() > 12
        np.testing.assert_allclose(
            a[ok].numpy(), b[ok].numpy(), rtol=1e-9, atol=1e-12 * a[ok].abs().max().item()
        )


def test_gain_of_the_conv_net_equals_a_hand_stepped_copy():
    """One plain SGD step on a copy of the conv net, against the probe's gain at two offsets."""
    data = tg._data(MINI, 0, 0)
    net = tg._net(MINI, 2).double()
    rows = {k: data[k] for k in ("s", "s2", "a_hot", "r", "disc")} | {"y": data["returns"]}
    i, lr = 100, 1e-3
    out = probe.offset_gain(
        net, tg.own_loss, tg.ql_loss, rows, torch.tensor([i]), torch.tensor([0, 2]), lr=lr
    )

    def row(j):
        return {k: v[j].double() for k, v in rows.items()}

    def single(m):
        return lambda x: m(x.unsqueeze(0))[0]

    stepped = copy.deepcopy(net)
    grads = torch.autograd.grad(tg.own_loss(single(stepped), row(i)), list(stepped.parameters()))
    with torch.no_grad():
        for p, g in zip(stepped.parameters(), grads):
            p -= lr * g
        for k, off in enumerate((0, 2)):
            gain = tg.ql_loss(single(net), row(i + off)) - tg.ql_loss(single(stepped), row(i + off))
            assert out["gain"][0, k].item() == pytest.approx(gain.item(), rel=1e-6, abs=1e-12)


@pytest.mark.slow
def test_minatar_smoke_run_reports_on_breakout(tmp_path):
    from replab.launch import start_run
    from replab.track.store import Store

    cfg = dataclasses.replace(tg.SMOKE, task="minatar", seeds=1, lambdas=(0.0, 0.9))
    run_id, verdict = start_run("td-gain", cfg, preset="smoke", store=Store(tmp_path / "r.db"), quiet=True)
    report = (tmp_path / run_id / "report.md").read_text()
    assert "MinAtar Breakout heuristic expert" in report and verdict == "inconclusive"  # 1 seed < 5
