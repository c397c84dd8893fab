"""Issue 18 §6-7: consistent advice for a finished run whose results are gone, the killed run's id in the
kill message, a failed run's progress kept, a note when the store's folder is created, and the torch
thread count recorded with the run and in its report."""

import torch
from track_helpers import cli

from replab.track.store import Store


def test_report_and_resume_agree_on_a_finished_run_without_results(db, toy, capsys):
    assert cli(capsys, "run", "toy", "--quiet", "--run-id", "a")[0] == 0
    code, _, err = cli(capsys, "run", "--resume", "a")
    assert code == 2 and "already finished; 'replab report a' regenerates its report" in err
    assert cli(capsys, "report", "a")[0] == 0

    (db.parent / "a" / "results.json").unlink()
    code, _, err = cli(capsys, "report", "a")
    assert code == 2 and "its results file" in err and "'replab run --resume a' recomputes it" in err
    code, out, err = cli(capsys, "run", "--resume", "a", "--quiet")  # the advice works
    assert code == 0 and "run a finished" in out, err
    assert (db.parent / "a" / "results.json").exists() and cli(capsys, "report", "a")[0] == 0
    rows = Store(db).metrics("a")
    assert len(rows) == 60 and len({(k, s) for k, s, _ in rows}) == 60


def test_the_kill_message_names_the_run(db, toy, capsys):
    code, _, err = cli(capsys, "run", "toy", "--term-at", "3", "--quiet", "--run-id", "k")
    assert code == 130 and err.strip() == "replab: run killed; continue it with 'replab run --resume k'"
    assert Store(db).get_run("k").status == "killed"


def test_a_failed_resume_keeps_the_progress(db, toy, capsys):
    assert cli(capsys, "run", "toy", "--raise-at", "10", "--quiet", "--run-id", "f")[0] == 1
    assert Store(db).get_run("f").progress == 0.5
    # the resume loads the step-10 checkpoint and fails before advancing: the progress stays 50%
    assert cli(capsys, "run", "--resume", "f", "--quiet")[0] == 1
    rec = Store(db).get_run("f")
    assert (rec.status, rec.progress) == ("failed", 0.5)
    assert "failed: RuntimeError: toy failure at step 10" in cli(capsys, "runs")[1]
    assert " 50%" in cli(capsys, "runs")[1]


def test_a_store_in_a_missing_folder_is_announced(tmp_path, toy, capsys):
    path = tmp_path / "new" / "deeper" / "replab.db"
    code, _, err = cli(capsys, "runs", "--store", path)
    assert code == 0 and err == f"replab: created the folder {path.parent} for the run store {path}\n"
    assert cli(capsys, "runs", "--store", path)[2] == ""  # said once


def test_the_thread_count_is_recorded(db, toy, capsys, monkeypatch):
    monkeypatch.setenv("REPLAB_THREADS", "1")
    assert cli(capsys, "run", "toy", "--quiet", "--run-id", "t", "--term-at", "12")[0] == 130
    assert Store(db).get_run("t").threads == 1 == torch.get_num_threads()
    monkeypatch.setenv("REPLAB_THREADS", "2")
    code, _, err = cli(capsys, "run", "--resume", "t", "--quiet")
    assert code == 0 and "run t ran with 1 torch threads and resumes with 2" in err
    assert Store(db).get_run("t").threads == 2
    assert (
        "- **threads**: 2 torch threads (results depend on the thread count)"
        in (db.parent / "t" / "report.md").read_text()
    )
