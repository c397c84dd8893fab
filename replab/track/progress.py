"""Live progress display: steps, chosen metrics and ETA, drawn with rich on a terminal."""

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
    completed fraction so the run store can report progress to a parent process.
    """

    def __init__(
        self,
        total: int,
        description: str,
        completed: int = 0,
        enabled: bool = True,
        on_update: Callable[[float], None] | None = None,
        console: Console | None = None,
    ):
        if total <= 0:
            raise ValueError(f"progress total must be positive, got {total}")
        self.total, self.completed, self.on_update = total, completed, on_update
        self._progress = None
        if enabled:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[shown]}"),
                console=console or Console(file=sys.stderr),
                transient=False,
            )
            self._task = self._progress.add_task(description, total=total, completed=completed, shown="")

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, n: int = 1, **metrics: float) -> None:
        self.completed = min(self.total, self.completed + n)
        if self._progress is not None:
            shown = "  ".join(f"{k}={_fmt(v)}" for k, v in metrics.items())
            self._progress.update(self._task, completed=self.completed, shown=shown)
        if self.on_update is not None:
            self.on_update(self.completed / self.total)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


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
