"""Issue 27: sweep grids from the command line, `--resume` of a sweep, the one writer of the local
backend, and a worker killed mid-trial retried (from its checkpoint) with its metrics neither lost nor
duplicated."""

import functools
import json
import os
import signal
import sys

import pytest
from toy_experiment import KEYS, value
from track_helpers import TOY, cli

from replab import sweep_cli
from replab.errors import ReplabError
from replab.sweep import run_sweep
from replab.sweep_backends import LocalBackend
from replab.sweep_grid import GridPoint, expand
from replab.sweep_trial import Trial
from replab.track.store import Store


def test_a_grid_is_every_combination_first_axis_slowest():
    points = expand(["lr=1e-3,3e-4", "width=8..9", "seed=0..1"], seeds=[5])
    assert len(points) == 8
    assert points[0] == GridPoint(0, (("lr", "1e-3"), ("width", "8")))
    assert [p.seed for p in points[:4]] == [0, 1, 0, 1]
    assert [p.label for p in points[::2]] == [
        "lr=1e-3 width=8",
        "lr=1e-3 width=9",
        "lr=3e-4 width=8",
        "lr=3e-4 width=9",
    ]
    assert points[-1].argv() == ["--lr", "3e-4", "--width", "9"]
    assert [p.seed for p in expand(["probe_epochs=1"], seeds=[3, 4])] == [3, 4]  # no seed axis: --seeds
    assert expand(["probe_epochs=1"], seeds=[0])[0].fields == (("probe-epochs", "1"),)


@pytest.mark.parametrize(
    "items, message",
    [
        (["lr"], "FIELD=V1,V2"),
        (["lr="], "FIELD=V1,V2"),
        (["lr=1,,2"], "empty value"),
        (["lr=1,1"], "repeated"),
        (["seed=4..2"], "A <= B"),
        (["lr=1", "lr=2"], "twice"),
        (["seed=a,b"], "whole numbers"),
    ],
)
def test_a_bad_grid_is_one_line_naming_the_fix(items, message):
    with pytest.raises(ReplabError, match=message):
        expand(items, seeds=[0])


