"""The results ledger (track/ledger.py, `replab ledger`): runs pooled across seeds by the shared rule,
entries per config and rule, old entries kept, experiments without runs listed."""

import dataclasses

import numpy as np
import pytest
from track_helpers import cli

from replab import cli_read, experiments
from replab.errors import ReplabError
from replab.track import ledger, ledger_runs
from replab.track.claims import paired
from replab.track.report import Check, Report
from replab.track.store import Store

CATALOGUE = ledger.Catalogue(
    {"toy": "a toy claim", "other": "another claim"},
    {"toy": {"default": {"steps": 20, "min_effect": 0.5}}},
)


def record(seeds, effect=2.0, min_effect=0.5, floor=-10.0, tasks=None, run_seed=0):
    rng = np.random.default_rng([run_seed, *seeds])
    keys = seeds if tasks is None else [(s, t) for s in seeds for t in tasks]
    b = {k: float(rng.normal()) for k in keys}
    a = {k: b[k] + effect + 0.1 * float(rng.normal()) for k in keys}
    d = paired(a, b, min_effect=min_effect, floor=floor, a_label="new", b_label="old", paper="+2.1 (Table 1)")
    return d.record()


def add_run(store, run_id, seed, claims, config=None, start=None, verdict="held", rev="abc1234"):
    store.create_run(run_id, "toy", "default", config or {"steps": 20, "min_effect": 0.5}, seed, rev)
    if start is not None:
        store.conn.execute("UPDATE runs SET start=? WHERE id=?", (start, run_id))
    store.finish(run_id, "finished", verdict=verdict, summary={"x": 1.0}, claims=claims)


def rows_of(text):
    return [line for line in text.splitlines() if line.startswith("| `")]


def test_a_sweep_of_single_seed_runs_is_pooled(tmp_path):
    store = Store(tmp_path / "replab.db")
    for s in range(5):  # `replab sweep toy --seeds 5`: one run per seed, each seed index 0
        add_run(store, f"r{s}", s, [record([0], run_seed=s)])
    rows, notes = ledger.entries(store, CATALOGUE)
    assert len(rows) == 1 and not notes
    cells = dict(zip(ledger.HEADERS, rows[0].cells, strict=True))
    assert cells["verdict"] == "**held**" and cells["seeds"] == "5" and cells["commit"] == "abc1234"
    assert cells["paper"] == "+2.1 (Table 1)" and cells["claim"] == "a toy claim"
    assert "mean(new − old) > +0.5" in cells["rule"] and cells["p"] == "0.0312"
    assert len(cells["entry"]) == 10 and cells["preset"] == "default"
    # fewer seeds: inconclusive, with the seeds needed
    store2 = Store(tmp_path / "two.db")
    for s in range(2):
        add_run(store2, f"r{s}", s, [record([0], run_seed=s)])
    cells = dict(zip(ledger.HEADERS, ledger.entries(store2, CATALOGUE)[0][0].cells, strict=True))
    assert cells["verdict"] == "**inconclusive**" and "2 seed(s) < 5" in cells["why"]


def test_seeds_inside_runs_are_units_of_their_run(tmp_path):
    store = Store(tmp_path / "replab.db")
    add_run(store, "a", 0, [record([0, 1, 2], tasks=["x", "y"])])  # seeds 0-2 of run seed 0
    add_run(store, "b", 1, [record([0, 1, 2], tasks=["x", "y"])])  # seeds 0-2 of run seed 1: new units
    add_run(store, "c", 1, [record([0, 1, 2], tasks=["x", "y"])], start=2e9)  # run seed 1 again
    rows, notes = ledger.entries(store, CATALOGUE)
    assert rows[0].seeds == 6 and rows[0].cells[8] == "**held**"
    assert notes and "6 unit(s) met in two runs" in notes[0]
    # absolute seeds: seed 0 of two runs is one unit
    rec = record([0, 1, 2]) | {"absolute_seeds": True}
    store2 = Store(tmp_path / "abs.db")
    add_run(store2, "a", 0, [rec])
    add_run(store2, "b", 1, [rec])
    assert ledger.entries(store2, CATALOGUE)[0][0].seeds == 3


