"""A run's wall and CPU time over its segments, kept in `runs/<run-id>/timing.json` (written atomically)."""

from __future__ import annotations

import json
import os
import resource
import tempfile
import time
from pathlib import Path

from replab.errors import ReplabError


class Clock:
    """Wall and CPU seconds of a run (its own process plus its finished worker processes), and the machine's
    load, accumulated over the segments of a resumed run: CPU seconds say what the run costs on an idle
    machine when the wall time was taken on a shared one. A segment ended by SIGKILL records nothing; the
    `open` mark it leaves behind is counted as an unrecorded segment when the run is resumed."""

    def __init__(self, path: Path):
        self.path, self.t0, self.cpu0 = path, time.time(), _cpu_seconds()
        self.load0 = os.getloadavg()[0]
        t = read(path)
        t["unrecorded_segments"] = t.get("unrecorded_segments", 0) + int(t.pop("open", False))
        _write(path, {**t, "open": True})

    def save(self) -> None:
        t = read(self.path)
        t.pop("open", None)
        t["wall_s"] += time.time() - self.t0
        t["cpu_s"] += _cpu_seconds() - self.cpu0
        t["load"] += [round(self.load0, 1), round(os.getloadavg()[0], 1)]
        t["cores"] = os.cpu_count()
        _write(self.path, t)

    @staticmethod
    def describe(t: dict) -> str:
        load = ", ".join(str(x) for x in t.get("load", []))
        load = f"; load average at start and end: {load}" if load else ""
        lost = t.get("unrecorded_segments", 0)
        lost = f"; plus {lost} earlier segment(s) killed without recording their time" if lost else ""
        return (
            f"{t['wall_s'] / 60:.1f} min wall, {t['cpu_s'] / 60:.1f} min CPU "
            f"(all processes, {t.get('cores', '?')} cores{load}{lost})"
        )


def read(path: Path) -> dict:
    """The timing record at `path` (empty if missing); a one-line ReplabError naming the fix if damaged."""
    if not path.exists():
        return {"wall_s": 0.0, "cpu_s": 0.0, "load": []}
    try:
        t = json.loads(path.read_text())
        if not isinstance(t, dict) or not {"wall_s", "cpu_s", "load"} <= t.keys():
            raise ValueError("fields missing")
        float(t["wall_s"]) + float(t["cpu_s"])
        return t
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ReplabError(
            f"{path} (the run's time record) is damaged ({exc}); delete it and retry "
            "(the report then leaves out the time of the earlier segments)"
        ) from None


def _write(path: Path, t: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".timing-", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(t, f)
    os.replace(tmp, path)


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
