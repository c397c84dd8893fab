"""Sweeps: K seeds of one experiment in parallel local processes writing to one run store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from replab.errors import ReplabError
from replab.launch import new_run_id
from replab.track import lifeline
from replab.track.store import Store


def run_sweep(
    name: str,
    seeds: list[int],
    preset: str,
    overrides: list[str],
    store: Store,
    device: str = "cpu",
    workers: int | None = None,
    quiet: bool = False,
) -> dict[str, str]:
    """Run `replab run NAME --seed s` for every seed, at most `workers` at a time; return {run id: status}.

    Each worker gets cores // workers torch threads (at least 1). Logs go to `runs/<run-id>/stdout.log`.
    Progress is read back from the store, where every worker reports the fraction it has done. Workers
    get SIGTERM when this process dies, even by SIGKILL (`track/lifeline.py`), and mark their runs killed.
    """
    cores = os.cpu_count() or 1
    workers = max(1, min(workers or cores, len(seeds)))
    env = lifeline.child_env(
        dict(
            os.environ,
            REPLAB_THREADS=str(max(1, cores // workers)),
            OMP_NUM_THREADS=str(max(1, cores // workers)),
        )
    )
    pending = [(s, new_run_id(name, s)) for s in seeds]
    running: dict[str, tuple[subprocess.Popen, object]] = {}
    status: dict[str, str] = {}
    console = Console(file=sys.stderr)
    lines = PlainSweepLines(console.file) if not quiet and not console.is_terminal else None
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or lines is not None,  # a log file gets plain lines instead of a clipped live bar
    )
    tasks = {rid: progress.add_task(f"{name} seed {s}", total=1.0, status="queued") for s, rid in pending}
    with progress:
        while pending or running:
            while pending and len(running) < workers:
                seed, rid = pending.pop(0)
                folder = store.root / rid
                folder.mkdir(parents=True, exist_ok=True)
                cmd = [
                    sys.executable,
                    "-m",
                    "replab",
                    "run",
                    name,
                    "--seed",
                    str(seed),
                    "--preset",
                    preset,
                    "--device",
                    device,
                    "--store",
                    str(store.path),
                    "--run-id",
                    rid,
                    "--quiet",
                    *overrides,
                ]
                log = open(Path(folder) / "stdout.log", "w")  # closed when the process ends
                running[rid] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log)
            time.sleep(0.5)
            for rid, (proc, log) in list(running.items()):
                code = proc.poll()
                if code is not None:
                    log.close()
                    del running[rid]
                    status[rid] = (
                        "finished" if code == 0 else f"failed (exit {code}, see runs/{rid}/stdout.log)"
                    )
            for rid, task in tasks.items():
                try:
                    rec = store.get_run(rid)
                    done, state = rec.progress, status.get(rid, rec.status)
                except ReplabError:  # not yet created by its worker
                    done, state = 0.0, status.get(rid, "starting" if rid in running else "queued")
                progress.update(task, completed=done, status=state)
                if lines is not None:
                    lines.update(progress.tasks[task].description, done, state)
    return status


class PlainSweepLines:
    """One line per seed whenever its status changes or it passes another 10%, for a log file."""

    def __init__(self, file):
        self.file = file
        self.last: dict[str, tuple[str, int]] = {}

    def update(self, description: str, done: float, state: str) -> None:
        key = (state, int(10 * done))
        if self.last.get(description) != key:
            self.last[description] = key
            print(f"{description}: {100 * done:.0f}% {state}", file=self.file, flush=True)