def test_a_new_min_effect_or_config_is_a_new_entry(tmp_path):
    store = Store(tmp_path / "replab.db")
    for s in range(5):
        add_run(store, f"r{s}", s, [record([0], run_seed=s)])
        add_run(
            store,
            f"m{s}",
            s,
            [record([0], min_effect=3.0, run_seed=s)],
            config={"steps": 20, "min_effect": 3.0},
        )
        add_run(
            store,
            f"w{s}",
            s,
            [record([0], run_seed=s)],
            config={"steps": 20, "min_effect": 0.5, "workers": 4},
        )
    rows, _ = ledger.entries(store, CATALOGUE)
    assert len(rows) == 2  # `workers` does not change results: those runs pool with the first entry
    by_preset = {r.cells[3]: r for r in rows}
    assert set(by_preset) == {"default", "default (min_effect=3.0)"}
    assert by_preset["default (min_effect=3.0)"].cells[8] == "**did not hold**"
    assert by_preset["default"].seeds == 5  # the w-runs repeat seeds 0-4: later values replace earlier


def test_write_keeps_old_entries_and_lists_experiments_not_run(tmp_path):
    path = tmp_path / "docs" / "results.md"
    old = Store(tmp_path / "old.db")
    for s in range(5):
        add_run(old, f"r{s}", s, [record([0], run_seed=s)])
        add_run(
            old,
            f"m{s}",
            s,
            [record([0], min_effect=3.0, run_seed=s)],
            config={"steps": 20, "min_effect": 3.0},
        )
    ledger.write(path, old, CATALOGUE, "replab ledger --write docs/results.md", today="2024-01-02")
    text = path.read_text()
    assert "Generated by `replab ledger --write docs/results.md` from the run store on 2024-01-02" in text
    assert len(rows_of(text)) == 3 and "| `other` | another claim |" in text and "not run" in text
    first = {r.entry for r in ledger.read_kept(path)}
    assert len(first) == 2
    # a store holding only the new min_effect's runs, with fewer seeds of the old one, and no committed
    # run records (a ledger written before `ledger_runs.py`): both rows stay as the file has them
    (path.parent / "results-runs.jsonl").unlink()
    new = Store(tmp_path / "new.db")
    for s in range(5):
        add_run(
            new,
            f"m{s}",
            s,
            [record([0], min_effect=3.0, run_seed=s)],
            config={"steps": 20, "min_effect": 3.0},
        )
    for s in range(2):
        add_run(new, f"r{s}", s, [record([0], run_seed=s)])
    _, notes = ledger.write(path, new, CATALOGUE, "replab ledger --write docs/results.md")
    kept = {r.entry: r for r in ledger.read_kept(path)}
    assert set(kept) == first and all(r.seeds == 5 for r in kept.values())
    assert any("kept the file's row with 5 seeds" in n for n in notes)
    # an empty store: the file's entries stay as they were
    ledger.write(path, Store(tmp_path / "empty.db"), CATALOGUE, "replab ledger")
    assert {r.entry for r in ledger.read_kept(path)} == first


def test_a_damaged_record_is_an_error_row_not_a_crash(tmp_path):
    store = Store(tmp_path / "replab.db")
    add_run(store, "bad", 0, [record([0]) | {"direction": "sideways"}])
    add_run(store, "good", 0, [record([0])])
    rows, notes = ledger.entries(store, CATALOGUE)
    assert sorted(r.cells[8] for r in rows) == ["**error**", "**inconclusive**"] and "direction" in notes[0]


def test_runs_that_predate_the_rules_are_listed_with_their_verdicts(tmp_path):
    store = Store(tmp_path / "replab.db")
    add_run(store, "old1", 0, None, verdict="partly held")
    add_run(store, "old2", 1, None, verdict="partly held")
    rows, _ = ledger.entries(store, CATALOGUE)
    assert len(rows) == 1 and rows[0].entry == ""
    assert "2 run(s) without a headline claim record" in rows[0].cells[9]
    assert "(report verdicts: partly held ×2)" in rows[0].cells[9]
    # the file keeps such a row when its runs are gone (a ledger written before the committed run
    # records): it has no entry id, and it is replaced only by a new row of the same experiment and preset
    path = tmp_path / "results.md"
    ledger.write(path, store, CATALOGUE, "replab ledger --write")
    (tmp_path / "results-runs.jsonl").unlink()
    ledger.write(path, Store(tmp_path / "empty.db"), CATALOGUE, "replab ledger --write")
    (kept,) = [r for r in ledger.read_kept(path) if r.experiment == "toy"]
    assert kept.cells == rows[0].cells
    one = Store(tmp_path / "one.db")
    add_run(one, "old3", 2, None, verdict="inconclusive")
    ledger.write(path, one, CATALOGUE, "replab ledger --write")
    (fresh,) = [r for r in ledger.read_kept(path) if r.experiment == "toy"]
    assert "1 run(s) without" in fresh.cells[9] and fresh.cells[12] == "old3"


