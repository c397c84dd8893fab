"""A run killed with SIGKILL is marked killed and `--resume` completes it with exactly the metrics of an
uninterrupted run; a sweep writes seeds in parallel to one store and `compare` aggregates them."""

import os
import signal
import subprocess
import sys
import time

from replab.cli import main
from replab.track.store import Store

ARGS = [
    "--preset",
    "smoke",
    "--quiet",
    "--models",
    "mlp3-digits",
    "--mlp-width",
    "16",
    "--epochs",
    "150",
    "--probe-epochs",
    "1",
]


def replab(*argv, store, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", REPLAB_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-m", "replab", *argv, "--store", str(store)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def test_sigkill_then_resume_gives_the_uninterrupted_metrics(tmp_path):
    db = tmp_path / "replab.db"
    proc = replab("run", "tunnel", *ARGS, "--run-id", "victim", store=db)
    store = Store(db)
    deadline = time.time() + 600  # hang guards, generous: a loaded 2-core machine
    while time.time() < deadline:
        rows = store.conn.execute("SELECT progress FROM runs WHERE id='victim'").fetchall()
        if rows and rows[0][0] >= 0.2:
            break
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = store.get_run("victim").progress
    assert 0.2 <= killed_at < 1.0
    assert store.reap() == ["victim"]
    assert store.get_run("victim").status == "killed"

    resumed = replab("run", "--resume", "victim", "--quiet", store=db)
    assert resumed.wait(600) == 0, resumed.stdout.read()
    reference = replab("run", "tunnel", *ARGS, "--run-id", "reference", store=db)
    assert reference.wait(600) == 0, reference.stdout.read()

    assert store.get_run("victim").status == "finished"
    got, want = store.metrics("victim"), store.metrics("reference")
    assert [(k, s) for k, s, _ in got] == [(k, s) for k, s, _ in want]  # no duplicated or missing steps
    measured = [(a, b) for a, b in zip(got, want) if not a[0].startswith("perf/")]  # perf/: timings
    assert {"eval", "probe"} <= {a[0].split("/")[0] for a, _ in measured}  # the health probes resume too
    worst = max(measured, key=lambda ab: abs(ab[0][2] - ab[1][2]))
    assert abs(worst[0][2] - worst[1][2]) < 1e-6, worst
    assert len({s for k, s, _ in got if k == "eval/mlp3-digits/test_acc"}) == 150


def test_sweep_then_compare(tmp_path, capsys):
    db = str(tmp_path / "replab.db")
    argv = [
        "--seeds",
        "2",
        "--preset",
        "smoke",
        "--quiet",
        "--store",
        db,
        "--models",
        "mlp3-digits",
        "--epochs",
        "1",
        "--probe-epochs",
        "1",
    ]
    assert main(["sweep", "tunnel", *argv]) == 0
    out = capsys.readouterr().out
    assert "IQM" in out and "mlp3-digits/tunnel_length" in out and "2 runs (seeds 0, 1)" in out
    # the headline claims decided over the sweep's seeds (2 < 5: inconclusive, with the seeds needed)
    decisions = out[out.index("headline claims over the 2 runs of this sweep") :]
    assert "| 2 |" in decisions and "inconclusive" in decisions and "seeds" in decisions
    assert "compression/ci_low" not in out  # a run's own decision numbers are not averaged across runs
    runs = Store(db).runs(experiment="tunnel", status="finished")
    assert sorted(r.seed for r in runs) == [0, 1]
    assert main(["compare", "--name", "tunnel", "--store", db]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("| mlp3-digits/test_acc"))
    assert row.split("|")[2].strip() == "2"
    assert main(["compare", *[r.id for r in runs], "--store", db]) == 0