def test_a_bad_grid_value_or_field_fails_before_the_store_exists(toy, db, capsys):
    code, _, err = cli(capsys, "sweep", "toy", "--grid", "stepz=1,2")
    assert code == 2 and "unknown field '--stepz'" in err and "did you mean: steps" in err
    code, _, err = cli(capsys, "sweep", "toy", "--grid", "steps=3,0")
    assert code == 2 and "steps must be >= 1" in err
    code, _, err = cli(capsys, "sweep", "toy", "--address", "10.0.0.1:6379")
    assert code == 2 and "--backend ray" in err
    assert not db.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["sweep", "toy", "--retries", "-1"], "--retries must be >= 0"),
        (["sweep", "toy", "--backend", "spark"], "--backend must be local or ray"),
        (["sweep", "toy", "--cpus-per-trial", "0"], "--cpus-per-trial must be > 0"),
        (["sweep", "toy", "--grid", "seed=-1..0"], "seed"),
        (["compare", "--name", "toy", "--by", "steps"], "--by and --out go with --metric"),
        (["compare", "--name", "toy", "--metric", "x", "--reps", "10"], "--reps must be >= 100"),
    ],
)
def test_bad_sweep_and_compare_options_are_one_line(toy, db, capsys, argv, message):
    code, _, err = cli(capsys, *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not db.exists()


def test_compare_names_a_metric_that_matches_nothing(toy, db, capsys):
    store = Store(db)
    store.create_run("r0", "toy", "smoke", {"steps": 3}, 0, None)
    store.finish("r0", "finished", verdict="held", summary={"last_loss": 0.25})
    code, _, err = cli(capsys, "compare", "--name", "toy", "--metric", "acc*")
    assert code == 2 and "no summary number matches --metric 'acc*'" in err and "last_loss" in err


def test_a_missing_ray_names_the_extra(toy, db, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets without the extra
    code, _, err = cli(capsys, "sweep", "toy", "--backend", "ray")
    assert code == 2 and "pip install 'replab[ray]'" in err and len(err.strip().splitlines()) == 1
    assert not db.exists()


def toy_trials(monkeypatch):
    """Trials of the sweep command run the toy experiment's script (it registers `toy` in the child)."""
    monkeypatch.setattr(sweep_cli, "Trial", functools.partial(Trial, entry=(sys.executable, str(TOY))))


def test_a_grid_sweep_then_resume_runs_only_the_missing_trials(toy, db, capsys, monkeypatch):
    toy_trials(monkeypatch)
    code, out, _ = cli(
        capsys, "sweep", "toy", "--preset", "smoke", "--grid", "steps=3,4", "seed=0", "--quiet"
    )
    assert code == 0, out
    assert "steps=3, 1 runs (seeds 0)" in out and "steps=4, 1 runs (seeds 0)" in out  # one table per method
    store = Store(db)
    first = {r.id for r in store.runs()}
    assert len(first) == 2
    code, out, _ = cli(
        capsys, "sweep", "toy", "--preset", "smoke", "--grid", "steps=3,4,5", "seed=0", "--quiet", "--resume"
    )
    assert code == 0, out
    assert "--resume: 2 of 3 trials already finished in the store, skipped" in out
    runs = store.runs(status="finished")
    assert len(runs) == 3 and first < {r.id for r in runs}
    assert sorted(r.config["steps"] for r in runs) == [3, 4, 5]
    assert not any((db.parent / ".sweep").iterdir())  # the scratch stores are gone


def test_a_worker_killed_mid_trial_is_retried_and_its_metrics_are_stored_once(tmp_path):
    store = Store(tmp_path / "replab.db")
    trial = Trial(
        "victim",
        "toy",
        "smoke",
        3,
        ("--steps", "40", "--sleep", "0.05", "--flush-every", "5"),
        entry=(sys.executable, str(TOY)),
    )
    killed = []

    def on_tick(live, attempts):
        done, pid = live.get("victim", (0.0, 0))
        if attempts["victim"] == 1 and done >= 0.3 and not killed:
            os.kill(pid, signal.SIGKILL)  # the `replab run` process, mid-trial
            killed.append(done)

    status = run_sweep(
        [trial], store, LocalBackend(1, tmp_path / "scratch"), retries=1, quiet=True, on_tick=on_tick
    )
    assert killed and status == {"victim": "finished"}
    assert [r.id for r in store.runs()] == ["victim"]
    rows = store.metrics("victim")
    want = [(k, s, value(k, s)) for k in sorted(KEYS) for s in range(40)]
    got = [(k, s, v) for k, s, v in rows if k in KEYS]
    assert [(k, s) for k, s, _ in got] == [(k, s) for k, s, _ in want]  # every step once, none missing
    assert max(abs(a[2] - b[2]) for a, b in zip(got, want)) < 1e-12
    folder = tmp_path / "victim"
    assert (folder / "report.md").exists() and not (folder / "checkpoint.pt").exists()
    # the retry continued the killed attempt's checkpoint in its scratch folder (a segment ended by SIGKILL)
    assert json.loads((folder / "timing.json").read_text())["unrecorded_segments"] == 1
    assert not (tmp_path / "scratch" / "victim").exists()  # removed once the run finished


def test_a_sweep_passes_amp_to_its_runs_and_the_report_records_device_precision_throughput(
    toy, db, capsys, monkeypatch
):
    toy_trials(monkeypatch)
    code, out, _ = cli(
        capsys, "sweep", "toy", "--preset", "smoke", "--seeds", "1", "--amp", "--compile", "--quiet"
    )
    assert code == 0, out
    (run,) = Store(db).runs()
    report = (db.parent / run.id / "report.md").read_text()
    assert "bfloat16 autocast (--amp)" in report and "cpu (" in report
    # the toy hands nothing to run.compiled: the report says so instead of implying a compiled run
    assert "--compile given, but this experiment compiles nothing" in report
    steps = next(line for line in report.splitlines() if "logged steps/s" in line)
    assert "20 steps in" in steps  # the toy's 20 steps over the run's wall time


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA (no GPU on this machine)")
def test_a_smoke_preset_runs_on_cuda_with_amp(db, capsys):
    code, out, err = cli(
        capsys,
        "run",
        "tunnel",
        "--preset",
        "smoke",
        "--device",
        "cuda",
        "--amp",
        "--models",
        "mlp3-digits",
        "--epochs",
        "2",
        "--probe-epochs",
        "1",
        "--quiet",
    )
    assert code == 0, out + err
    (run,) = Store(db).runs()
    report = (db.parent / run.id / "report.md").read_text()
    assert "cuda (" in report and "bfloat16 autocast" in report and "logged steps/s" in report
