"""Helpers of the run-store reliability tests (issue 18): the CLI in-process and in a process, store checksums."""

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import toy_experiment

from replab.cli import main

TOY = Path(toy_experiment.__file__)


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def toy_process(*argv, **kw) -> subprocess.Popen:
    """`replab ...` with the toy experiment registered, in a separate process."""
    env = dict(os.environ, OMP_NUM_THREADS="1", REPLAB_THREADS="1", **kw.pop("env", {}))
    return subprocess.Popen(
        [sys.executable, str(TOY), *map(str, argv)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kw,
    )


def store_digest(path: Path) -> str:
    """A checksum of every row of the store (or of the file's bytes if it is not a readable store)."""
    path = Path(path)
    if not path.exists():
        return "absent"
    h = hashlib.sha256()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        for table in ("runs", "metrics"):
            for row in conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2"):
                h.update(repr(row).encode())
        conn.close()
    except sqlite3.DatabaseError:
        h.update(path.read_bytes())
    return h.hexdigest()
