"""Progress display: steps, chosen metrics and ETA, drawn with rich on a terminal; written as plain,
complete lines (`tunnel: 280/1000 (28%) elapsed 0:42 eta 1:48 loss=0.31`) when stderr is a log file or
a pipe, where a live bar would come out clipped (issue 17 §4)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class ProgressBar:
    """A progress bar over `total` units of work; `advance(n, **metrics)` moves it and shows the metrics.

    With `enabled=False` (quiet runs, sweep workers) nothing is drawn, but `on_update` still receives the
    completed fraction so the run store can report progress to a parent process. When the console is not
    a terminal, a line is written every `line_seconds` or at every `line_fraction` of the work (at most
    one a second), and at the end.
    """

    def __init__(
        self,
        total: int,
        description: str,
        completed: int = 0,
        enabled: bool = True,
        on_update: Callable[[float], None] | None = None,
        console: Console | None = None,
        line_seconds: float = 30.0,
        line_fraction: float = 0.1,
    ):
        if total <= 0:
            raise ValueError(f"progress total must be positive, got {total}")
        self.total, self.completed, self.on_update = total, completed, on_update
        self._progress = self._lines = None
        console = console or Console(file=sys.stderr) if enabled else None
        if console is not None and not console.is_terminal:
            self._lines = PlainLines(description, total, completed, console.file, line_seconds, line_fraction)
        elif console is not None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[shown]}"),
                console=console,
                transient=False,
            )
            self._task = self._progress.add_task(description, total=total, completed=completed, shown="")

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        if self._lines is not None:
            self._lines.write(self.completed)
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._lines is not None:
            self._lines.write(self.completed, final=True)

    def advance(self, n: int = 1, **metrics: float) -> None:
        self.completed = min(self.total, self.completed + n)
        if self._progress is not None:
            shown = "  ".join(f"{k}={_fmt(v)}" for k, v in metrics.items())
            self._progress.update(self._task, completed=self.completed, shown=shown)
        if self._lines is not None:
            self._lines.update(self.completed, metrics)
        if self.on_update is not None:
            self.on_update(self.completed / self.total)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def duration(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` from an hour on."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class PlainLines:
    """Progress as complete text lines, for a console that is a file or a pipe."""

    def __init__(self, description: str, total: int, completed: int, file, seconds: float, fraction: float):
        self.description, self.total, self.file = description, total, file
        self.seconds, self.fraction = seconds, fraction
        self.t0 = self.last_time = time.monotonic()
        self.start = self.last_written = completed
        self.metrics: dict = {}

    def line(self, completed: int) -> str:
        elapsed = time.monotonic() - self.t0
        done = completed - self.start
        eta = duration((self.total - completed) * elapsed / done) if done > 0 else "?"
        shown = "".join(f" {k}={_fmt(v)}" for k, v in self.metrics.items())
        percent = 100 * completed / self.total
        return (
            f"{self.description}: {completed}/{self.total} ({percent:.0f}%) "
            f"elapsed {duration(elapsed)} eta {eta}{shown}"
        )

    def update(self, completed: int, metrics: dict) -> None:
        self.metrics = metrics or self.metrics
        now = time.monotonic()
        step = max(1, int(self.fraction * self.total))
        crossed = completed // step > self.last_written // step
        if now - self.last_time >= 1.0 and (crossed or now - self.last_time >= self.seconds):
            self.write(completed)

    def write(self, completed: int, final: bool = False) -> None:
        if final and completed == self.last_written and self.last_time != self.t0:
            return
        print(self.line(completed), file=self.file, flush=True)
        self.last_time, self.last_written = time.monotonic(), completed


class Every:
    """True at most once per `seconds` of wall time (DrQ-v2's `Every`, in seconds rather than steps)."""

    def __init__(self, seconds: float):
        self.seconds, self.last = seconds, time.monotonic()

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self.last >= self.seconds:
            self.last = now
            return True
        return False
