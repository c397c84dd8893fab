"""Issue 18 §1: NaN and ±inf metrics are stored faithfully; a run that fails is marked failed with its
reason and keeps every metric it logged; --stop-on-nonfinite stops a diverging run (off by default)."""

import json
import math
import sqlite3

import pytest
from track_helpers import cli

from replab.track.run import Run
from replab.track.store import Store

INF = float("inf")


def test_nan_and_inf_round_trip_through_the_store(tmp_path):
    store = Store(tmp_path / "replab.db")
    store.create_run("r", "toy", "smoke", {}, 0, None)
    rows = [("train/x", s, float(s)) for s in range(100)]
    rows[50] = ("train/x", 50, float("nan"))
    rows += [("train/y", 0, INF), ("train/y", 1, -INF), ("train/y", 2, -0.0)]
    store.write_metrics("r", rows)
    got = Store(tmp_path / "replab.db").metrics("r")  # read back by a second connection
    assert len(got) == 103
    assert math.isnan(got[50][2]) and all(v == s for _, s, v in got[:100] if s != 50)
    assert [v for k, _, v in got if k == "train/y"] == [INF, -INF, 0.0]
    assert all(isinstance(v, float) for _, _, v in got)
    store.write_metrics("r", [("train/x", 50, 7.0)])  # a re-logged NaN step is replaced, not duplicated
    assert store.metrics("r", "train/x")[50] == ("train/x", 50, 7.0)


def test_an_older_store_is_migrated_without_losing_rows(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """CREATE TABLE runs (id TEXT PRIMARY KEY, experiment TEXT NOT NULL, preset TEXT NOT NULL,
        config TEXT NOT NULL, seed INTEGER NOT NULL, git_rev TEXT, status TEXT NOT NULL, start REAL NOT NULL,
        end REAL, host TEXT NOT NULL, pid INTEGER, heartbeat REAL, progress REAL DEFAULT 0, verdict TEXT,
        summary TEXT);
        CREATE TABLE metrics (run TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL,
        value REAL NOT NULL, PRIMARY KEY (run, key, step)) WITHOUT ROWID;
        INSERT INTO runs VALUES ('old', 'toy', 'smoke', '{"a": 1}', 3, NULL, 'finished', 1.0, 2.0, 'h', 1, 2.0,
        1.0, 'held', '{"x": 1}');
        INSERT INTO metrics VALUES ('old', 'train/x', 0, 0.5), ('old', 'train/x', 1, 0.25);"""
    )
    conn.commit()
    conn.close()
    store = Store(path)
    rec = store.get_run("old")
    assert (rec.status, rec.summary, rec.reason, rec.threads) == ("finished", {"x": 1}, None, None)
    assert store.metrics("old") == [("train/x", 0, 0.5), ("train/x", 1, 0.25)]
    store.write_metrics("old", [("train/x", 2, float("nan"))])
    assert math.isnan(Store(path).metrics("old")[2][2])


def test_a_failing_write_does_not_raise_again_at_close(tmp_path):
    store = Store(tmp_path / "replab.db")
    store.create_run("r", "toy", "smoke", {}, 0, None)
    run = Run(store, "r", seed=0, flush_seconds=3600, tensorboard=False)
    run.log({"train/x": 1.0}, 0)
    real = store.write_metrics
    store.write_metrics = lambda *a: (_ for _ in ()).throw(sqlite3.OperationalError("disk I/O error"))
    with pytest.raises(sqlite3.OperationalError):
        run.flush()
    store.write_metrics = real
    run.log({"train/x": 2.0}, 1)
    run.close()  # the failed batch is not retried forever
    assert store.metrics("r") == [("train/x", 1, 2.0)]


def test_a_nan_run_keeps_its_metrics_and_a_failed_run_says_why(db, toy, capsys):
    code, out, err = cli(capsys, "run", "toy", "--nan-at", "4", "--inf-at", "2", "--quiet", "--run-id", "n")
    assert code == 0, err  # NaN/inf are data: the run finishes, every value stored
    store = Store(db)
    loss = [v for _, _, v in store.metrics("n", "train/loss")]
    assert len(loss) == 20 and loss[:4] == [1.0, 0.5, 1 / 3, 0.25] and all(map(math.isnan, loss[4:]))
    assert store.metrics("n", "train/grad") == [("train/grad", 2, INF)]

    code, _, err = cli(capsys, "run", "toy", "--raise-at", "13", "--quiet", "--run-id", "f", "--nan-at", "3")
    assert code == 1 and "Traceback" in err and "RuntimeError: toy failure at step 13" in err  # a failure
    assert err.splitlines()[-1].startswith("replab: run f failed (RuntimeError); it is marked failed")
    rec = store.get_run("f")
    assert rec.status == "failed" and rec.reason == "RuntimeError: toy failure at step 13"
    assert [s for _, s, _ in store.metrics("f", "eval/acc")] == list(range(13))  # all 13 steps kept
    assert rec.progress == pytest.approx(13 / 20)  # not reset to 0
    assert "RuntimeError: toy failure at step 13" in (db.parent / "f" / "report.md").read_text()
    assert cli(capsys, "runs")[1].count("failed: RuntimeError: toy failure at step 13") == 1


def test_stop_on_nonfinite_stops_a_diverging_run(db, toy, capsys):
    code, out, err = cli(
        capsys, "run", "toy", "--nan-at", "6", "--stop-on-nonfinite", "3", "--quiet", "--run-id", "d"
    )
    assert code == 1 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "run d failed: train/loss was nan at 3 logged steps in a row (up to step 8)" in err
    rec = Store(db).get_run("d")
    assert rec.status == "failed" and "--stop-on-nonfinite 3" in rec.reason
    assert [s for _, s, _ in Store(db).metrics("d", "train/loss")] == list(range(9))
    report = (db.parent / "d" / "report.md").read_text()
    assert "run failed" in report and "stopped by --stop-on-nonfinite 3" in report
    assert not (db.parent / "d" / "results.json").exists()
    assert json.loads((db.parent / "d" / "timing.json").read_text())["wall_s"] > 0
