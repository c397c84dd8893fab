"""Every registered experiment's SMOKE preset runs end to end and writes a report with a verdict."""

import dataclasses
import importlib
import json
import re

import pytest

from replab import experiments
from replab.launch import start_run
from replab.probe.health import HealthConfig
from replab.track.report import VERDICTS
from replab.track.store import Store

NAMES = sorted(experiments.all_experiments())
FIGURES = {  # figures an issue asks of a report (issue 21: sample grids and attention maps in every report)
    "rin-self-conditioning": {"samples", "attention"},
    "rin-read-write": {"samples", "attention"},
    "rin-adaptive-computation": {"samples", "attention"},
    "rin-video-prediction": {"strips", "attention"},
}


@pytest.mark.parametrize("name", NAMES)
def test_smoke_preset(name, tmp_path):
    exp = experiments.get(name)
    try:
        exp.check_extras()
    except ImportError as exc:
        pytest.skip(str(exc))
    unavailable = getattr(importlib.import_module(exp.run.__module__), "unavailable", None)
    if unavailable is not None and (reason := unavailable()):  # e.g. curl-dmc when nothing renders
        pytest.skip(reason)
    store = Store(tmp_path / "replab.db")
    run_id, verdict = start_run(name, exp.preset("smoke"), preset="smoke", store=store, quiet=True)
    assert verdict in VERDICTS
    folder = tmp_path / run_id
    report = (folder / "report.md").read_text()
    assert f"**Verdict: {verdict}**" in report and exp.claim in report
    assert json.loads((folder / "results.json").read_text())
    timing = json.loads((folder / "timing.json").read_text())
    assert timing["wall_s"] > 0 and timing["cpu_s"] > 0 and "min CPU" in report
    record = store.get_run(run_id)
    assert record.status == "finished" and record.verdict == verdict
    assert store.metrics(run_id), "an experiment must log metrics to the store"
    # issue 20: a health Monitor on the main representation, and the panel in the report
    assert store.metrics(run_id, prefixes=("probe/",)), "every experiment attaches a health Monitor"
    assert "## Representation health" in report and (folder / "health.png").stat().st_size > 0
    linked = set(re.findall(r"\]\(([\w.-]+)\.png\)", report))
    assert all((folder / f"{f}.png").stat().st_size > 0 for f in linked), "the report links a missing figure"
    assert FIGURES.get(name, set()) <= linked, f"missing figures {FIGURES[name] - linked}"


@pytest.mark.parametrize("name", NAMES)
def test_every_config_takes_the_health_fields(name):
    """Every Config inherits HealthConfig and validates it (its __post_init__ calls the base's)."""
    exp = experiments.get(name)
    assert issubclass(exp.config, HealthConfig), f"{name}: Config must subclass HealthConfig"
    with pytest.raises(ValueError, match="unknown probe 'nope'"):
        dataclasses.replace(exp.preset("smoke"), probes="srank,nope")


def test_clock_counts_a_hard_killed_segment(tmp_path):
    """A segment ended by SIGKILL records no time; resuming says so instead of under-reporting silently."""
    from replab.launch import _Clock

    path = tmp_path / "timing.json"
    _Clock(path)  # first segment, never saved (as after SIGKILL)
    assert json.loads(path.read_text())["open"]
    resumed = _Clock(path)
    resumed.save()
    timing = json.loads(path.read_text())
    assert "open" not in timing and timing["unrecorded_segments"] == 1 and timing["wall_s"] >= 0
    assert "1 earlier segment(s) killed" in _Clock.describe(timing)
    _Clock(path).save()  # a clean segment adds nothing unrecorded
    assert json.loads(path.read_text())["unrecorded_segments"] == 1
