"""`replab sweep --resume` after the whole sweep was killed: a trial that had reached a checkpoint continues
from it (same run id, every step stored once), instead of starting afresh under a new id."""

import json
import signal
import time

from test_grid import toy_trials
from toy_experiment import KEYS, value
from track_helpers import cli, toy_process

from replab.sweep_trial import interrupted
from replab.track.store import Store

ARGS = ("--preset", "smoke", "--steps", "40", "--sleep", "0.05", "--flush-every", "5")


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
    assert list(interrupted(db.parent / ".sweep", "toy", "smoke")) == [
        (0, json.dumps(_config(), sort_keys=True))
    ]
    assert interrupted(db.parent / ".sweep", "toy", "default") == {}  # another preset is another trial
    code, out, _ = cli(capsys, "sweep", "toy", "--seeds", "1", "--quiet", "--resume", *ARGS)
    assert code == 0, out
    assert "--resume: toy-killed-s0 (seed 0) continues from its checkpoint at" in out
    store = Store(db)
    assert [(r.id, r.status) for r in store.runs()] == [("toy-killed-s0", "finished")]
    got = [(k, s, v) for k, s, v in store.metrics("toy-killed-s0") if k in KEYS]
    want = [(k, s, value(k, s)) for k in sorted(KEYS) for s in range(40)]
    assert [(k, s) for k, s, _ in got] == [(k, s) for k, s, _ in want]  # every step once, none missing
    assert max(abs(a[2] - b[2]) for a, b in zip(got, want)) < 1e-12
    timing = json.loads((db.parent / "toy-killed-s0" / "timing.json").read_text())
    assert timing["unrecorded_segments"] == 1  # the killed segment, then the continued one
    assert not (db.parent / ".sweep" / "toy-killed-s0").exists()


def test_without_resume_or_with_another_config_a_killed_trial_is_not_continued(toy, db, capsys, monkeypatch):
    toy_trials(monkeypatch)
    killed_trial(db, "toy-killed-s0")
    code, out, _ = cli(capsys, "sweep", "toy", "--seeds", "1", "--quiet", *ARGS)
    assert code == 0 and "continues from its checkpoint" not in out
    code, out, _ = cli(capsys, "sweep", "toy", "--seeds", "1", "--quiet", "--resume", *ARGS[:-2])
    assert code == 0 and "continues from its checkpoint" not in out  # --flush-every differs: another config
    assert "toy-killed-s0" not in {r.id for r in Store(db).runs()}
    assert (db.parent / ".sweep" / "toy-killed-s0").exists()  # left for a sweep of its own config


def _config() -> dict:
    import dataclasses

    from replab import experiments
    from replab.cli_parse import parse_overrides

    return dataclasses.asdict(parse_overrides(experiments.get("toy"), "smoke", list(ARGS[2:])))
