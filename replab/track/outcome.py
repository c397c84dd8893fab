"""What a run leaves in its folder besides checkpoints: results.json, and a report for a failed run; the
advice when the results are missing (`replab report` and `replab run --resume` agree on it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from replab.track.store import RunRecord, Store


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def read_results(folder: Path) -> dict | None:
    """A run's results.json, or None when it is missing or unreadable (then a resume recomputes it)."""
    try:
        return json.loads((folder / "results.json").read_text())
    except (OSError, ValueError):
        return None


def failure_report(name: str, store: Store, run_id: str, reason: str) -> None:
    """A short report.md for a failed run: why it stopped and where its metrics are."""
    try:
        record = store.get_run(run_id)
        rows = store.conn.execute("SELECT COUNT(*) FROM metrics WHERE run=?", (run_id,)).fetchone()[0]
        text = (
            f"# {name}: run failed\n\n- **run**: {run_id}\n- **preset**: {record.preset}\n"
            f"- **seed**: {record.seed}\n- **progress**: {100 * record.progress:.0f}%\n\n"
            f"**The run failed**: {reason}\n\nThe {rows} metric rows it logged before are kept in the run "
            f"store ({store.path}). 'replab run --resume {run_id}' continues it from its last checkpoint.\n"
        )
        write_atomic(store.root / run_id / "report.md", text)
    except Exception:  # noqa: S110 - best effort: the run's own error is the one to report
        pass


def no_results(record: RunRecord, path: Path) -> str:
    """Why a run has no results to report, and the command that makes them."""
    what = "is missing" if not path.exists() else "is damaged"
    resume = f"'replab run --resume {record.id}'"
    if record.status == "finished":
        return f"run {record.id} finished, but its results file {path} {what}; {resume} recomputes it"
    if record.status == "running":
        return f"run {record.id} is still running (pid {record.pid}); its report is written when it ends"
    why = f" ({record.reason})" if record.status == "failed" and record.reason else ""
    return f"run {record.id} {record.status}{why} before writing its results; {resume} continues it"
