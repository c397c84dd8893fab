"""Issue 18, done-when: a run SIGKILLed at random moments (while it commits metrics every step, and while
it is being resumed) and then resumed to the end has every metric row exactly once, with the value an
uninterrupted run logs: 0 lost, 0 duplicated. A few kills by default, many under `-m slow`."""

import os
import random
import signal
import sqlite3
import time

import pytest
from toy_experiment import KEYS, value
from track_helpers import toy_process

from replab.cli import main
from replab.track.store import Store

STEPS = 120
ARGS = ["--steps", STEPS, "--sleep", "0.004", "--flush-every", "1", "--checkpoint-every", "7", "--quiet"]


def wait_running(store: Store, proc, seconds: float = 120) -> bool:
    """Wait until `proc` owns the run (its row says running with its pid); False if it ended first."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        if store.has_run("victim"):
            rec = store.get_run("victim")
            if rec.status == "running" and rec.pid == proc.pid:
                return True
        time.sleep(0.01)
    raise AssertionError("the run did not start")


def kill_at_random(proc, store: Store, rng: random.Random, after_a_step: bool = False) -> bool:
    """SIGKILL `proc` at a random moment of its run; False if it finished first. `after_a_step`: only once
    it has committed a step, so the kill lands mid-run however loaded the machine is (process start-up
    alone takes seconds at load 10, longer than the random delay)."""
    if not wait_running(store, proc):
        return False
    if after_a_step:
        start = len(store.metrics("victim", "train/step"))
        deadline = time.time() + 120
        while len(store.metrics("victim", "train/step")) <= start and time.time() < deadline:
            if proc.poll() is not None:
                return False
            time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.4))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return True


def check_kill_and_resume(tmp_path, kills: int, seed: int) -> None:
    """Start the run, SIGKILL it and each of `kills - 1` resumes at random moments (separate processes),
    then resume it to the end in this process."""
    rng = random.Random(seed)
    db = tmp_path / "replab.db"
    store = Store(db)
    proc = toy_process("run", "toy", *ARGS, "--run-id", "victim", "--store", db)
    killed_at = []  # committed steps at each kill
    for i in range(kills):
        if not kill_at_random(proc, store, rng, after_a_step=i == 0):  # it finished before the kill
            out = proc.communicate(timeout=300)[0]
            assert proc.returncode == 0, out
            break
        assert store.reap() == ["victim"] and store.get_run("victim").status == "killed"
        killed_at.append(len(store.metrics("victim", "train/step")))
        if i < kills - 1:
            proc = toy_process("run", "--resume", "victim", "--quiet", "--store", db)
    if store.get_run("victim").status != "finished":
        assert main(["run", "--resume", "victim", "--quiet", "--store", str(db)]) == 0
    assert store.get_run("victim").status == "finished"
    print(f"killed with {killed_at} of {STEPS} steps committed")
    assert any(0 < n < STEPS for n in killed_at), killed_at  # at least one kill landed mid-run
    for key in KEYS:
        rows = store.metrics("victim", key)
        assert [s for _, s, _ in rows] == list(range(STEPS)), key  # none lost
        assert all(v == value(key, s) for _, s, v in rows), key  # none altered
    total, distinct = store.conn.execute(
        "SELECT COUNT(*), COUNT(DISTINCT key || '@' || step) FROM metrics WHERE run='victim'"
    ).fetchone()
    assert total == distinct == STEPS * len(KEYS)  # none duplicated
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_random_kills_during_commit_and_resume_lose_and_duplicate_nothing(tmp_path, toy):
    check_kill_and_resume(tmp_path, kills=2, seed=18)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_many_random_kills(tmp_path, toy, seed):
    check_kill_and_resume(tmp_path, kills=6, seed=100 + seed)
