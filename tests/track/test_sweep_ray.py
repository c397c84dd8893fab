"""Issue 27: `replab sweep --backend ray` on one module-scoped local Ray instance (2 CPUs): a 2×2 grid of a
smoke preset lands whole in the store (the test-only toy experiment; the tunnel experiment's in the slow
suite), and a Ray worker killed mid-trial is retried with the trial's metrics neither lost nor
duplicated. Skipped without the `ray` extra (pip install 'replab[ray]')."""

import functools
import os
import signal
import sys

import pytest

ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'replab[ray]'")

from toy_experiment import KEYS, value  # noqa: E402
from track_helpers import TOY, cli  # noqa: E402

from replab import sweep_cli  # noqa: E402
from replab.sweep import run_sweep  # noqa: E402
from replab.sweep_backends import RayBackend  # noqa: E402
from replab.sweep_trial import Trial  # noqa: E402
from replab.track.store import Store  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    env = {"OMP_NUM_THREADS": "1", "REPLAB_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the workers inherit the environment of the Ray started here
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_a_2x2_grid_of_the_toy_smoke_preset_lands_in_the_store(local_ray, toy, db, capsys, monkeypatch):
    monkeypatch.setattr(sweep_cli, "Trial", functools.partial(Trial, entry=(sys.executable, str(TOY))))
    argv = ["--backend", "ray", "--preset", "smoke", "--grid", "steps=3,4", "seed=0..1", "--quiet"]
    code, out, err = cli(capsys, "sweep", "toy", *argv)
    assert code == 0, out + err
    store = Store(db)
    runs = store.runs()
    assert sorted((r.config["steps"], r.seed, r.status) for r in runs) == [
        (n, s, "finished") for n in (3, 4) for s in (0, 1)
    ]
    for r in runs:  # each run whole: every step of every key once, its report
        rows = store.metrics(r.id)
        assert sorted((k, s) for k, s, _ in rows if k in KEYS) == sorted(
            (k, s) for k in KEYS for s in range(r.config["steps"])
        )
        assert (db.parent / r.id / "report.md").exists()
    assert "steps=3, 2 runs (seeds 0, 1)" in out and "steps=4, 2 runs (seeds 0, 1)" in out


@pytest.mark.slow
def test_a_2x2_grid_of_a_smoke_preset_lands_in_the_store(local_ray, tmp_path, capsys):
    db = tmp_path / "replab.db"
    code, out, err = cli(
        capsys,
        "sweep",
        "tunnel",
        "--backend",
        "ray",
        "--preset",
        "smoke",
        "--grid",
        "mlp-width=8,16",
        "seed=0..1",
        "--models",
        "mlp3-digits",
        "--epochs",
        "1",
        "--probe-epochs",
        "1",
        "--store",
        db,
        "--quiet",
    )
    assert code == 0, out + err
    runs = Store(db).runs()
    assert sorted((r.config["mlp_width"], r.seed, r.status) for r in runs) == [
        (w, s, "finished") for w in (8, 16) for s in (0, 1)
    ]
    store = Store(db)
    for r in runs:  # each run whole: its metrics, its report, its summary
        keys = {k for k, _, _ in store.metrics(r.id)}
        assert "eval/mlp3-digits/test_acc" in keys and any(k.startswith("probe/") for k in keys)
        assert (tmp_path / r.id / "report.md").exists() and r.summary
    assert "mlp_width=8, 2 runs (seeds 0, 1)" in out and "mlp_width=16, 2 runs (seeds 0, 1)" in out
    assert not list(tmp_path.glob(".sweep/*"))  # nothing written beside the store by the workers


def test_a_ray_worker_killed_mid_trial_is_retried_and_stored_once(local_ray, tmp_path):
    store = Store(tmp_path / "replab.db")
    trials = [
        Trial(
            f"t{seed}",
            "toy",
            "smoke",
            seed,
            ("--steps", "40", "--sleep", "0.05", "--flush-every", "5"),
            entry=(sys.executable, str(TOY)),
        )
        for seed in (0,)
    ]
    killed = {}

    def on_tick(live, attempts):
        done, pid = live.get("t0", (0.0, 0))
        if attempts["t0"] == 1 and done >= 0.3 and not killed:
            os.kill(pid, signal.SIGKILL)  # the Ray worker process running the trial
            killed["pid"] = pid

    backend = RayBackend(cpus=1)
    status = run_sweep(trials, store, backend, retries=2, quiet=True, on_tick=on_tick)
    assert killed and status == {"t0": "finished"}
    assert [r.id for r in store.runs()] == ["t0"]
    want = [(k, s, value(k, s)) for k in sorted(KEYS) for s in range(40)]
    for rid in ("t0",):
        got = [(k, s, v) for k, s, v in store.metrics(rid) if k in KEYS]
        assert [(k, s) for k, s, _ in got] == [(k, s) for k, s, _ in want]  # every step once
        assert max(abs(a[2] - b[2]) for a, b in zip(got, want)) < 1e-12
