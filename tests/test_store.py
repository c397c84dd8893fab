import multiprocessing as mp
import os
import subprocess
import sys

import pytest

from replab.errors import ReplabError
from replab.track.run import Run
from replab.track.store import Store


def make_run(store, rid="r1", seed=0):
    store.create_run(rid, "tunnel", "smoke", {"a": 1}, seed, "abc")


def test_run_lifecycle(tmp_path):
    store = Store(tmp_path / "replab.db")
    make_run(store)
    rec = store.get_run("r1")
    assert rec.status == "running" and rec.config == {"a": 1} and rec.pid == os.getpid()
    store.finish("r1", "finished", verdict="held", summary={"x": 1.5})
    rec = store.get_run("r1")
    assert (rec.status, rec.verdict, rec.summary, rec.progress) == ("finished", "held", {"x": 1.5}, 1.0)
    with pytest.raises(ReplabError, match="no run with id 'r2'.*did you mean: r1"):
        store.get_run("r2")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_relogged_steps_replace_rather_than_duplicate(tmp_path):
    store = Store(tmp_path / "replab.db")
    make_run(store)
    store.write_metrics("r1", [("train/loss", 0, 1.0), ("train/loss", 1, 0.5)])
    store.write_metrics("r1", [("train/loss", 1, 0.4), ("train/loss", 2, 0.3)])
    assert store.metrics("r1", "train/loss") == [
        ("train/loss", 0, 1.0),
        ("train/loss", 1, 0.4),
        ("train/loss", 2, 0.3),
    ]


def _writer(path, rid, n):
    store = Store(path)
    store.create_run(rid, "tunnel", "smoke", {}, 0, None)
    for start in range(0, n, 50):
        store.write_metrics(rid, [("train/x", s, float(s)) for s in range(start, start + 50)])
        store.heartbeat(rid, start / n)
    store.finish(rid, "finished")


def test_concurrent_writers_lose_no_rows(tmp_path):
    path = tmp_path / "replab.db"
    Store(path)
    procs = [mp.get_context("spawn").Process(target=_writer, args=(path, f"w{i}", 1000)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = Store(path)
    for i in range(4):
        rows = store.metrics(f"w{i}")
        assert [s for _, s, _ in rows] == list(range(1000))
        assert store.get_run(f"w{i}").status == "finished"


def test_reap_marks_dead_processes_killed(tmp_path):
    store = Store(tmp_path / "replab.db")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    store.create_run("dead", "tunnel", "smoke", {}, 0, None)
    store.conn.execute("UPDATE runs SET pid=? WHERE id='dead'", (proc.pid,))
    make_run(store, "alive")
    assert store.reap() == ["dead"]
    assert store.get_run("dead").status == "killed"
    assert store.get_run("alive").status == "running"


def test_run_handle_batches_and_validates(tmp_path):
    store = Store(tmp_path / "replab.db")
    make_run(store)
    run = Run(store, "r1", seed=3, flush_seconds=3600, tensorboard=False)
    run.log({"train/loss": 1.0, "perf/sps": 10.0}, step=0)
    assert store.metrics("r1") == []  # buffered
    run.flush()
    assert len(store.metrics("r1")) == 2
    with pytest.raises(ValueError, match="namespace"):
        run.log({"loss": 1.0}, step=1)
    with pytest.raises(ValueError, match="namespace"):
        run.log({"charts/loss": 1.0}, step=1)
    run.save_checkpoint({"step": 7})
    assert run.load_checkpoint() == {"step": 7}
    assert run.dir == tmp_path / "r1"
    a, b = run.generator("data"), Run(store, "r1", seed=3, tensorboard=False).generator("data")
    assert a.initial_seed() == b.initial_seed() != run.generator("init").initial_seed()


def test_tensorboard_mirror(tmp_path):
    pytest.importorskip("tensorboard")
    store = Store(tmp_path / "replab.db")
    make_run(store)
    run = Run(store, "r1", seed=0)
    run.log({"train/loss": 1.0}, step=0)
    run.close()
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "r1" / "tb").iterdir())
