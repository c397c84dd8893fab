"""`replab sweep --resume` after a killed sweep: find its unfinished trials in the scratch folders, claim them.

A local sweep runs each trial in `runs/.sweep/<run-id>/` (`sweep_trial.py`). When the whole sweep is killed
(a session that ends, a machine that reboots), those folders keep each trial's scratch store and its last
checkpoint. A later `sweep --resume` of the same experiment and preset adopts, for each trial it still has
to run, the folder of a run with the same seed and config that has a checkpoint, no live process, the
device, precision and compilation the sweep asks for, and that no other driver holds; the trial keeps that
run id, so `execute_trial` continues it. Every local driver holds an exclusive lock (`<run-id>.lock` beside
the folder, `flock`) on each of its trials for as long as it runs, so two sweeps never run one trial.
"""

from __future__ import annotations

import fcntl
import json
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from replab.execution import started_with
from replab.track.store import _alive


@dataclass
class Adopted:
    """A killed sweep's trial that this driver continues."""

    run_id: str
    done: float
    """the fraction done its run last reported (its checkpoint may be a little behind)"""
    lock: IO


def claim(scratch_root: Path, run_id: str) -> IO | None:
    """An exclusive lock on the trial `run_id` for this process (held until closed or the process ends);
    None when another driver holds it."""
    Path(scratch_root).mkdir(parents=True, exist_ok=True)
    handle = open(Path(scratch_root) / f"{run_id}.lock", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def interrupted(
    scratch_root: Path,
    experiment: str,
    preset: str,
    execution: dict,
    known: Callable[[str], bool] = lambda run_id: False,
) -> tuple[dict[tuple[int, str], Adopted], list[str]]:
    """({(seed, config as canonical JSON): the adopted run}, notes) of the runs of `experiment` at `preset`
    that a killed sweep left in `scratch_root`; each adopted run is claimed (`claim`). Of two runs of one
    trial, the one further along. `execution` is {device, amp, compile} of this sweep (a run started
    otherwise is left, with a note); `known(run_id)` is true of a run the store already holds (left too)."""
    candidates, notes = [], []
    for db in sorted(Path(scratch_root).glob("*/replab.db")):
        run_id = db.parent.name
        folder = db.parent / run_id
        row = _row(db, run_id)
        if row is None or not (folder / "checkpoint.pt").exists() or known(run_id):
            continue
        exp, pre, seed, config, status, progress, pid, host = row
        if (exp, pre) != (experiment, preset) or status not in ("running", "killed"):
            continue
        if status == "running" and (host != socket.gethostname() or pid is None or _alive(pid)):
            continue  # a run still going (in another sweep), or one whose death this host cannot tell
        was = started_with(folder)
        if was is not None and was != execution:
            notes.append(f"{run_id} (seed {seed}) started with {was}, not {execution}: left as it is")
            continue
        candidates.append(
            (-float(progress or 0.0), run_id, (seed, json.dumps(json.loads(config), sort_keys=True)))
        )
    adopted: dict[tuple[int, str], Adopted] = {}
    for minus_done, run_id, key in sorted(candidates):
        if key not in adopted and (lock := claim(scratch_root, run_id)) is not None:
            adopted[key] = Adopted(run_id, -minus_done, lock)
    return adopted, notes


def _row(db: Path, run_id: str) -> tuple | None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
        try:
            return conn.execute(
                "SELECT experiment, preset, seed, config, status, progress, pid, host FROM runs WHERE id=?",
                (run_id,),
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None
