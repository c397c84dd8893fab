"""Issue 18 §5: bad input to the command line gets exit code 2, exactly one line on stderr, no traceback,
and leaves the run store as it was (its rows checksummed before and after): 60+ inputs, run in-process."""

import contextlib
import dataclasses
import io
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
import torch
import toy_experiment
from track_helpers import store_digest

from replab.cli import main
from replab.track.store import Store


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def build_world(db: Path) -> None:
    """A store with runs in every state a bad input can meet, and the odd files beside it (`../odd`)."""
    root = db.parent
    root.mkdir(parents=True)
    store = Store(db)
    config = dataclasses.asdict(toy_experiment.Config())

    def add(rid, status, results=True, checkpoint=None, timing='{"wall_s": 1, "cpu_s": 1, "load": []}'):
        store.create_run(rid, "toy", "default", config, 0, None, threads=1)
        store.write_metrics(rid, [("train/loss", s, 1.0 / (s + 1)) for s in range(5)])
        if status == "running":
            store.conn.execute("UPDATE runs SET pid=? WHERE id=?", (os.getpid(), rid))
        else:
            store.finish(rid, status, verdict="held" if status == "finished" else None)
        folder = root / rid
        folder.mkdir(exist_ok=True)
        if results:
            (folder / "results.json").write_text(json.dumps({"steps": 20, "last_loss": 0.05}))
        if checkpoint is not None:
            checkpoint(folder / "checkpoint.pt")
        if timing is not None:
            (folder / "timing.json").write_text(timing)

    def truncated(path):
        torch.save({"step": 5, "seen": [4], "w": torch.randn(500)}, path)
        path.write_bytes(path.read_bytes()[:300])

    add("done", "finished")
    add("done-lost", "finished", results=False)
    add("done-bad-timing", "finished", timing='{"wall_s": 1.5, "cpu')
    add("killed", "killed", results=False)
    add("cut", "killed", results=False, checkpoint=truncated)
    add("evil", "killed", results=False, checkpoint=lambda p: torch.save({"step": 5, "x": Evil()}, p))
    add("clock", "killed", results=False, checkpoint=lambda p: torch.save({"step": 5, "seen": []}, p))
    (root / "clock" / "timing.json").write_text('{"wall_s": 3.0, "cpu_s": 2')
    add("live", "running", results=False)
    (root / "stale").mkdir()  # a folder with another run's files, not in this store
    torch.save({"step": 5, "seen": []}, root / "stale" / "checkpoint.pt")
    store.close()

    odd = root.parent / "odd"
    odd.mkdir()
    (odd / "garbage.db").write_bytes(os.urandom(5000))
    (odd / "fake-header.db").write_bytes(b"SQLite format 3\x00" + os.urandom(5000))
    (odd / "text.db").write_text("hello\n")
    (odd / "a-file").write_text("x")
    foreign = sqlite3.connect(odd / "foreign.db")
    foreign.execute("CREATE TABLE people (name TEXT)")
    foreign.commit()
    foreign.close()
    corrupt = odd / "corrupt.db"
    shutil.copy(db, corrupt)
    c = sqlite3.connect(corrupt)
    c.executemany("INSERT INTO metrics VALUES ('done', 'train/x', ?, ?)", [(s, s * 0.5) for s in range(4000)])
    c.commit()
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = c.execute("PRAGMA page_size").fetchone()[0]
    c.close()
    data = bytearray(corrupt.read_bytes())
    for p in (3, 5, 8):
        data[p * page : p * page + 64] = b"\xa5" * 64  # page headers overwritten: a page-corrupted store
    corrupt.write_bytes(bytes(data))
    check = sqlite3.connect(corrupt)
    with pytest.raises(sqlite3.DatabaseError, match="malformed"):
        check.execute("PRAGMA quick_check").fetchall()
    check.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("world")
    build_world(base / "runs" / "replab.db")
    return base


