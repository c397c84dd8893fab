"""The run store: one SQLite database (WAL mode) indexing runs and their metrics (DESIGN §4).

Several processes (a sweep) may write to one store at once: each opens its own connection, SQLite's
WAL journal lets readers proceed during a write, and writers wait on the lock (``busy_timeout``).
Metrics are keyed by (run, key, step) and written with upsert semantics, so a resumed run that
re-logs the steps after its last checkpoint replaces them rather than duplicating them.

NaN metrics are stored as the text 'nan' and read back as floats; opening a store checks its path,
creates or migrates its tables and names the fix for a bad path in one line (`store_file.py`).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from replab.errors import ReplabError, close_matches
from replab.track.ids import check_run_id, shown
from replab.track.store_file import connect, decode_value, encode_value, quick_check

DEFAULT_STORE = "runs/replab.db"
STATUSES = ("running", "finished", "failed", "killed")


def default_store_path() -> Path:
    """`REPLAB_STORE` if set, else `runs/replab.db` under the current directory."""
    return Path(os.environ.get("REPLAB_STORE") or DEFAULT_STORE)


@dataclass
class RunRecord:
    id: str
    experiment: str
    preset: str
    config: dict
    seed: int
    git_rev: str | None
    status: str
    start: float
    end: float | None
    host: str
    pid: int | None
    progress: float
    verdict: str | None
    summary: dict
    reason: str | None = None
    """Why a failed run failed (the error), or None."""
    threads: int | None = None
    """torch's intra-op thread count the run ran with (results depend on it)."""
    claims: list = field(default_factory=list)
    """The records of the report's headline decisions (`track/claims.py`), pooled by `replab ledger`."""

    @property
    def dir(self) -> str:
        return self.id


