import dataclasses

import pytest

from replab import experiments
from replab.cli import main
from replab.errors import MissingExtraError, require_extra
from replab.experiments import Experiment
from replab.track.report import Check, Report


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("REPLAB_STORE", str(tmp_path / "replab.db"))
    return tmp_path


def error_of(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("replab: error: ") and "Traceback" not in err and len(err.splitlines()) == 1
    return err


def test_unknown_names_get_close_matches(store, capsys):
    assert "did you mean: tunnel" in error_of(capsys, "run", "tunel")
    assert "did you mean: run, runs?" in error_of(capsys, "rn")
    assert "did you mean: smoke" in error_of(capsys, "run", "tunnel", "--preset", "smok")
    assert "did you mean: epochs" in error_of(capsys, "run", "tunnel", "--epoch", "3")
    assert "no run with id 'nope'" in error_of(capsys, "report", "nope")
    assert "no run with id 'nope'" in error_of(capsys, "run", "--resume", "nope")
    assert "no finished runs of 'tunnel'" in error_of(capsys, "compare", "--name", "tunnel")


def test_bad_values_are_one_line_errors(store, capsys):
    assert "epochs must be >= 1, got 0" in error_of(capsys, "run", "tunnel", "--epochs", "0")
    assert "--epochs" in error_of(capsys, "run", "tunnel", "--epochs", "x")
    assert "model 'cnn3-digits'" in error_of(capsys, "run", "tunnel", "--models", "cnn3-digits")
    assert "--seeds must be >= 1" in error_of(capsys, "sweep", "tunnel", "--seeds", "0")
    assert "--device must be cpu or cuda" in error_of(
        capsys, "run", "tunnel", "--preset", "smoke", "--device", "tpu"
    )


def test_underscored_fields_are_accepted(store):
    from replab.cli import parse_overrides

    cfg = parse_overrides(experiments.get("tunnel"), "smoke", ["--mlp_width", "7", "--probe-epochs", "1"])
    assert cfg.mlp_width == 7 and cfg.probe_epochs == (1,) and cfg.epochs == 2


def test_list_and_help(store, capsys):
    assert main(["list"]) == 0
    assert "tunnel" in capsys.readouterr().out
    assert main(["run", "tunnel", "--help"]) == 0
    assert "--probe-method" in capsys.readouterr().out
    assert main([]) == 0 and "usage: replab" in capsys.readouterr().out


def test_missing_extra_names_the_pip_install(store, capsys, monkeypatch):
    with pytest.raises(MissingExtraError, match=r"pip install 'replab\[dmc\]'"):
        require_extra("replab_no_such_module", "dmc")

    @dataclasses.dataclass
    class Config:
        x: int = 1

    fake = Experiment(
        "needs-extra",
        "c",
        "s",
        "k",
        Config,
        {p: Config() for p in experiments.PRESETS},
        run=lambda cfg, run: {},
        report=lambda r: Report("t", "c", "s", [Check("c", True, "")]),
        extras={"replab_no_such_module": "dmc"},
    )
    real = experiments.all_experiments()
    monkeypatch.setattr(experiments, "all_experiments", lambda: {**real, "needs-extra": fake})
    assert "pip install 'replab[dmc]'" in error_of(capsys, "run", "needs-extra")
