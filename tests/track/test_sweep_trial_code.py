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
