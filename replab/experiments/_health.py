"""Representation health for jobs in worker processes, shared by every family (issue 20).

A job dict carries its Config's health fields (`health_fields(cfg)` → `job["health"]`); the worker
rebuilds the `HealthConfig` (`health_config`), watches its model on a fixed batch (for RL: random-policy
observations of an environment instance of its own, `probe_observations`), logs into a `ProbeLog` and
returns `result["probes"] = probe_log.rows`; the parent writes them into the run with `log_probes`,
which also drops them from the result (results.json is the same with and without probes).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from replab import seeding
from replab.probe.health import HealthConfig, health_monitor
from replab.probe.monitor import ProbeLog
from replab.rl.agent import watched_encoder

HEALTH_FIELDS = tuple(f.name for f in dataclasses.fields(HealthConfig))
PROBE_EPISODE = 32
"""Agent steps of each random-policy episode of an RL probe batch (a fresh reset seed after each)."""


def health_fields(cfg) -> dict:
    """The `HealthConfig` fields of a Config (or of a dict holding them), for a job dict."""
    get = cfg.get if isinstance(cfg, dict) else lambda k: getattr(cfg, k)
    return {k: get(k) for k in HEALTH_FIELDS}


def health_config(fields: dict, **overrides) -> HealthConfig:
    """The `HealthConfig` a worker rebuilds from a job's health fields (`overrides` replace some)."""
    return HealthConfig(**{**{k: fields[k] for k in HEALTH_FIELDS}, **overrides})


def log_probes(run, result: dict) -> None:
    """Write a finished job's probe rows into the run and drop them from its result."""
    ProbeLog.replay(run, result.pop("probes", None))


def probe_observations(env, n: int, seed: int) -> torch.Tensor:
    """`n` raw observations of a uniform-random policy on `env` (an instance training never uses), in
    episodes of at most `PROBE_EPISODE` steps reset with the seeds seed, seed + 1, ...: a monitor's fixed
    batch, drawn from the env's own generators only (no global RNG, nothing the training env or the agent
    reads). The env is closed afterwards."""
    env.action_space.seed(seed)
    out, k = [], 0
    while len(out) < n:
        obs, _ = env.reset(seed=seed + k)
        out.append(obs)
        k += 1
        for _ in range(PROBE_EPISODE - 1):
            if len(out) >= n:
                break
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            out.append(obs)
            if terminated or truncated:
                break
    env.close()
    return torch.as_tensor(np.stack(out[:n]))


def job_monitor(job: dict, agent, make_env, log, *, arm: str, repeat: int = 1):
    """The health monitor of an RL job's agent: its encoder (`watched_encoder`, layer `encoder`) on
    `probe_observations` of `make_env()`, every `job["health"]["probe_every"]` env steps (agent steps ×
    `repeat`), logged at env steps. None when the job has no probes."""
    fields = job.get("health")
    if not fields or fields["probes"] == "none":
        return None
    steps = {k: max(1, v // repeat) if v else 0 for k, v in fields.items() if k.endswith("_every")}
    cfg = health_config(fields, **steps)  # intervals in agent steps
    seed = seeding.derive_seed(job["env_seed"], "probe") % 2**31
    obs = probe_observations(make_env(), cfg.probe_batch, seed).to(agent.device)
    return health_monitor(
        cfg, watched_encoder(agent), obs, lambda m, t: log(m, t * repeat), arm=arm, layers=["encoder"]
    )
