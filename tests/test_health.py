"""Representation health (issue 20): the Monitor's numbers, its neutrality, the panel from stored rows."""

import pytest
import torch
from torch import nn

from replab.cli import main
from replab.probe import Monitor
from replab.probe.health import HealthConfig, health_monitor
from replab.probe.monitor import DEFAULT_PROBES, ProbeLog, parse_probes
from replab.track import health
from replab.track.store import Store


def test_a_last_layer_forced_to_rank_k_reports_k():
    torch.manual_seed(0)
    k = 3
    net = nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 12))
    with torch.no_grad():  # W = A B with A (12, k), B (k, 16): the output spans exactly k directions
        net[2].weight.copy_(torch.randn(12, k) @ torch.randn(k, 16))
        net[2].bias.zero_()
    logged = {}
    mon = Monitor(
        net, torch.randn(200, 10), ["2"], lambda m, s: logged.update(m), probes="numerical_rank", every=1
    )
    mon.step(0)
    assert logged["probe/numerical_rank/2"] == k


def test_dormant_fraction_of_planted_dead_units_is_exact():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 10), nn.ReLU())
    dead = [1, 4, 7]
    with torch.no_grad():
        net[0].weight.abs_()  # inputs are positive below: every live unit is active on every example
        net[0].bias.fill_(0.1)
        net[0].weight[dead] = 0.0
        net[0].bias[dead] = -1.0  # ReLU(−1) = 0 on every input
    logged = {}
    x = torch.rand(64, 5) + 0.5
    for tau in (0.0, 0.1):
        mon = Monitor(
            net, x, ["1"], lambda m, s: logged.update(m), probes="dormant_fraction", dormant_tau=tau
        )
        mon.step(0)
        assert logged["probe/dormant_fraction/1"] == len(dead) / 10


