"""Issue 17 §4: written to a log file or a pipe, progress comes out as plain, complete lines
(`tunnel: 280/1000 (28%) elapsed 0:42 eta 1:48 loss=0.31`), not a clipped live bar."""

import io
import re

from rich.console import Console

from replab.track import progress as progress_module
from replab.track.progress import ProgressBar, duration

LINE = re.compile(r"^toy: (\d+)/1000 \((\d+)%\) elapsed \d+:\d\d eta (\d+:\d\d|\?)( loss=\S+)?$")


def test_a_log_gets_complete_lines(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    log = io.StringIO()
    with ProgressBar(1000, "toy", completed=100, console=Console(file=log)) as bar:
        for i in range(900):
            clock[0] += 0.05  # 45 s in all: a line at every 10% (at most one a second)
            bar.advance(1, loss=1.0 / (i + 1))
    lines = log.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert lines[0] == "toy: 100/1000 (10%) elapsed 0:00 eta ?"
    assert lines[-1].startswith("toy: 1000/1000 (100%) elapsed 0:45 eta 0:00 loss=0.00111")
    assert [int(LINE.match(x).group(2)) for x in lines] == list(range(10, 101, 10))
    assert "━" not in log.getvalue() and "…" not in log.getvalue()
    assert lines[1] == "toy: 200/1000 (20%) elapsed 0:05 eta 0:40 loss=0.01"


def test_a_slow_run_gets_a_line_every_30_seconds(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
    log = io.StringIO()
    with ProgressBar(10_000, "slow", console=Console(file=log)) as bar:
        for _ in range(100):
            clock[0] += 3.0
            bar.advance(1)
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 + 10  # the start, then one per 30 s (the last one is also the end)
    assert lines[-1].startswith("slow: 100/10000 (1%) elapsed 5:00 eta 8:15:00")
    assert lines[1] == "slow: 10/10000 (0%) elapsed 0:30 eta 8:19:30"


def test_a_terminal_still_gets_the_live_bar():
    out = io.StringIO()
    with ProgressBar(10, "toy", console=Console(file=out, force_terminal=True, width=80)) as bar:
        bar.advance(5)
    assert "━" in out.getvalue() and "toy: 5/10" not in out.getvalue()


def test_quiet_draws_nothing_but_reports_the_fraction():
    seen = []
    with ProgressBar(4, "toy", enabled=False, on_update=seen.append) as bar:
        bar.advance(2)
    assert seen == [0.5]


def test_duration():
    assert [duration(s) for s in (0, 42, 108, 3599.6, 3600, 30_000)] == [
        "0:00",
        "0:42",
        "1:48",
        "1:00:00",
        "1:00:00",
        "8:20:00",
    ]


def test_a_sweep_logs_a_line_per_change():
    from replab.sweep import PlainSweepLines

    log = io.StringIO()
    lines = PlainSweepLines(log)
    for done, state in [(0, "queued"), (0, "queued"), (0, "running"), (0.05, "running"), (0.12, "running")]:
        lines.update("toy seed 0", done, state)
    lines.update("toy seed 1", 0.0, "starting")
    lines.update("toy seed 0", 1.0, "finished")
    assert log.getvalue().splitlines() == [
        "toy seed 0: 0% queued",
        "toy seed 0: 0% running",
        "toy seed 0: 12% running",
        "toy seed 1: 0% starting",
        "toy seed 0: 100% finished",
    ]
