"""`replab sweep --resume` after the whole sweep was killed: a trial that had reached a checkpoint continues
from it (same run id, every step stored once), instead of starting afresh under a new id; which scratch
folders are adopted (`sweep_adopt.interrupted`) and that a folder another driver holds never is."""

import json
import os
import signal
import time

from test_grid import toy_trials
from toy_experiment import KEYS, value
from track_helpers import cli, toy_process

from replab.sweep_adopt import claim, interrupted
from replab.track.store import Store

ARGS = ("--preset", "smoke", "--steps", "40", "--sleep", "0.05", "--flush-every", "5")
CPU = {"device": "cpu", "amp": False, "compile": False}


def killed_trial(db, run_id: str, at: float = 0.3):
    """What a killed sweep leaves: the trial's `replab run` in its scratch folder, SIGKILLed mid-run."""
    scratch = db.parent / ".sweep" / run_id / "replab.db"
    scratch.parent.mkdir(parents=True)
    proc = toy_process("run", "toy", "--seed", "0", "--run-id", run_id, "--store", scratch, "--quiet", *ARGS)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (
            scratch.exists()
            and Store(scratch).has_run(run_id)
            and Store(scratch).get_run(run_id).progress >= at
        ):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return scratch


def test_a_killed_sweeps_trial_continues_from_its_checkpoint(toy, db, capsys, monkeypatch):
    toy_trials(monkeypatch)
    killed_trial(db, "toy-killed-s0")
    key = (0, json.dumps(_config(), sort_keys=True))
    found, _ = interrupted(db.parent / ".sweep", "toy", "smoke", CPU)
    assert list(found) == [key]
    found[key].lock.close()
    assert interrupted(db.parent / ".sweep", "toy", "default", CPU)[0] == {}  # another preset, another trial
    code, out, _ = cli(capsys, "sweep", "toy", "--seeds", "1", "--quiet", "--resume", *ARGS)
    assert code == 0, out
    assert "--resume: toy-killed-s0 (seed 0) continues from its last checkpoint" in out
    store = Store(db)
    assert [(r.id, r.status) for r in store.runs()] == [("toy-killed-s0", "finished")]
    got = [(k, s, v) for k, s, v in store.metrics("toy-killed-s0") if k in KEYS]
    want = [(k, s, value(k, s)) for k in sorted(KEYS) for s in range(40)]
    assert [(k, s) for k, s, _ in got] == [(k, s) for k, s, _ in want]  # every step once, none missing
    assert max(abs(a[2] - b[2]) for a, b in zip(got, want)) < 1e-12
    timing = json.loads((db.parent / "toy-killed-s0" / "timing.json").read_text())
    assert timing["unrecorded_segments"] == 1  # the killed segment, then the continued one
    assert not (db.parent / ".sweep" / "toy-killed-s0").exists()
    assert not list((db.parent / ".sweep").glob("*.lock"))  # the finished trial's lock went with its folder


def test_two_equal_grid_points_are_two_trials_only_one_of_which_continues(toy, db, capsys, monkeypatch):
    toy_trials(monkeypatch)
    killed_trial(db, "toy-killed-s0")
    code, out, _ = cli(capsys, "sweep", "toy", "--grid", "seed=0,00", "--quiet", "--resume", *ARGS)
    assert code == 0, out
    assert out.count("continues from its last checkpoint") == 1
    runs = Store(db).runs(status="finished")
    assert len(runs) == 2 and "toy-killed-s0" in {r.id for r in runs}


def test_without_resume_or_with_another_config_a_killed_trial_is_not_continued(toy, db, capsys, monkeypatch):
    toy_trials(monkeypatch)
    killed_trial(db, "toy-killed-s0")
    code, out, _ = cli(capsys, "sweep", "toy", "--seeds", "1", "--quiet", *ARGS)
    assert code == 0 and "continues from its last checkpoint" not in out
    code, out, _ = cli(capsys, "sweep", "toy", "--seeds", "1", "--quiet", "--resume", *ARGS[:-2])
    assert (
        code == 0 and "continues from its last checkpoint" not in out
    )  # --flush-every differs: another config
    assert "toy-killed-s0" not in {r.id for r in Store(db).runs()}
    assert (db.parent / ".sweep" / "toy-killed-s0").exists()  # left for a sweep of its own config


def _config() -> dict:
    import dataclasses

    from replab import experiments
    from replab.cli_parse import parse_overrides

    return dataclasses.asdict(parse_overrides(experiments.get("toy"), "smoke", list(ARGS[2:])))


def scratch_run(root, run_id, *, seed=0, status="killed", pid=None, host=None, progress=0.5, device="cpu"):
    """A hand-made scratch folder as a sweep leaves it: a store with the run's row, a checkpoint, its
    execution record."""
    import socket

    db = root / run_id / "replab.db"
    db.parent.mkdir(parents=True)
    store = Store(db)
    store.create_run(run_id, "toy", "smoke", {"steps": 40}, seed, None)
    store.conn.execute(
        "UPDATE runs SET status=?, pid=?, host=?, progress=? WHERE id=?",
        (status, pid, host or socket.gethostname(), progress, run_id),
    )
    store.conn.commit()
    (root / run_id / run_id).mkdir()
    (root / run_id / run_id / "checkpoint.pt").write_bytes(b"x")
    execution = {"device": device, "precision": "float32", "compile": False}
    (root / run_id / run_id / "execution.json").write_text(json.dumps(execution))


def adopted(root, **kw) -> list[str]:
    found, notes = interrupted(root, "toy", "smoke", CPU, **kw)
    for a in found.values():
        a.lock.close()
    return sorted(a.run_id for a in found.values())


def test_which_scratch_folders_are_adopted(tmp_path):
    dead = subprocess_pid_that_has_exited()
    scratch_run(tmp_path, "live", seed=0, status="running", pid=os.getpid())  # a sweep still runs it
    scratch_run(tmp_path, "elsewhere", seed=1, status="running", pid=dead, host="another-host")
    scratch_run(tmp_path, "dead", seed=2, status="running", pid=dead)  # SIGKILLed with its sweep
    scratch_run(tmp_path, "behind", seed=3, progress=0.2)
    scratch_run(tmp_path, "ahead", seed=3, progress=0.7)  # two folders of one trial: the one further along
    scratch_run(tmp_path, "stored", seed=4)  # the store already holds it
    scratch_run(tmp_path, "on-cuda", seed=5, device="cuda")  # started on another device
    scratch_run(tmp_path, "finished", seed=6, status="finished")
    assert adopted(tmp_path, known=lambda rid: rid == "stored") == ["ahead", "dead"]
    notes = interrupted(tmp_path, "toy", "smoke", CPU)[1]
    assert len(notes) == 1 and "on-cuda" in notes[0] and "left as it is" in notes[0]


def test_a_folder_another_driver_holds_is_never_adopted(tmp_path):
    scratch_run(tmp_path, "held", seed=0)
    lock = claim(tmp_path, "held")  # another driver (flock: another open file, even in this process)
    assert lock is not None
    assert adopted(tmp_path) == []
    lock.close()
    assert adopted(tmp_path) == ["held"]


def subprocess_pid_that_has_exited() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
