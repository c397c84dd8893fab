"""Run ids: a safe character set and a length limit, checked before anything is written (issue 18 §3).

A run id names the run's row in the store and its artifact folder `runs/<run-id>/`, so it must not be
able to leave that folder: no path separators, no `.`/`..`, no leading dot or dash, at most
`MAX_RUN_ID` bytes (well under a file name's 255).
"""

from __future__ import annotations

import re

from replab.errors import ReplabError

MAX_RUN_ID = 128
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
RULE = f"letters, digits, '.', '_' and '-', starting with a letter or digit, at most {MAX_RUN_ID} bytes"


def shown(run_id: object, width: int = 48) -> str:
    """The id as it may appear in a one-line message: quoted, escaped, shortened."""
    text = str(run_id)
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def check_run_id(run_id: object) -> str:
    """`run_id` itself when it is a safe run id, else a ReplabError naming the rule."""
    if not isinstance(run_id, str) or not run_id:
        raise ReplabError(f"a run id must be a non-empty string ({RULE}), got {shown(run_id)}")
    size = len(run_id.encode("utf-8", "surrogatepass"))
    if size > MAX_RUN_ID:
        raise ReplabError(f"run id {shown(run_id)} is {size} bytes long; use {RULE}")
    if not _RUN_ID.fullmatch(run_id):
        raise ReplabError(f"run id {shown(run_id)} is not allowed (no '/', '\\', '..' or spaces); use {RULE}")
    return run_id