# -- end to end: reports -> store -> ledger ------------------------------------------------------------


@dataclasses.dataclass
class ClaimConfig:
    seeds: int = 1
    """seeds inside one run"""
    effect: float = 2.0
    """the planted effect"""
    min_effect: float = 0.5
    """registered minimum effect"""


def claim_run(cfg, run):
    rng = np.random.default_rng(run.seed)
    b = {i: float(rng.normal()) for i in range(cfg.seeds)}
    return {
        "a": {i: b[i] + cfg.effect + 0.1 * float(rng.normal()) for i in b},
        "b": b,
        "floor": {i: -5.0 for i in b},
        "min_effect": cfg.min_effect,
    }


def claim_report(results):
    d = paired(
        results["a"],  # keys are strings after results.json: seeds may be any JSON-able label
        results["b"],
        min_effect=results["min_effect"],
        floor=results["floor"],
        a_label="new",
        b_label="old",
        floor_label="random",
        paper="+2 (toy)",
    )
    return Report("claimtoy", checks=[d.check(headline=True), Check("it ran", True, "ok")])


CLAIM_EXPERIMENT = experiments.Experiment(
    "claimtoy",
    "new beats old by 0.5",
    "tests",
    "paired rule",
    ClaimConfig,
    {p: ClaimConfig() for p in experiments.PRESETS},
    claim_run,
    claim_report,
    headline="new beats old",
)


@pytest.fixture
def claimtoy(monkeypatch):
    real = experiments.all_experiments

    def all_experiments():
        return {**real(), "claimtoy": CLAIM_EXPERIMENT}

    monkeypatch.setattr(experiments, "all_experiments", all_experiments)


def test_replab_ledger_end_to_end(db, claimtoy, capsys, tmp_path):
    for s in range(4):
        code, out, _ = cli(capsys, "run", "claimtoy", "--seed", s, "--quiet", "--run-id", f"c{s}")
        assert code == 0 and "inconclusive" in out  # one seed per run: each run alone cannot decide
    rec = Store(db).get_run("c0")
    assert rec.verdict == "inconclusive" and rec.claims[0]["paper"] == "+2 (toy)"
    assert rec.summary["claim/verdict"] == 0.0 and rec.summary["claim/n"] == 1.0
    code, out, _ = cli(capsys, "ledger", "--name", "claimtoy")
    assert code == 0 and "**inconclusive**" in out and "4 seed(s) < 5" in out
    cli(capsys, "run", "claimtoy", "--seed", 4, "--quiet", "--seeds", 2)  # another config: its own entry
    cli(capsys, "run", "claimtoy", "--seed", 4, "--quiet", "--run-id", "c4")
    path = tmp_path / "results.md"
    code, out, err = cli(capsys, "ledger", "--write", path)
    assert code == 0 and f"ledger: {path}" in out
    rows = [r for r in rows_of(path.read_text()) if r.startswith("| `claimtoy`")]
    assert len(rows) == 2 and "| **held** |" in rows[0] + rows[1]
    assert "| default (seeds=2) | 2 |" in rows[0] + rows[1] and "| new beats old |" in rows[0]
    assert "| `tunnel` |" in path.read_text()  # experiments without runs: not run
    code, _, err = cli(capsys, "ledger", "--write", path, "--name", "claimtoy")
    assert code == 2 and "not both" in err
    # `replab report` regenerates the claims from results.json (string seed keys): the same entry
    cli(capsys, "report", "c0")
    assert Store(db).get_run("c0").claims[0]["units"][0][0] == "0"
    code, _, _ = cli(capsys, "ledger", "--write", path)
    assert rows == [r for r in rows_of(path.read_text()) if r.startswith("| `claimtoy`")]


def test_smoke_runs_stay_out_of_the_ledger(tmp_path):
    store = Store(tmp_path / "replab.db")
    for s in range(5):
        add_run(store, f"r{s}", s, [record([0], run_seed=s)])
    store.create_run("smoke1", "toy", "smoke", {"steps": 2, "min_effect": 0.5}, 0, "abc1234")
    store.finish("smoke1", "finished", verdict="held", summary={}, claims=[record([0, 1, 2, 3, 4])])
    rows, _ = ledger.entries(store, CATALOGUE)
    assert [r.cells[3] for r in rows if r.entry] == ["default"] and rows[0].seeds == 5


