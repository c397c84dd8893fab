"""A sweep's trial runs the driver's own `replab`, not a checkout that happens to sit in the folder the
sweep was started from (a frozen worktree's driver started from a newer working tree used to run, and
record the revision of, the working tree's code)."""

import subprocess
import sys
from pathlib import Path

import replab
from replab.sweep_trial import REPLAB, Trial, trial_env


def test_the_child_imports_the_drivers_package_from_any_folder(tmp_path):
    shadow = tmp_path / "replab"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise SystemExit('the shadow replab was imported')\n")
    probe = "import replab; print(replab.__file__)"
    out = subprocess.run(
        [REPLAB[0], "-P", "-c", probe], cwd=tmp_path, env=trial_env(1), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).resolve() == Path(replab.__file__).resolve()
    # without -P the shadow wins: the check above can fail
    bad = subprocess.run([sys.executable, "-m", "replab"], cwd=tmp_path, capture_output=True, text=True)
    assert "the shadow replab was imported" in bad.stderr


def test_trial_commands_use_the_isolated_entry(tmp_path):
    t = Trial(run_id="r", experiment="x", preset="smoke", seed=0)
    assert t.command(tmp_path / "db")[: len(REPLAB)] == list(REPLAB)
    assert t.resume_command(tmp_path / "db")[: len(REPLAB)] == list(REPLAB)
    assert REPLAB[1:] == ("-P", "-m", "replab")
    env = trial_env(3)
    assert env["REPLAB_THREADS"] == env["OMP_NUM_THREADS"] == "3" and "REPLAB_STORE" not in env


def test_a_local_sweep_gives_its_trials_replab_threads_when_set(monkeypatch):
    """Two sweeps sharing a machine set REPLAB_THREADS=1; before, each trial got cores // workers."""
    from types import SimpleNamespace

    from replab import sweep_cli

    local = SimpleNamespace(backend="local")
    monkeypatch.setattr(sweep_cli.os, "cpu_count", lambda: 8)
    monkeypatch.delenv("REPLAB_THREADS", raising=False)
    assert sweep_cli._threads(local, SimpleNamespace(workers=2)) == 4
    monkeypatch.setenv("REPLAB_THREADS", "1")
    assert sweep_cli._threads(local, SimpleNamespace(workers=2)) == 1
    ray = SimpleNamespace(backend="ray", cpus_per_trial=3.0)
    assert sweep_cli._threads(ray, SimpleNamespace(workers=2)) == 3
