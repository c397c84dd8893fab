"""The health monitor of the continuous-control jobs (issue 20): a fixed probe batch from an environment
instance of its own, rows at env steps, and no effect on what a job trains."""

import dataclasses

import numpy as np
import torch

from replab.envs import make
from replab.experiments import _health
from replab.experiments.continuous import _parts, curl_pointmass

KW = dict(obs_type="pixels", size=16, frame_stack=3, episode_steps=100)


def test_probe_batch_is_seeded_and_leaves_the_global_generators_alone():
    legacy = np.random.get_state  # noqa: NPY002 (numpy's global generator must stay untouched too)
    torch_state, np_state = torch.get_rng_state(), legacy()
    a = _health.probe_observations(make("pointmass", **KW), 40, 7)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(legacy()[1], np_state[1])
    assert a.shape == (40, 9, 16, 16) and a.dtype == torch.uint8
    assert torch.equal(a, _health.probe_observations(make("pointmass", **KW), 40, 7))
    assert not torch.equal(a, _health.probe_observations(make("pointmass", **KW), 40, 8))


def _job(**health) -> dict:
    cfg = dataclasses.replace(curl_pointmass.SMOKE, methods=("curl",), env_steps=240, init_steps=30, **health)
    return dict(curl_pointmass.make_jobs(cfg, run_seed=0)[0], threads=1)


def test_monitor_logs_at_env_steps_and_changes_nothing():
    with_probes = _parts.train_job(_job(probe_every=80))  # 80 env steps = 20 agent steps (repeat 4)
    without = _parts.train_job(_job(probes="none"))
    assert [step for step, _ in with_probes["probes"]] == [80, 160, 240] and without["probes"] == []
    metrics = with_probes["probes"][-1][1]
    assert metrics["probe/srank/curl/seed0/encoder"] >= 1
    assert set(metrics) >= {"perf/probe_seconds/curl/seed0", "probe/weight_norm/curl/seed0"}
    for key in ("evals", "final", "counters"):
        assert with_probes[key] == without[key]


def test_state_sac_encoder_has_a_zero_weight_norm():
    from replab.probe.gradients import weight_norm
    from replab.rl.sac_nets import StateEncoder

    assert weight_norm(StateEncoder(6)) == 0.0  # the identity: no parameters, no error
