"""The plasticity-injection and effective-rank-offline experiments: configs, phase detection, correlations,
the injection job's measurements on a tiny run, and the offline dataset round trip."""

import dataclasses

import numpy as np
import pytest
import torch

from replab.experiments.plasticity._erank_report import phases, rho
from replab.experiments.plasticity.effective_rank_offline import Config as ErankConfig
from replab.experiments.plasticity.effective_rank_offline import settings
from replab.experiments.plasticity.plasticity_injection import SMOKE, Config, make_jobs

pytest.importorskip("minatar")


def test_phase_detection_known_trajectories():
    assert phases([10, 6, 6, 9, 9, 5]) == (True, True, True)  # drop, rise, late drop
    assert phases([10, 6, 7, 9, 9, 9]) == (True, True, False)
    assert phases([10, 9.5, 9.6, 9.7]) == (False, False, False)  # a 5% dip is no phase
    assert phases([10, 8, 6, 5]) == (True, False, False)  # monotone collapse
    assert phases([10, 8, 9, 5, 7, 4]) == (True, True, True)  # the first minimum counts, not the global one


def test_rho_known_answers_and_undefined_cases():
    r, p = rho([1, 2, 3, 4, 5], [2, 4, 6, 8, 11])
    assert r == pytest.approx(1.0) and p < 0.05
    assert rho([1, 2, 3, 4], [4, 3, 2, 1])[0] == pytest.approx(-1.0)
    assert np.isnan(rho([3, 3, 3, 3], [1, 2, 3, 4])[0])  # constant srank: undefined, not 0


def test_configs_validate_and_enumerate():
    with pytest.raises(ValueError, match="inject_step"):
        Config(inject_step=0, learn_start=0)
    with pytest.raises(ValueError, match="conditions"):
        Config(conditions=("inject",))
    with pytest.raises(ValueError, match="widths"):
        ErankConfig(widths=())
    assert len(settings(ErankConfig())) == 16  # lr × width × target period × n-step = 2⁴
    jobs = make_jobs(Config(seeds=2), 0)
    assert len(jobs) == 2 * 5 * 2
    # the conditions of one seed share the initial network and environment seed (a paired design)
    s0 = [j for j in jobs if j["game"] == "breakout" and j["seed_index"] == 0]
    assert len({j["init_seed"] for j in s0}) == 1 and len({j["env_seed"] for j in s0}) == 1


def test_injection_job_measures_zero_delta_q_and_identical_return():
    from replab.experiments.plasticity._injection_parts import injection_job

    tiny = dataclasses.replace(SMOKE, agent_steps=120, inject_step=60, learn_start=20, epsilon_decay=50,
                               eval_max_episode_steps=30, measure_states=32, probe_steps=2)  # fmt: skip
    base = [j for j in make_jobs(tiny, 0) if j["condition"] in ("inject", "reset")]
    out = {j["condition"]: injection_job(j) for j in base}
    inj, rst = out["inject"]["at_t"], out["reset"]["at_t"]
    assert inj["delta_q_max"] == 0.0 and inj["return_before"] == inj["return_after"]
    assert rst["delta_q_max"] > 0
    # identical up to T: both measured the same network at T
    assert inj["q_scale"] == rst["q_scale"] and inj["return_before"] == rst["return_before"]
    assert out["inject"]["trainable"] == out["reset"]["trainable"]


def test_offline_dataset_round_trip(tmp_path):
    from replab.experiments.plasticity._erank_parts import collect, load_replay, train_behaviour

    cfg = {**ErankConfig().__dict__, "env": "minatar:breakout", "behaviour_steps": 50, "behaviour_learn_start": 10,
           "eval_episodes": 1, "eval_max_episode_steps": 20}  # fmt: skip
    agent, _ = train_behaviour(cfg, 0)
    path = str(tmp_path / "d.npz")
    stats = collect(agent, cfg, 1.0, 200, 0, path)
    d = np.load(path)
    assert len(d["actions"]) == 200 and len(d["frames"]) == 200 + len(d["starts"])
    replay = load_replay(path, 3, 0.99, 8, np.random.default_rng(0))
    assert len(replay) > 0 and stats["steps"] == 200
    b = replay.sample()
    assert b.obs.shape == (8, *d["frames"].shape[1:]) and torch.all(b.steps <= 3)


def test_injection_job_health_monitor_is_neutral_and_follows_the_injected_head():
    """Issue 20: the monitor changes no result of a job, measures at step 0 and at T, and after the
    injection reads the fresh head's hidden layer (the old head's is frozen)."""
    from replab.experiments.plasticity._health import QView
    from replab.experiments.plasticity._injection_parts import injection_job
    from replab.intervene import inject_plasticity
    from replab.rl.qnet import QHead

    tiny = dataclasses.replace(SMOKE, agent_steps=120, inject_step=60, learn_start=20, epsilon_decay=50,
                               eval_max_episode_steps=30, measure_states=32, probe_steps=2, probe_every=30,
                               probe_batch=32)  # fmt: skip
    job = next(j for j in make_jobs(tiny, 0) if j["condition"] == "inject")
    off = {**job, "health": {**job["health"], "probes": "none"}}
    on_res, off_res = injection_job(job), injection_job(off)
    timing = ("seconds", "cpu_seconds", "train_cpu_seconds", "update_ms", "probes")
    assert {k: v for k, v in on_res.items() if k not in timing} == {
        k: v for k, v in off_res.items() if k not in timing
    }
    assert not any(k.startswith("probe/") for _, m in off_res["probes"] for k in m)  # marks only
    steps = {step for step, m in on_res["probes"] if "probe/srank/breakout/inject/s0/hidden" in m}
    assert steps == {0, 30, 60, 90, 120}
    marks = [step for step, m in on_res["probes"] if "train/intervention/breakout/inject/s0" in m]
    assert marks == [60]

    net = torch.nn.Module()
    net.encoder = torch.nn.Flatten()
    net.head = QHead(8, 3, hidden=5, dueling=False, noisy=False)
    before = QView(net, lambda o: o)
    inject_plasticity(net, "head", generator=torch.Generator().manual_seed(0))
    after = QView(net, lambda o: o)
    assert before.hidden[0] is not after.hidden[0] and after.head is net.head.fresh
