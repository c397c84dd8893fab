import dataclasses

import pytest
import torch

from replab.experiments._health import health_fields
from replab.experiments.gfn import _units as _gfn_units
from replab.experiments.gfn import gfn_ablations, gfn_hypergrid
from replab.track.run import Run
from replab.track.store import Store


def _run(tmp_path):
    store = Store(tmp_path / "replab.db")
    store.create_run("r1", "x", "smoke", {}, 0, None)
    return Run(store, "r1", seed=0, quiet=True, tensorboard=False)


def test_hypergrid_resumes_finished_units_from_the_checkpoint(tmp_path, monkeypatch):
    cfg = dataclasses.replace(
        gfn_hypergrid.SMOKE,
        rounds=10,
        R0s=(0.1,),
        heatmap_updates=5,
        log_every=5,
        methods=("fm", "mcmc", "random"),
    )
    run = _run(tmp_path)
    first = gfn_hypergrid.run(cfg, run)
    assert set(first["units"]) == {f"{m}|0.1|0" for m in cfg.methods}

    def boom(*args, **kwargs):
        raise AssertionError("a finished unit was run again")

    monkeypatch.setattr(_gfn_units, "make_method", boom)
    again = gfn_hypergrid.run(cfg, run)
    assert again["units"] == first["units"] and again["heatmap"] == first["heatmap"]
    report = gfn_hypergrid.report(again)
    assert report.verdict in ("held", "partly held", "did not hold", "inconclusive") and report.checks


def test_ablations_report_decides_from_measured_values(tmp_path):
    cfg = dataclasses.replace(gfn_ablations.SMOKE, updates=4)
    results = gfn_ablations.run(cfg, _run(tmp_path))
    assert len(results["exact_l1"]) == cfg.seeds * len(cfg.variants)
    # a fabricated result where replay is worse (and everything beats the floor) must not hold; with the
    # smoke preset's 2 seeds the rule says inconclusive, with 5 it says did not hold
    for seeds, verdict in ((cfg.seeds, "inconclusive"), (5, "did not hold")):
        l1 = {
            f"{v}|{s}": (2e-3 if v.startswith("replay") else 1e-3) * (1 + s / 100)
            for v in cfg.variants
            for s in range(seeds)
        }
        fake = dict(results, exact_l1=l1, uniform_l1=1.0, config=results["config"] | {"seeds": seeds})
        checks = {c.name: c for c in gfn_ablations.report(fake).checks}
        assert checks["uniform replay beats no replay (exact L1)"].verdict == verdict


def test_configs_validate():
    with pytest.raises(ValueError):
        gfn_hypergrid.Config(methods=("fm", "dqn"))
    with pytest.raises(ValueError):
        gfn_ablations.Config(variants=("baseline", "frozen-target"))


@pytest.mark.slow
def test_worker_processes_give_the_same_results_as_inline(tmp_path):
    """Units draw from the run's named streams, so `workers` changes the wall time, not the numbers."""
    # worker processes compute with one torch thread each (`_units.run_units`): the inline units too, so
    # both sides run the same operations in the same order and may be compared exactly
    torch.set_num_threads(1)
    out = {}
    for w in (1, 2):
        cfg = dataclasses.replace(gfn_hypergrid.SMOKE, rounds=12, heatmap_updates=0, workers=w)
        units = gfn_hypergrid.run(cfg, _run(tmp_path / f"h{w}"))["units"]
        cfg = dataclasses.replace(gfn_ablations.SMOKE, updates=6, workers=w)
        out[w] = (
            {k: (c["l1"], c["final_exact_l1"]) for k, c in units.items()},
            gfn_ablations.run(cfg, _run(tmp_path / f"a{w}"))["exact_l1"],
        )
    assert out[1] == out[2]


@pytest.mark.parametrize("method", ["fm", "sac", "mcmc"])
def test_the_health_monitor_changes_no_unit_result(method):
    """A hyper-grid unit gives the same curve with and without the monitor, which watches the trunk's last
    hidden layer of the learners (none for MCMC) on cells spread over the grid."""
    cfg = dataclasses.replace(gfn_hypergrid.SMOKE, rounds=12, log_every=4, exact_every=6, probe_every=5)
    job = {"method": method, "R0": 0.1, "seed": 0, "run_seed": 3}
    job |= {f: getattr(cfg, f) for f in gfn_hypergrid._JOB_FIELDS}
    out = []
    for probes in ("none", "default"):
        health = health_fields(dataclasses.replace(cfg, probes=probes))
        out.append(_gfn_units.hypergrid_unit(job | {"health": health}))
    for res in out:
        res["curve"].pop("wall_s"), res["curve"].pop("cpu_s")
    assert out[0]["curve"] == out[1]["curve"] and out[0]["points"] == out[1]["points"]
    assert out[0]["probes"] == []
    steps = [s for s, _ in out[1]["probes"]]
    assert steps == ([] if method == "mcmc" else [5, 10])
    if method != "mcmc":
        assert f"probe/srank/{method}/R0=0.1/s0/3" in out[1]["probes"][0][1]
    cells = _gfn_units.grid_states(gfn_hypergrid.HyperGrid(2, 8, 0.1), 5)
    assert cells[0].tolist() == [0, 0] and cells[-1].tolist() == [7, 7]