BIG = "99999999999999999999999"
# (name, argv, extra environment, a part of the expected message); {odd} is the folder of odd files.
CASES = [
    # run store paths
    ("store is a folder", ["runs", "--store", "{odd}"], {}, "is a folder"),
    ("store is a folder (run)", ["run", "toy", "--store", "{odd}"], {}, "is a folder"),
    ("store is empty", ["runs", "--store", ""], {}, "path is empty"),
    ("store is empty (run)", ["run", "toy", "--store", ""], {}, "path is empty"),
    ("store is garbage", ["runs", "--store", "{odd}/garbage.db"], {}, "not a replab run store"),
    ("store is garbage (run)", ["run", "toy", "--store", "{odd}/garbage.db"], {}, "not a replab run store"),
    ("store is text", ["report", "done", "--store", "{odd}/text.db"], {}, "not a replab run store"),
    ("store has a fake header", ["runs", "--store", "{odd}/fake-header.db"], {}, "cannot be used"),
    ("store is another database", ["runs", "--store", "{odd}/foreign.db"], {}, "not a replab run store"),
    ("store under a file", ["runs", "--store", "{odd}/a-file/replab.db"], {}, "is not a folder"),
    ("store from env is garbage", ["runs"], {"REPLAB_STORE": "{odd}/garbage.db"}, "not a replab run store"),
    ("store page-corrupted (run)", ["run", "toy", "--store", "{odd}/corrupt.db"], {}, "malformed"),
    (
        "store page-corrupted (resume)",
        ["run", "--resume", "killed", "--store", "{odd}/corrupt.db"],
        {},
        "malformed",
    ),
    ("store page-corrupted (sweep)", ["sweep", "toy", "--store", "{odd}/corrupt.db"], {}, "malformed"),
    # run ids
    ("existing run id", ["run", "toy", "--run-id", "done"], {}, "already exists"),
    ("existing run id, running", ["run", "toy", "--run-id", "live"], {}, "already exists"),
    ("run id over 255 bytes", ["run", "toy", "--run-id", "x" * 300], {}, "bytes long"),
    ("run id over the limit", ["run", "toy", "--run-id", "y" * 129], {}, "bytes long"),
    ("run id traversal", ["run", "toy", "--run-id", "../../escaped"], {}, "not allowed"),
    ("run id absolute", ["run", "toy", "--run-id", "/abs/path/x"], {}, "not allowed"),
    ("run id folder holds files", ["run", "toy", "--run-id", "stale"], {}, "move that folder aside"),
    ("resume traversal", ["run", "--resume", "../done"], {}, "not allowed"),
    ("report traversal", ["report", "../../etc"], {}, "not allowed"),
    ("compare traversal", ["compare", "done", "a/b"], {}, "not allowed"),
    # seeds and numbers
    ("huge seed", ["run", "toy", "--seed", BIG], {}, "--seed must be a whole number from 0 to 2**63 - 1"),
    ("negative seed", ["run", "toy", "--seed", "-1"], {}, "--seed must be"),
    ("seed 2**63", ["run", "toy", "--seed", str(2**63)], {}, "--seed must be"),
    ("seed not a number", ["run", "toy", "--seed", "abc"], {}, "--seed"),
    ("sweep huge first seed", ["sweep", "toy", "--first-seed", BIG], {}, "--first-seed must be"),
    (
        "sweep seeds overflow",
        ["sweep", "toy", "--first-seed", str(2**63 - 1), "--seeds", "2"],
        {},
        "2**63 - 1",
    ),
    ("sweep zero seeds", ["sweep", "toy", "--seeds", "0"], {}, "--seeds must be >= 1"),
    ("sweep zero workers", ["sweep", "toy", "--workers", "0"], {}, "--workers must be >= 1"),
    (
        "stop-on-nonfinite negative",
        ["run", "toy", "--stop-on-nonfinite", "-1"],
        {},
        "--stop-on-nonfinite must be",
    ),
    ("sweep stop negative", ["sweep", "toy", "--stop-on-nonfinite", "-2"], {}, "--stop-on-nonfinite must be"),
    ("field zero", ["run", "toy", "--steps", "0"], {}, "steps must be >= 1"),
    ("field not a number", ["run", "toy", "--steps", "many"], {}, "--steps"),
    ("field infinite", ["run", "toy", "--sleep", "1e999999"], {}, "sleep must be finite and >= 0"),
    ("unknown field", ["run", "toy", "--stepz", "3"], {}, "did you mean: steps"),
    ("sweep unknown field", ["sweep", "toy", "--stepz", "3"], {}, "did you mean: steps"),
    # environment
    ("threads not a number", ["run", "toy"], {"REPLAB_THREADS": "abc"}, "REPLAB_THREADS must be"),
    ("threads zero", ["run", "toy"], {"REPLAB_THREADS": "0"}, "REPLAB_THREADS must be"),
    ("threads negative", ["run", "toy"], {"REPLAB_THREADS": "-2"}, "REPLAB_THREADS must be"),
    ("threads fraction", ["run", "toy"], {"REPLAB_THREADS": "1.5"}, "REPLAB_THREADS must be"),
    ("threads on resume", ["run", "--resume", "killed"], {"REPLAB_THREADS": "x"}, "REPLAB_THREADS must be"),
    ("threads on sweep", ["sweep", "toy"], {"REPLAB_THREADS": "abc"}, "REPLAB_THREADS must be"),
    # resume
    ("resume unknown", ["run", "--resume", "nope"], {}, "'replab runs' lists"),
    ("resume finished", ["run", "--resume", "done"], {}, "already finished; 'replab report done'"),
    ("resume running", ["run", "--resume", "live"], {}, "still running"),
    ("resume truncated checkpoint", ["run", "--resume", "cut"], {}, "is damaged"),
    ("resume pickled object", ["run", "--resume", "evil"], {}, "holds a pickled object (posix.system)"),
    (
        "resume truncated timing",
        ["run", "--resume", "clock"],
        {},
        "timing.json (the run's time record) is damaged",
    ),
    ("resume with a name", ["run", "toy", "--resume", "killed"], {}, "give no name"),
    ("resume with overrides", ["run", "--resume", "killed", "--steps", "3"], {}, "give no name"),
    ("resume with a run id", ["run", "--resume", "killed", "--run-id", "k2"], {}, "give no name, --run-id"),
    # report and compare
    ("report unknown", ["report", "nope"], {}, "'replab runs' lists"),
    (
        "report finished, results lost",
        ["report", "done-lost"],
        {},
        "'replab run --resume done-lost' recomputes",
    ),
    ("report killed", ["report", "killed"], {}, "'replab run --resume killed' continues"),
    ("report running", ["report", "live"], {}, "still running"),
    ("report truncated timing", ["report", "done-bad-timing"], {}, "is damaged"),
    ("compare nothing", ["compare"], {}, "give run ids or --name"),
    ("compare both", ["compare", "done", "--name", "toy"], {}, "not both"),
    ("compare unfinished", ["compare", "done", "killed"], {}, "runs not finished"),
    ("compare unknown name", ["compare", "--name", "tunel"], {}, "did you mean: tunnel"),
    ("compare unknown preset", ["compare", "--name", "toy", "--preset", "smok"], {}, "did you mean: smoke"),
    ("compare unknown run", ["compare", "done", "nope"], {}, "no run with id 'nope'"),
    ("ledger unknown name", ["ledger", "--name", "tunel"], {}, "did you mean: tunnel"),
    ("ledger name and write", ["ledger", "--name", "toy", "--write", "{odd}/r.md"], {}, "not both"),
    ("ledger written to a folder", ["ledger", "--write", "{odd}"], {}, "takes a markdown file"),
    (
        "ledger written under a file",
        ["ledger", "--write", "{odd}/a-file/r.md"],
        {},
        "cannot write the ledger",
    ),
    # commands and options
    ("unknown command", ["rn"], {}, "did you mean: run"),
    ("empty command", [""], {}, "unknown command"),
    ("command with a newline", ["ru\nn"], {}, "unknown command"),
    ("unknown experiment", ["run", "tunel"], {}, "did you mean: tunnel"),
    ("no experiment", ["run"], {}, "name an experiment"),
    ("unknown preset", ["run", "toy", "--preset", "smok"], {}, "did you mean: smoke"),
    ("unknown device", ["run", "toy", "--device", "tpu"], {}, "--device must be cpu or cuda"),
    ("sweep unknown experiment", ["sweep", "nope"], {}, "unknown experiment"),
    ("sweep unknown preset", ["sweep", "toy", "--preset", "x"], {}, "unknown preset"),
    ("sweep bad field value", ["sweep", "toy", "--steps", "0"], {}, "steps must be >= 1"),
    ("runs unknown option", ["runs", "--nme", "x"], {}, ""),
    ("list unknown option", ["list", "--bogus"], {}, ""),
    ("report missing id", ["report"], {}, ""),
]
if not torch.cuda.is_available():
    CASES.append(("cuda without a GPU", ["run", "toy", "--device", "cuda"], {}, "sees no CUDA device"))


