"""The run store's file: checks on its path, the connection, the tables and their migration, NaN encoding.

Every way a `--store` path can fail to hold a store (empty, a folder, a folder that cannot be created or
written, a read-only or foreign file, a damaged database) raises a one-line ReplabError naming the fix,
before anything is written. SQLite stores a bound NaN as NULL, which the NOT NULL `value` column
refuses, so NaN is stored as the text 'nan' (REAL affinity keeps it text); ±inf are REAL values.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from replab.errors import ReplabError

NAN_TEXT = "nan"
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    preset TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    git_rev TEXT,
    status TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL,
    host TEXT NOT NULL,
    pid INTEGER,
    heartbeat REAL,
    progress REAL DEFAULT 0,
    verdict TEXT,
    summary TEXT,
    reason TEXT,
    threads INTEGER,
    claims TEXT
);
CREATE TABLE IF NOT EXISTS metrics (
    run TEXT NOT NULL,
    key TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (run, key, step)
) WITHOUT ROWID;
"""


# Columns added to `runs` after the first release, with their types: an older store gains them on open.
_ADDED_COLUMNS = {"reason": "TEXT", "threads": "INTEGER", "claims": "TEXT"}


def encode_value(value: float) -> float | str:
    """The value as stored: NaN as the text 'nan' (SQLite would store NULL), anything else unchanged."""
    return NAN_TEXT if value != value else value


def decode_value(value) -> float:
    return float(value) if isinstance(value, str) else value


_SQLITE_HEADER = b"SQLite format 3\x00"
_FIXES = {
    "not a database": "it is not a replab run store: choose another --store path",
    "malformed": "it is damaged: move it aside (its rows can be recovered with 'sqlite3 {path} .recover')",
    "readonly": "it is read-only: make it and its folder writable, or choose another --store path",
    "unable to open": "it cannot be opened: check the path and its permissions, or choose another --store path",
    "locked": "another process holds its lock: wait for it to finish, or choose another --store path",
    "disk is full": "the disk is full: free some space",
}


def damaged(path: Path, exc: BaseException | str) -> ReplabError:
    """The one-line error for a store SQLite cannot use, with the fix for what SQLite said."""
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    fix = next((f for k, f in _FIXES.items() if k in said.lower()), _FIXES["malformed"])
    return ReplabError(f"run store {path} cannot be used (sqlite: {said}); {fix.format(path=path)}")


def _check_path(raw) -> tuple[Path, Path | None]:
    """The store's path and the folder created for it (None if it existed), after checks that name the fix."""
    if not str(raw).strip():
        raise ReplabError("the run store path is empty; give a file such as --store runs/replab.db")
    path = Path(raw)
    if path.is_dir():
        raise ReplabError(
            f"run store {path} is a folder; give a database file in it, e.g. --store {path / 'replab.db'}"
        )
    folder, created = path.parent, None
    if not folder.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReplabError(
                f"cannot create the folder {folder} for the run store ({exc.strerror or exc}); choose another --store path"
            ) from None
        created = folder
    elif not folder.is_dir():
        raise ReplabError(f"run store {path}: {folder} is not a folder; choose another --store path")
    if path.exists():
        if not path.is_file():
            raise ReplabError(f"run store {path} is not a regular file; choose another --store path")
        with open(path, "rb") as f:
            header = f.read(len(_SQLITE_HEADER))
        if header and header != _SQLITE_HEADER:
            raise ReplabError(
                f"{path} is not a replab run store (not an SQLite database); choose another --store path"
            )
        if not os.access(path, os.R_OK | os.W_OK):
            raise ReplabError(
                f"run store {path} is read-only; make it writable (chmod u+rw) or choose another --store path"
            )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ReplabError(
            f"the folder {folder} of run store {path} is not writable (the store keeps its journal beside it); "
            "make it writable or choose another --store path"
        )
    return path, created


def connect(raw, timeout: float) -> tuple[Path, sqlite3.Connection, Path | None]:
    """(path, connection, folder created for it or None): WAL mode, tables created or migrated."""
    path, created = _check_path(raw)
    conn = None
    try:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and not tables & {"runs", "metrics"}:
            raise ReplabError(
                f"{path} is an SQLite database but not a replab run store; choose another --store path"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            migrate(conn)
    except (sqlite3.DatabaseError, ReplabError) as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, ReplabError):
            raise
        raise damaged(path, exc) from None
    return path, conn, created


def migrate(conn: sqlite3.Connection) -> None:
    """Create the tables, or add the columns an older store lacks; every row is kept as it is."""
    with conn:
        conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then find it done
        for statement in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(statement)
        have = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in have:
                conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def quick_check(path: Path, conn: sqlite3.Connection) -> None:
    """A one-line ReplabError when SQLite finds the store damaged (`PRAGMA quick_check`, O(size))."""
    try:
        result = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        raise damaged(path, exc) from None
    if result != ["ok"]:
        raise damaged(path, f"database disk image is malformed: {result[0]}")