def test_rows_name_their_runs_and_older_files_without_the_column_are_kept(tmp_path):
    store = Store(tmp_path / "replab.db")
    for s in range(5):
        add_run(store, f"r{s}", s, [record([0], run_seed=s)])
    rows, _ = ledger.entries(store, CATALOGUE)
    cells = dict(zip(ledger.HEADERS, rows[0].cells, strict=True))
    assert cells["runs"] == "r0, r1, r2, r3, r4"
    path = tmp_path / "results.md"
    ledger.write(path, store, CATALOGUE, "replab ledger --write")
    old = [ln for ln in path.read_text().splitlines() if ln.endswith(f"| {rows[0].entry} |")][0]
    cut = old.split(" | ")
    old_format = " | ".join([*cut[:-2], cut[-1]]).replace(rows[0].entry, "0123456789")  # no runs column
    (tmp_path / "old.md").write_text(old_format + "\n")
    kept = ledger.read_kept(tmp_path / "old.md")
    assert [k.entry for k in kept] == ["0123456789"] and kept[0].cells[-2] == ""


def test_committed_run_records_pool_a_sweep_run_on_two_machines(tmp_path, capsys, db, monkeypatch):
    """Seeds 0-1 in one session's store, 2-4 in the next machine's fresh store: the run records written
    beside the ledger (`ledger_runs.py`, committed) pool all five into one entry."""
    path = tmp_path / "docs" / "results.md"
    first = Store(tmp_path / "first.db")
    for s in range(2):
        add_run(first, f"r{s}", s, [record([0], run_seed=s)])
    ledger.write(path, first, CATALOGUE, "replab ledger --write docs/results.md")
    runs_path = tmp_path / "docs" / "results-runs.jsonl"
    assert [r.id for r in ledger_runs.read(runs_path)] == ["r0", "r1"]
    assert "`results-runs.jsonl` (committed beside this file)" in path.read_text()
    second = Store(tmp_path / "second.db")  # the store is gone; the committed records are not
    for s in range(2, 5):
        add_run(second, f"r{s}", s, [record([0], run_seed=s)])
    ledger.write(path, second, CATALOGUE, "replab ledger --write docs/results.md")
    (row,) = ledger.read_kept(path)
    cells = dict(zip(ledger.HEADERS, row.cells, strict=True))
    assert cells["seeds"] == "5" and cells["verdict"] == "**held**" and cells["runs"] == "r0, r1, r2, r3, r4"
    # the same as one store holding all five runs
    one = Store(tmp_path / "one.db")
    for s in range(5):
        add_run(one, f"r{s}", s, [record([0], run_seed=s)])
    assert ledger.entries(one, CATALOGUE)[0][0].cells == row.cells
    # rewriting from an empty store changes neither file; a run in the store and the file is counted once
    before = runs_path.read_text(), path.read_text()
    ledger.write(path, Store(tmp_path / "empty.db"), CATALOGUE, "replab ledger --write docs/results.md")
    assert (runs_path.read_text(), path.read_text()) == before
    rows, _ = ledger.entries(second, CATALOGUE, kept_runs=ledger_runs.read(runs_path))
    assert rows[0].seeds == 5 and rows[0].cells == row.cells
    # the command line: --runs pools the records when printing; --write reads its own sibling file
    for s in range(2, 5):
        add_run(Store(db), f"r{s}", s, [record([0], run_seed=s)])
    monkeypatch.setattr(cli_read, "ledger_catalogue", lambda name: CATALOGUE)
    code, out, _ = cli(capsys, "ledger", "--runs", runs_path)
    assert code == 0 and "| 5 |" in out and "**held**" in out
    code, out, _ = cli(capsys, "ledger")
    assert code == 0 and "| 3 |" in out and "**inconclusive**" in out
    code, _, err = cli(capsys, "ledger", "--write", path, "--runs", runs_path)
    assert code == 2 and "drop --runs" in err
    code, _, err = cli(capsys, "ledger", "--runs", tmp_path / "nope.jsonl")
    assert code == 2 and "nope.jsonl" in err and "is not a file" in err


def test_a_damaged_run_record_line_names_the_file_line_and_the_fix(tmp_path):
    bad = tmp_path / "results-runs.jsonl"
    bad.write_text('{"id": "r0"}\n')
    with pytest.raises(ReplabError, match=r"results-runs.jsonl:1 .*missing experiment.*git checkout"):
        ledger_runs.read(bad)
