"""The CURL-vs-TD gradient measurement on the shared encoder (issue 19, curl-minatar): recorded at each
evaluation of a CURL job, positive and finite, and without any effect on what the job trains."""

import dataclasses

import numpy as np
import pytest
import torch

pytest.importorskip("minatar")

from replab.experiments.discrete import _parts, curl_minatar  # noqa: E402

TINY = dataclasses.replace(
    curl_minatar.SMOKE, agent_steps=120, learn_start=80, eval_every=60, batch_size=8, eval_episodes=1
)


def _job(method: str) -> dict:
    jobs = curl_minatar.make_jobs(dataclasses.replace(TINY, methods=(method,)), run_seed=0)
    return dict(jobs[0], threads=1)


def test_probe_is_recorded_at_each_evaluation_after_learning_starts():
    out = _parts.train_job(_job("curl"))
    probes = out["grad_probe"]
    assert [p["agent_steps"] for p in probes] == [120]  # the evaluation at 60 comes before learn_start
    p = probes[0]
    assert p["updates"] == 120 - 80 + 1 and p["coef"] == 1.0
    assert p["td_norm"] > 0 and p["curl_norm"] > 0
    assert p["ratio"] == pytest.approx(p["curl_norm"] / p["td_norm"])
    assert 0.0 <= p["curl_accuracy"] <= 1.0
    assert _parts.train_job(_job("rainbow"))["grad_probe"] == []  # no CURL objective, nothing measured


def _trained(monkeypatch, job):
    """train_job's results and the trained agent's online parameters."""
    agents, real_train = [], _parts.train

    def train(agent, *a, **kw):
        agents.append(agent)
        return real_train(agent, *a, **kw)

    monkeypatch.setattr(_parts, "train", train)
    out = _parts.train_job(job)
    return out, [p.detach().clone() for p in agents[0].online.parameters()]


def test_probe_leaves_training_unchanged(monkeypatch):
    job = dict(_job("curl"), eval_every=100, agent_steps=140)  # a probe at 100, then 40 more updates
    with_probe, params = _trained(monkeypatch, job)
    real_probe = _parts.grad_probe
    monkeypatch.setattr(_parts, "grad_probe", lambda *a, **k: None)
    without, params_without = _trained(monkeypatch, job)
    assert [p["agent_steps"] for p in with_probe["grad_probe"]] == [100, 140]
    for key in ("evals", "final", "train_scores", "counters"):
        assert with_probe[key] == without[key]
    assert all(torch.equal(a, b) for a, b in zip(params, params_without))

    def leaky(agent, replay, beta):  # the same measurement consuming one replay draw: training changes
        replay.sample(beta)
        return real_probe(agent, replay, beta)

    monkeypatch.setattr(_parts, "grad_probe", leaky)
    _, params_leaky = _trained(monkeypatch, job)
    assert not all(torch.equal(a, b) for a, b in zip(params, params_leaky))


def test_probe_restores_generators_and_writes_no_grad():
    job = _job("curl")
    env = _parts.make(job["env"], **job["train_env_kwargs"])
    agent = _parts.build_agent(job, env.observation_space.shape, env.action_space.n, "cpu")
    shape = env.observation_space.shape
    replay = _parts.FrameReplay(
        500, (shape[0] // 2, *shape[1:]), frame_stack=2, n_step=3, batch_size=8, verbose=False
    )
    obs, _ = env.reset(seed=0)
    replay.add_first(obs)
    for _ in range(60):
        obs, r, term, trunc, _ = env.step(env.action_space.sample())
        replay.add(0, r, obs, term, trunc)
        if term or trunc:
            obs, _ = env.reset()
            replay.add_first(obs)
    curl = agent.aux[0][0]
    before = (
        replay.rng.bit_generator.state,
        curl.augment.generator.get_state(),
        agent.generator.get_state(),
    )
    params = [p.detach().clone() for p in agent.online.parameters()]
    out = _parts.grad_probe(agent, replay, beta=0.4)
    assert out is not None and np.isfinite(out["ratio"])
    assert replay.rng.bit_generator.state == before[0]
    assert torch.equal(curl.augment.generator.get_state(), before[1])
    assert torch.equal(agent.generator.get_state(), before[2])
    assert all(p.grad is None for p in agent.online.parameters())
    assert all(torch.equal(a, b) for a, b in zip(params, agent.online.parameters()))