class Store:
    """A connection to the run store at `path` (created if missing; `created_folder` is the folder made
    for it, if any). A path that cannot hold a store raises a one-line ReplabError naming the fix."""

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 60.0):
        self.path, self.conn, self.created_folder = connect(
            path if path is not None else default_store_path(), timeout
        )

    def check(self) -> None:
        """Raise a one-line ReplabError when SQLite finds the store damaged (`PRAGMA quick_check`)."""
        quick_check(self.path, self.conn)

    def has_run(self, run_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone() is not None

    @property
    def root(self) -> Path:
        """The folder that holds `runs/<run-id>/` artifact folders: the store's own folder."""
        return self.path.parent

    def close(self) -> None:
        self.conn.close()

    # -- runs ---------------------------------------------------------------------------------------
    def create_run(
        self,
        run_id: str,
        experiment: str,
        preset: str,
        config: dict,
        seed: int,
        git_rev: str | None,
        threads: int | None = None,
    ) -> None:
        """Insert a new 'running' run owned by this process; a ReplabError if the id is unsafe or taken."""
        check_run_id(run_id)
        now = time.time()
        try:
            self._insert_run(run_id, experiment, preset, config, seed, git_rev, threads, now)
        except sqlite3.IntegrityError:
            raise run_exists(run_id) from None

    def _insert_run(self, run_id, experiment, preset, config, seed, git_rev, threads, now) -> None:
        self.conn.execute(
            "INSERT INTO runs (id, experiment, preset, config, seed, git_rev, status, start, host, pid,"
            " heartbeat, threads) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
            (
                run_id,
                experiment,
                preset,
                json.dumps(config),
                seed,
                git_rev,
                now,
                socket.gethostname(),
                os.getpid(),
                now,
                threads,
            ),
        )

    def set_running(self, run_id: str, threads: int | None = None) -> None:
        """Mark a resumed run as running again, owned by this process (with this segment's threads)."""
        self.conn.execute(
            "UPDATE runs SET status='running', end=NULL, reason=NULL, pid=?, host=?, heartbeat=?,"
            " threads=COALESCE(?, threads) WHERE id=?",
            (os.getpid(), socket.gethostname(), time.time(), threads, run_id),
        )

    def heartbeat(self, run_id: str, progress: float | None = None) -> None:
        if progress is None:
            self.conn.execute("UPDATE runs SET heartbeat=? WHERE id=?", (time.time(), run_id))
        else:
            self.conn.execute(
                "UPDATE runs SET heartbeat=?, progress=? WHERE id=?", (time.time(), float(progress), run_id)
            )

    def finish(
        self,
        run_id: str,
        status: str,
        verdict: str | None = None,
        summary: dict | None = None,
        reason: str | None = None,
        claims: list | None = None,
    ) -> None:
        """End a run with `status`; a failed run keeps its progress and records `reason` (the error);
        a finished run records its report's verdict, summary numbers and headline `claims` records."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        self.conn.execute(
            "UPDATE runs SET status=?, end=?, verdict=COALESCE(?, verdict), summary=COALESCE(?, summary),"
            " claims=COALESCE(?, claims), reason=?, progress=CASE WHEN ?='finished' THEN 1 ELSE progress END"
            " WHERE id=?",
            (
                status,
                time.time(),
                verdict,
                json.dumps(summary) if summary is not None else None,
                json.dumps(claims) if claims is not None else None,
                reason,
                status,
                run_id,
            ),
        )

    def reap(self) -> list[str]:
        """Mark as killed every 'running' run of this host whose process no longer exists.

        A SIGKILL cannot be caught, so the dead run is found here, the next time the store is used.
        """
        host = socket.gethostname()
        rows = self.conn.execute("SELECT id, pid FROM runs WHERE status='running' AND host=?", (host,))
        dead = [rid for rid, pid in rows.fetchall() if pid is not None and not _alive(pid)]
        for rid in dead:
            self.conn.execute(
                "UPDATE runs SET status='killed', end=heartbeat WHERE id=? AND status='running'", (rid,)
            )
        return dead

    def get_run(self, run_id: str) -> RunRecord:
        row = self.conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            known = [r[0] for r in self.conn.execute("SELECT id FROM runs ORDER BY start DESC LIMIT 200")]
            raise ReplabError(
                f"no run with id {shown(run_id)} in {self.path}{close_matches(run_id, known)}; "
                "'replab runs' lists the runs in this store"
            )
        return _record(row)

    def runs(
        self, experiment: str | None = None, status: str | None = None, preset: str | None = None
    ) -> list[RunRecord]:
        query, args = f"SELECT {_RUN_COLUMNS} FROM runs WHERE 1=1", []
        for column, value in (("experiment", experiment), ("status", status), ("preset", preset)):
            if value is not None:
                query += f" AND {column}=?"
                args.append(value)
        return [_record(r) for r in self.conn.execute(query + " ORDER BY start", args).fetchall()]

    # -- metrics ------------------------------------------------------------------------------------
    def write_metrics(self, run_id: str, rows: Iterable[tuple[str, int, float]]) -> None:
        """Write (key, step, value) rows in one transaction; a repeated (key, step) replaces the old value."""
        rows = [(run_id, k, int(s), encode_value(float(v))) for k, s, v in rows]
        if not rows:
            return
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)", rows)

    def metrics(
        self, run_id: str, key: str | None = None, prefixes: tuple[str, ...] = ()
    ) -> list[tuple[str, int, float]]:
        """All (key, step, value) rows of a run (or those of `key`, or of keys starting with one of
        `prefixes`), ordered by key then step (NaN and ±inf as floats)."""
        if prefixes:
            where = " OR ".join("substr(key, 1, ?) = ?" for _ in prefixes)
            args = [a for p in prefixes for a in (len(p), p)]
            cur = self.conn.execute(
                f"SELECT key, step, value FROM metrics WHERE run=? AND ({where}) ORDER BY key, step",
                (run_id, *args),
            )
        elif key is None:
            cur = self.conn.execute(
                "SELECT key, step, value FROM metrics WHERE run=? ORDER BY key, step", (run_id,)
            )
        else:
            cur = self.conn.execute(
                "SELECT key, step, value FROM metrics WHERE run=? AND key=? ORDER BY step", (run_id, key)
            )
        return [(k, s, decode_value(v)) for k, s, v in cur.fetchall()]


_RUN_COLUMNS = (
    "id, experiment, preset, config, seed, git_rev, status, start, end, host, pid, progress, verdict, summary,"
    " reason, threads, claims"
)


def _record(row) -> RunRecord:
    (rid, exp, preset, config, seed, rev, status, start, end, host, pid, progress, verdict, summary) = row[
        :14
    ]
    return RunRecord(
        rid,
        exp,
        preset,
        json.loads(config),
        seed,
        rev,
        status,
        start,
        end,
        host,
        pid,
        progress or 0.0,
        verdict,
        json.loads(summary) if summary else {},
        reason=row[14],
        threads=row[15],
        claims=json.loads(row[16]) if row[16] else [],
    )


def run_exists(run_id: str) -> ReplabError:
    return ReplabError(
        f"a run with id {shown(run_id)} already exists; choose another --run-id, or continue it with "
        f"'replab run --resume {run_id}'"
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) still answers kill(0): read its state.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True
