"""One trial of a sweep, the same on every backend: `replab run` in a scratch store, then its rows and files.

A trial never writes to the sweep's run store. It runs `replab run` as a child process (armed to die with
its parent, `track/lifeline.py`) into a private scratch store in a folder named after the run, and returns
what that run left there: its `runs` row, its metric rows and the files of its run folder. The sweep's
driver is the only writer of the real store (`sweep_merge.py`), so a worker that dies mid-trial leaves
nothing there. Its scratch folder stays: a retry on the same machine continues the run from its last
checkpoint (`replab run --resume`, which replaces the steps logged after it instead of adding them); a
retry elsewhere, or of a run killed before its first checkpoint, starts afresh. The folder is removed once
the run has finished or failed (its payload then holds everything). A later `replab sweep --resume` adopts
the folders that a killed sweep left (`sweep_adopt.py`): their trials keep their run ids and continue too.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from replab.track import lifeline

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
"""The folder that holds this `replab` package: a trial's child imports the driver's own code from it."""
REPLAB = (sys.executable, "-P", "-m", "replab")
"""`replab` as a child process: `-P` keeps the working folder off `sys.path`, so a checkout in the folder
the sweep was started from (e.g. a newer working tree than the driver's frozen copy) cannot shadow the
driver's package; `trial_env` puts the driver's package first on PYTHONPATH."""

SKIP_FILES = ("checkpoint.pt",)
"""Files of a finished run not carried to the store (a finished run is never resumed)."""


@dataclass(frozen=True)
class Trial:
    """A run of the sweep: experiment, preset, seed, the `--FIELD VALUE` arguments and its run id."""

    run_id: str
    experiment: str
    preset: str
    seed: int
    args: tuple[str, ...] = ()
    """the config overrides: the sweep's `--FIELD VALUE` arguments, then the grid point's"""
    flags: tuple[str, ...] = ()
    """run options given to a fresh run and to a resumed one alike (`--amp`, `--stop-on-nonfinite N`)"""
    label: str = ""
    """the grid point, `lr=0.001 width=16` (empty without a grid)"""
    device: str = "cpu"
    threads: int = 1
    """torch threads of the run (REPLAB_THREADS): the CPUs the backend gives the trial"""
    entry: tuple[str, ...] = ()
    """the program that is `replab` (default `REPLAB`: `python -P -m replab` with the Python of the process
    that runs the trial, a Ray node's own; tests name a script that registers a test-only experiment)"""

    def command(self, store: Path) -> list[str]:
        return [
            *(self.entry or REPLAB),
            "run",
            self.experiment,
            "--seed",
            str(self.seed),
            "--preset",
            self.preset,
            "--device",
            self.device,
            "--store",
            str(store),
            "--run-id",
            self.run_id,
            "--quiet",
            *self.flags,
            *self.args,
        ]

    def resume_command(self, store: Path) -> list[str]:
        replab = self.entry or REPLAB
        return [*replab, "run", "--resume", self.run_id, "--device", self.device, "--store", str(store)] + [
            "--quiet",
            *self.flags,
        ]

    @property
    def description(self) -> str:
        return f"{self.experiment} {self.label + ' ' if self.label else ''}seed {self.seed}"


def execute_trial(
    trial: Trial,
    scratch_root: str | os.PathLike | None = None,
    on_progress: Callable[[float, int], None] | None = None,
    poll: float = 0.5,
) -> dict:
    """Run `trial` to its end in its scratch folder (`scratch_root`/<run id>, default under the system's
    temp folder), continuing an earlier attempt's checkpoint there, and return its payload: {"exit":
    code, "run": the runs row or None, "metrics": rows, "files": {relative path: bytes}, "host": ...,
    "log_tail": the last lines of its output, "resumed": whether it continued a checkpoint}.
    `on_progress(fraction done, pid of the run's process)` is called while it runs."""
    work = Path(scratch_root or Path(tempfile.gettempdir()) / "replab-trials") / trial.run_id
    db = work / "replab.db"
    folder = work / trial.run_id
    resume = scratch_status(db, trial.run_id) in ("running", "killed") and (folder / "checkpoint.pt").exists()
    if not resume:  # a fresh start: nothing of an earlier attempt may be in the way
        shutil.rmtree(work, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    env = trial_env(trial.threads)
    command = trial.resume_command(db) if resume else trial.command(db)
    with open(folder / "stdout.log", "a" if resume else "w") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            last = -1.0
            while proc.poll() is None:
                time.sleep(poll)
                done = scratch_progress(db, trial.run_id)
                if on_progress is not None and done is not None and done != last:
                    last = done
                    on_progress(done, proc.pid)
        finally:
            if proc.poll() is None:  # this thread was interrupted: the run must not outlive it
                proc.kill()
                proc.wait()
    payload = collect(db, trial.run_id, proc.returncode)
    payload["resumed"] = resume
    if payload["run"] is not None and payload["run"]["status"] in ("finished", "failed"):
        shutil.rmtree(work, ignore_errors=True)
    return payload


def trial_env(threads: int) -> dict[str, str]:
    """The child's environment: `threads` torch/OpenMP threads, no REPLAB_STORE (it writes its scratch
    store), the lifeline armed, and the driver's package first on PYTHONPATH (the run records and runs the
    driver's code, whatever the folder it is started from holds)."""
    n = str(max(1, threads))
    env = lifeline.child_env(dict(os.environ, REPLAB_THREADS=n, OMP_NUM_THREADS=n))
    env.pop("REPLAB_STORE", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    return env


def scratch_status(db: Path, run_id: str) -> str | None:
    """The status of the run in its scratch store (None when there is none)."""
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
        try:
            row = conn.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def scratch_progress(db: Path, run_id: str) -> float | None:
    """The fraction done that the run reported to its scratch store (None before it exists)."""
    if not db.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            row = conn.execute("SELECT progress FROM runs WHERE id=?", (run_id,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return float(row[0] or 0.0) if row else None


def collect(db: Path, run_id: str, code: int) -> dict:
    """The payload of a trial whose process ended with `code` (see `execute_trial`)."""
    import socket

    folder = db.parent / run_id
    log = folder / "stdout.log"
    tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
    payload = {"exit": code, "run": None, "metrics": [], "files": {}, "host": socket.gethostname()}
    payload["log_tail"] = "\n".join(tail)
    if db.exists():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30.0)
        try:
            cur = conn.execute("SELECT * FROM runs WHERE id=?", (run_id,))
            row = cur.fetchone()
            if row is not None:
                payload["run"] = dict(zip([d[0] for d in cur.description], row))
                payload["metrics"] = conn.execute(
                    "SELECT key, step, value FROM metrics WHERE run=? ORDER BY key, step", (run_id,)
                ).fetchall()
        finally:
            conn.close()
    finished = payload["run"] is not None and payload["run"]["status"] == "finished"
    for path in sorted(folder.rglob("*")) if folder.exists() else []:
        if path.is_file() and not (finished and path.name in SKIP_FILES):
            payload["files"][str(path.relative_to(folder))] = path.read_bytes()
    return payload
