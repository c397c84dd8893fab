"""The health monitor of curl-minatar / atari100k jobs (issue 20): it measures the agent's encoder on its own
random-policy observations, its rows leave the job's result, and it changes nothing the job trains."""

import dataclasses

import pytest
import torch

pytest.importorskip("minatar")

from replab.experiments._health import log_probes  # noqa: E402
from replab.experiments.discrete import _parts, curl_minatar  # noqa: E402

TINY = dataclasses.replace(
    curl_minatar.SMOKE, agent_steps=120, learn_start=80, batch_size=8, eval_episodes=1, probe_every=40
)


def _job(**health) -> dict:
    job = curl_minatar.make_jobs(dataclasses.replace(TINY, methods=("curl",), **health), run_seed=0)[0]
    return dict(job, threads=1)


def _trained(monkeypatch, job):
    agents, real_train = [], _parts.train

    def train(agent, *a, **kw):
        agents.append(agent)
        return real_train(agent, *a, **kw)

    monkeypatch.setattr(_parts, "train", train)
    out = _parts.train_job(job)
    return out, [p.detach().clone() for p in agents[0].online.parameters()]


def test_monitor_measures_the_encoder_and_changes_nothing(monkeypatch):
    with_probes, params = _trained(monkeypatch, _job())
    without, params_without = _trained(monkeypatch, _job(probes="none"))
    assert without["probes"] == []
    steps = [step for step, metrics in with_probes["probes"]]
    assert steps == [40, 80, 120]
    metrics = with_probes["probes"][-1][1]
    assert metrics["probe/srank/curl/breakout/seed0/encoder"] >= 1
    assert 0 <= metrics["probe/dormant_fraction/curl/breakout/seed0/encoder"] <= 1
    assert metrics["probe/weight_norm/curl/breakout/seed0"] > 0
    for key in ("evals", "final", "train_scores", "counters", "grad_probe"):
        assert with_probes[key] == without[key]
    assert all(torch.equal(a, b) for a, b in zip(params, params_without))


def test_rows_are_written_into_the_run_and_leave_the_result():
    logged = []

    class Run:
        def log(self, metrics, step):
            logged.append((step, metrics))

    result = {"probes": [[40, {"probe/srank/x/encoder": 3.0}]]}
    log_probes(Run(), result)
    assert logged == [(40, {"probe/srank/x/encoder": 3.0})] and "probes" not in result
