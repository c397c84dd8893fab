"""Fixtures of the run-store reliability tests: the test-only `toy` experiment and a store."""

import pytest
import toy_experiment


@pytest.fixture
def toy(monkeypatch):
    """The test-only `toy` experiment, registered for in-process `main([...])` calls."""
    toy_experiment.register(monkeypatch)
    return toy_experiment


@pytest.fixture
def db(tmp_path, monkeypatch):
    """A store path, also the default store (REPLAB_STORE), with REPLAB_THREADS unset."""
    path = tmp_path / "runs" / "replab.db"
    path.parent.mkdir()
    monkeypatch.setenv("REPLAB_STORE", str(path))
    monkeypatch.delenv("REPLAB_THREADS", raising=False)
    return path
