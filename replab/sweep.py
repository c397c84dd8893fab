"""Sweeps: a grid of configs × seeds of one experiment, on local processes or Ray tasks, into one run store.

One code path for both backends (`sweep_backends.py`): every trial runs `replab run` in a scratch store
of its own (`sweep_trial.py`) and hands its run back; this driver alone writes the real store
(`sweep_merge.py`), retries a trial whose worker died or whose run failed, and shows a live table of
the trials (a line per change in a log file).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from replab.sweep_backends import TrialLost
from replab.sweep_merge import merge
from replab.sweep_trial import Trial
from replab.track.store import Store


def run_sweep(
    trials: list[Trial],
    store: Store,
    backend,
    retries: int = 1,
    quiet: bool = False,
    on_tick: Callable[[dict, dict], None] | None = None,
) -> dict[str, str]:
    """Run every trial on `backend`, each up to 1 + `retries` times; return {run id: status}, the status
    'finished' or 'failed (why, ...)'. Only finished runs and the last attempt of a failed trial reach
    the store. `on_tick(live, attempts)` is called about twice a second with the backend's
    {run id: (fraction done, worker pid)} and {run id: attempts started}."""
    status: dict[str, str] = {}
    attempts = {t.run_id: 1 for t in trials}
    handles = {backend.submit(t, 1): t for t in trials}
    console = Console(file=sys.stderr)
    lines = PlainSweepLines(console.file) if not quiet and not console.is_terminal else None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("try {task.fields[attempt]}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or lines is not None,  # a log file gets plain lines instead of a clipped live bar
    )
    rows = {t.run_id: progress.add_task(t.description, total=1.0, status="queued", attempt=1) for t in trials}
    notes: dict[str, str] = {}
    try:
        with progress:
            while handles:
                for handle in backend.wait(list(handles), timeout=0.5):
                    trial = handles.pop(handle)
                    rid = trial.run_id
                    payload, why = _outcome(backend, handle)
                    if why is None:
                        merge(store, payload)
                        status[rid] = "finished"
                    elif attempts[rid] <= retries:
                        attempts[rid] += 1
                        notes[rid] = f"retrying: {why}"
                        handles[backend.submit(trial, attempts[rid])] = trial
                    else:
                        merged = payload is not None and merge(store, payload) is not None
                        log = f", see runs/{rid}/stdout.log" if merged else ""
                        status[rid] = f"failed ({why}{log})"
                live = backend.progress()
                for rid, task in rows.items():
                    done, state = _state(rid, live, status, notes, handles)
                    progress.update(task, completed=done, status=state, attempt=attempts[rid])
                    if lines is not None:
                        lines.update(f"{progress.tasks[task].description} (try {attempts[rid]})", done, state)
                if on_tick is not None:
                    on_tick(live, dict(attempts))
    finally:
        backend.close()
    return {t.run_id: status[t.run_id] for t in trials}


def _outcome(backend, handle) -> tuple[dict | None, str | None]:
    """(payload, None) for a finished run, else (payload or None, why it did not finish)."""
    try:
        payload = backend.result(handle)
    except TrialLost as exc:
        return None, f"worker lost: {exc}"
    run = payload.get("run")
    if payload["exit"] == 0 and run is not None and run["status"] == "finished":
        return payload, None
    why = f"exit {payload['exit']}"
    if run is not None and run.get("reason"):
        why += f": {run['reason']}"
    elif run is None and payload.get("log_tail"):
        why += f": {payload['log_tail'].splitlines()[-1][:200]}"
    return payload, why


def _state(rid: str, live: dict, status: dict, notes: dict, handles: dict) -> tuple[float, str]:
    if rid in status:
        return (1.0 if status[rid] == "finished" else live.get(rid, (0.0,))[0]), status[rid].split(" (")[0]
    if rid in live:
        return live[rid][0], "running"
    return 0.0, "retrying" if rid in notes else "queued"


class PlainSweepLines:
    """One line per trial whenever its status changes or it passes another 10%, for a log file."""

    def __init__(self, file):
        self.file = file
        self.last: dict[str, tuple[str, int]] = {}

    def update(self, description: str, done: float, state: str) -> None:
        key = (state, int(10 * done))
        if self.last.get(description) != key:
            self.last[description] = key
            print(f"{description}: {100 * done:.0f}% {state}", file=self.file, flush=True)
