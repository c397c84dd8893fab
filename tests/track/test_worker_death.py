"""Issue 18 §2: SIGKILL of a run's process leaves no worker behind: `_jobs.run_jobs` pool workers (and
the pool's resource tracker) and a sweep's `replab run` children die within seconds, and the run store
shows the run killed, not running."""

import os
import signal
import subprocess
import sys
import time

from track_helpers import TOY, cli, toy_process

from replab.track.store import Store, _alive


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(") ", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def wait_for(predicate, seconds: float, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def kill_and_expect_orphans_gone(parent, pids: set[int], seconds: float = 5.0) -> None:
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    try:
        wait_for(
            lambda: not any(_alive(p) for p in pids), seconds, f"processes {pids} to die with their parent"
        )
    finally:
        for p in pids:  # a failing test leaves nothing behind either
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def test_pool_workers_die_with_their_parent(tmp_path):
    parent = toy_process("pool", tmp_path)
    wait_for(lambda: len(list(tmp_path.glob("worker-*"))) == 2, 60, "two workers to start")
    workers = {int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")}
    assert all(int((tmp_path / f"worker-{w}").read_text()) == parent.pid for w in workers)
    family = children(parent.pid)  # the workers and the resource tracker
    assert workers <= family
    kill_and_expect_orphans_gone(parent, family)


def test_a_sweep_worker_dies_with_the_sweep_and_is_not_a_ghost(tmp_path, capsys):
    """The sweep's way of starting workers (`lifeline.child_env`): the child arms itself with SIGTERM and
    marks its run killed."""
    db = tmp_path / "replab.db"
    code = (
        "import subprocess, sys, time\n"
        "from replab.track import lifeline\n"
        f"argv = [sys.executable, {str(TOY)!r}, 'run', 'toy', '--steps', '100000', '--sleep', '0.01',"
        f" '--quiet', '--run-id', 'w', '--store', {str(db)!r}]\n"
        "child = subprocess.Popen(argv, env=lifeline.child_env(dict(__import__('os').environ)))\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    sweep = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    worker = int(sweep.stdout.readline())
    store = wait_for(lambda: db.exists() and Store(db), 60, "the store")
    wait_for(lambda: store.has_run("w") and store.get_run("w").progress > 0, 60, "the worker's run to start")
    kill_and_expect_orphans_gone(sweep, {worker}, seconds=20)  # < 1 s idle; it commits and marks the run
    assert store.get_run("w").status == "killed"  # marked by the worker itself on SIGTERM
    assert cli(capsys, "runs", "--store", db)[1].count(" killed ") == 1