def _train(monitor_probes: str | None, steps: int = 30):
    """A net with dropout and BatchNorm (both draw on the RNG or keep state), trained on noisy targets."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    logged, losses = [], []
    mon = None
    probe_x = torch.randn(32, 6, generator=torch.Generator().manual_seed(2))  # not from the global stream
    if monitor_probes is not None:
        cfg = HealthConfig(
            probes=monitor_probes,
            probe_every=5,
            plasticity_every=10,
            hessian_every=10,
            interference_every=15,
            plasticity_steps=3,
        )
        mon = health_monitor(cfg, net, probe_x, lambda m, s: logged.append(m), arm="a", layers=["2"])
    for t in range(1, steps + 1):
        x = torch.randn(16, 6)
        loss = (net(x) - x[:, :2].sin() + 0.1 * torch.randn(16, 2)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if mon is not None:
            mon.step(t)
    return losses, [p.detach().clone() for p in net.state_dict().values()], logged


def test_monitoring_changes_no_training_result():
    # the same operations in the same order on both sides (the monitor only adds its own): bit-equal
    plain, plain_state, _ = _train(None)
    for probes in ("default", "default,plasticity,hessian,interference"):
        monitored, state, logged = _train(probes)
        assert monitored == plain
        assert all(torch.equal(a, b) for a, b in zip(state, plain_state, strict=True))
        assert any("probe/plasticity/a" in m for m in logged) == ("plasticity" in probes)
    assert "probe/srank/a/2" in logged[0] and "perf/probe_overhead/a" in logged[0]


def test_probe_choice_and_intervals():
    assert parse_probes("none") == ()
    assert parse_probes("default,plasticity") == (*DEFAULT_PROBES, "plasticity")
    with pytest.raises(ValueError, match="unknown probe 'rank'.*choose"):
        parse_probes("srank,rank")
    with pytest.raises(ValueError, match="probe_every must be >= 1, got 0"):
        HealthConfig(probe_every=0)
    with pytest.raises(ValueError, match="warn_srank_fraction must be in"):
        HealthConfig(warn_srank_fraction=1.5)
    net, logged = nn.Linear(4, 4), []
    off = health_monitor(HealthConfig(probes="none"), net, torch.randn(8, 4), lambda m, s: logged.append(s))
    for t in range(50):
        off.step(t)
    assert logged == []
    cfg = HealthConfig(probes="srank,plasticity", probe_every=2, plasticity_every=3, plasticity_steps=2)
    mon = health_monitor(cfg, net, torch.randn(8, 4), lambda m, s: logged.append((s, sorted(m))))
    for t in range(1, 7):
        mon.step(t)
    steps = {s: [k for k in keys if k.startswith("probe/")] for s, keys in logged}
    assert steps == {
        2: ["probe/srank/features"],
        3: ["probe/plasticity"],
        4: ["probe/srank/features"],
        6: ["probe/plasticity", "probe/srank/features"],
    }


def test_a_monitor_follows_a_replaced_module_and_marks_interventions():
    holder = {"net": nn.Linear(4, 4)}
    log = ProbeLog()
    mon = Monitor(lambda: holder["net"], torch.randn(16, 4), [], log, probes="weight_norm", every=1, arm="x")
    mon.step(1)
    holder["net"] = nn.Linear(4, 4)
    with torch.no_grad():
        holder["net"].weight.zero_()
        holder["net"].bias.zero_()
    mon.mark(2)
    mon.step(2)
    assert log.rows[0][1]["probe/weight_norm/x"] > 0 and log.rows[2][1]["probe/weight_norm/x"] == 0
    assert log.rows[1] == [2, {"train/intervention/x": 1.0}]


def _stored_run(store, rid, seed, srank_curve):
    store.create_run(rid, "tunnel", "smoke", {"warn_srank_fraction": 0.2}, seed, "abc")
    rows = [(f"probe/srank/arm{a}/encoder", s, v * (1 + a)) for a in (0, 1) for s, v in srank_curve]
    rows += [("probe/dormant_fraction/arm0/encoder", s, 0.1 * i) for i, (s, _) in enumerate(srank_curve)]
    rows += [("train/intervention/arm0", 20, 1.0), ("perf/probe_overhead/arm0", 30, 0.012)]
    rows += [("train/loss", 10, 0.5)]
    store.write_metrics(rid, rows)


def test_panel_and_warnings_are_drawn_from_stored_metrics_only(tmp_path, capsys):
    store = Store(tmp_path / "replab.db")
    curve = [(0, 40.0), (10, 30.0), (20, 7.0), (30, 5.0), (40, 4.0), (50, 3.0), (60, 2.0)]
    _stored_run(store, "r1", 0, curve)
    _stored_run(store, "r2", 1, [(s, v + 1) for s, v in curve])
    series, marks, overheads = health.collect(store.metrics("r1", prefixes=health.PREFIXES))
    assert set(series) == {"srank", "dormant_fraction"} and marks == [20] and overheads == [0.012]
    warned = health.warnings(series, 0.2, 0.5)
    assert warned == [
        "srank of arm0/encoder fell below 20% of its initial value at step 20 (40 -> 7)",
        "srank of arm1/encoder fell below 20% of its initial value at step 20 (80 -> 14)",
        "dormant fraction of arm0/encoder above 50% at step 60 (60%)",
    ]
    text = health.describe(series, overheads, {"warn_srank_fraction": 0.2})
    assert "1.20% of the monitored training time" in text and "within the 3% target" in text
    assert main(["health", "r1", "r2", "--store", str(tmp_path / "replab.db")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "r1" / "health-2-runs.png").stat().st_size > 1000
    assert "r2 (tunnel, seed 1)" in out and "health panel:" in out
    assert (
        health.group_label("s1/arm0/encoder") == "arm0/encoder" == health.group_label("arm0/seed12/encoder")
    )


def test_health_command_errors_name_the_fix(tmp_path, capsys):
    store = Store(tmp_path / "replab.db")
    store.create_run("bare", "tunnel", "smoke", {"probes": "none"}, 0, "abc")
    assert main(["health", "bare", "--store", str(tmp_path / "replab.db")]) == 2
    assert "ran with --probes none" in capsys.readouterr().err
    assert main(["health", "--store", str(tmp_path / "replab.db")]) == 2
    assert "give one or more run ids" in capsys.readouterr().err


def test_the_panel_goes_to_the_tensorboard_mirror(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series, marks, _ = health.collect([("probe/srank/a/enc", s, 10.0 - s) for s in range(5)])
    figure = health.panel(series, marks)
    figure.savefig(tmp_path / "health.png")
    assert not health.mirror_to_tensorboard(tmp_path, step=4)  # no mirror folder: nothing written
    (tmp_path / "tb").mkdir()
    assert health.mirror_to_tensorboard(tmp_path, step=4)
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    assert events.Tags()["images"] == ["health/panel"] and events.Images("health/panel")[0].step == 4
