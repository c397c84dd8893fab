"""The ledger's committed run records (`docs/results-runs.jsonl`): what the ledger pools, kept in git.

The run store (`runs/replab.db`) is not committed and does not survive a change of machine, so a sweep
finished over two sessions on two machines could not be pooled: the first machine's seeds were gone.
`replab ledger --write docs/results.md` therefore also writes, beside it, one JSON line per finished
run the ledger takes in (smoke runs left out): its id, experiment, preset, config, seed, commit,
times, verdict and headline claim records (`track/claims.py`: rule and per-unit values). Only what
pooling needs: no metrics, no summary, no artifacts. The next `--write` pools the store's runs with
these lines; a run in both is taken from the store (the same run, perhaps re-reported).
"""

from __future__ import annotations

import json
from pathlib import Path

from replab.errors import ReplabError
from replab.track.store import RunRecord

FIELDS = ("id", "experiment", "preset", "config", "seed", "git_rev", "start", "end", "verdict", "claims")


def path_beside(ledger_path: Path) -> Path:
    """`docs/results.md` → `docs/results-runs.jsonl`."""
    ledger_path = Path(ledger_path)
    return ledger_path.with_name(f"{ledger_path.stem}-runs.jsonl")


def read(path: Path) -> list[RunRecord]:
    """The run records of a committed file (none when it does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(_record(d))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ReplabError(
                f"{path}:{i} is not a ledger run record ({exc}); restore it with git (`git checkout {path}`)"
            ) from None
    return out


def _record(d: dict) -> RunRecord:
    missing = [f for f in FIELDS if f not in d]
    if missing:
        raise KeyError(f"missing {', '.join(missing)}")
    fixed = {"status": "finished", "host": "", "pid": None, "progress": 1.0, "summary": {}}
    return RunRecord(**{f: d[f] for f in FIELDS}, **fixed)


def merged(store_runs: list[RunRecord], kept: list[RunRecord]) -> list[RunRecord]:
    """The committed runs and the store's, by id (the store's record where both have one), by start."""
    by_id = {r.id: r for r in kept}
    by_id.update({r.id: r for r in store_runs})
    return sorted(by_id.values(), key=lambda r: (r.start, r.id))


def write(path: Path, runs: list[RunRecord]) -> Path:
    """One sorted JSON line per run (stable across rewrites, so git diffs show only new runs)."""
    lines = [json.dumps({f: getattr(r, f) for f in FIELDS}, sort_keys=True, ensure_ascii=False) for r in runs]
    Path(path).write_text("".join(line + "\n" for line in lines))
    return Path(path)
