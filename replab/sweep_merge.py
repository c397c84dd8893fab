"""The sweep's one writer: a trial's payload (`sweep_trial.py`) into the run store, whole or not at all.

The run's row and all its metric rows go in one transaction, after its files are written to
`<store folder>/<run-id>/`; a run id already in the store is left as it is (a payload merged twice, by a
driver that died between the two steps and resumed, is not duplicated).
"""

from __future__ import annotations

import os
from pathlib import Path

from replab.track.store import Store


def merge(store: Store, payload: dict, status: str | None = None) -> str | None:
    """Write the trial's run into `store`; return its id (None when the trial created no run).

    `status` overrides the stored status (a worker SIGKILLed mid-run leaves its scratch row 'running':
    it is merged 'killed')."""
    row = payload.get("run")
    if row is None:
        return None
    row = dict(row)
    if status is not None:
        row["status"] = status
    if row["status"] == "running":
        row["status"] = "killed"
    run_id = row["id"]
    if store.has_run(run_id):
        return run_id
    folder = store.root / run_id
    for rel, data in payload.get("files", {}).items():
        _write(folder / rel, data)
    columns = [c for c in row if c in _columns(store)]
    with store.conn:
        store.conn.execute("BEGIN IMMEDIATE")
        store.conn.execute(
            f"INSERT INTO runs ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [row[c] for c in columns],
        )
        store.conn.executemany(
            "INSERT OR REPLACE INTO metrics VALUES (?, ?, ?, ?)",
            [(run_id, k, s, v) for k, s, v in payload.get("metrics", [])],
        )
    return run_id


def _columns(store: Store) -> set[str]:
    return {r[1] for r in store.conn.execute("PRAGMA table_info(runs)")}


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)
