"""Issue 18 §3: run ids that could leave the runs folder, or are too long, are refused by every command
and by the library, before anything is written."""

import pytest
from track_helpers import cli, store_digest

from replab.errors import ReplabError
from replab.track.ids import MAX_RUN_ID, check_run_id
from replab.track.run import Run
from replab.track.store import Store

BAD_IDS = [
    "../escaped",
    "../../escaped",
    "/abs/path/x",
    "a/b",
    "a\\b",
    "..",
    ".",
    ".hidden",
    "-rf",
    "a b",
    "a\nb",
    "",
    "x" * (MAX_RUN_ID + 1),
    "é" * 65,  # 130 bytes
    "x" * 300,
    "a\x00b",
    "~user",
    "$(id)",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_unsafe_ids_are_refused_everywhere(bad, db, toy, tmp_path, capsys):
    Store(db).create_run("ok", "toy", "smoke", {}, 0, None)
    before, files = store_digest(db), artifacts(tmp_path)
    for argv in (
        ["run", "toy", f"--run-id={bad}"],
        ["run", f"--resume={bad}"],
        ["report", bad],
        ["compare", "ok", bad],
    ):
        code, out, err = cli(capsys, *argv)
        assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, (argv, err)
        if argv[0] == "run" or not bad.startswith("-"):  # else the parser takes it for an option: refused too
            assert "run id" in err and ("not allowed" in err or "bytes long" in err or "non-empty" in err), (
                err
            )
    with pytest.raises(ReplabError):
        Store(db).create_run(bad, "toy", "smoke", {}, 0, None)
    with pytest.raises(ReplabError):
        Run(Store(db), bad, seed=0, tensorboard=False)
    assert store_digest(db) == before and artifacts(tmp_path) == files


def artifacts(folder):
    """Every file and folder under `folder`, less SQLite's journal files (they come and go with connections)."""
    return sorted(p for p in folder.rglob("*") if not p.name.endswith(("-wal", "-shm")))


def test_safe_ids_pass():
    for good in ("tunnel-20240101-120000-s0-ab12", "a", "A.b_c-1", "x" * MAX_RUN_ID, "sweep.v2..final"):
        assert check_run_id(good) == good