def run_cli(argv, env, monkeypatch) -> tuple[int, str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def test_there_are_at_least_60_cases():
    assert len(CASES) >= 60 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("name, argv, env, expected", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_leaves_the_store_alone(
    name, argv, env, expected, world, tmp_path, toy, monkeypatch
):
    shutil.copytree(world, tmp_path, dirs_exist_ok=True)  # each case gets its own copy of the world
    db, odd = tmp_path / "runs" / "replab.db", tmp_path / "odd"
    monkeypatch.setenv("REPLAB_STORE", str(db))
    monkeypatch.delenv("REPLAB_THREADS", raising=False)
    argv = [a.replace("{odd}", str(odd)) for a in argv]
    env = {k: v.replace("{odd}", str(odd)) for k, v in env.items()}
    watched = [db, *sorted(odd.glob("*.db"))]
    before = [store_digest(p) for p in watched]
    files = sorted(p for p in db.parent.rglob("*") if not p.name.endswith(("-wal", "-shm")))
    code, err = run_cli(argv, env, monkeypatch)
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("replab: error: "), err
    assert "Traceback" not in err and expected in lines[0], err
    assert [store_digest(p) for p in watched] == before
    assert sorted(p for p in db.parent.rglob("*") if not p.name.endswith(("-wal", "-shm"))) == files


def as_unprivileged(fn):
    """fn() in a forked child running as 'nobody' when this is root (root writes read-only files anyway)."""
    if os.geteuid() != 0:
        return fn()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read)
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, json.dumps(fn()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        out = f.read()
    os.waitpid(pid, 0)
    return json.loads(out)


def test_read_only_stores_are_one_line_errors():
    base = Path(tempfile.mkdtemp(prefix="replab-ro-"))  # outside pytest's root-only tmp folders
    try:
        ro_dir, rw_dir = base / "ro", base / "rw"
        ro_dir.mkdir()
        rw_dir.mkdir()
        Store(rw_dir / "replab.db").close()
        (rw_dir / "replab.db").chmod(0o444)
        for p, mode in ((base, 0o755), (ro_dir, 0o555), (rw_dir, 0o777)):
            p.chmod(mode)
        digest = store_digest(rw_dir / "replab.db")

        def attempt():
            results = []
            for argv in (
                ["runs", "--store", str(ro_dir / "replab.db")],
                ["runs", "--store", str(ro_dir / "new" / "replab.db")],
                ["runs", "--store", str(rw_dir / "replab.db")],
                ["report", "x", "--store", str(rw_dir / "replab.db")],
            ):
                err = io.StringIO()
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    results.append((main(argv), err.getvalue()))
            return results

        results = as_unprivileged(attempt)
        messages = ["is not writable", "cannot create the folder", "is read-only", "is read-only"]
        for (code, err), expected in zip(results, messages, strict=True):
            assert code == 2 and len(err.splitlines()) == 1 and expected in err and "Traceback" not in err, (
                err
            )
        assert store_digest(rw_dir / "replab.db") == digest and not (ro_dir / "replab.db").exists()
    finally:
        for p in (base, *base.rglob("*")):
            p.chmod(0o755 if p.is_dir() else 0o644)
        shutil.rmtree(base)
