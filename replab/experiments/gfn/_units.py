"""The independent units of the GFlowNet experiments, as picklable jobs for `_jobs.run_jobs`.

A unit is one (method, R0, seed) curve of gfn-hypergrid or one (variant, seed) run of gfn-ablations. It
draws every random number from the run's named streams (`seeding.generator(run_seed, name)`), so its
result does not depend on which process runs it or in which order: `workers=2` gives the same numbers as
`workers=1`. The worker returns its curve and the metric points; the parent logs them and checkpoints.

Representation health: a learner's trunk (the policy / flow MLP's last hidden layer) is watched by a
Monitor on a fixed batch of encoded states, every `probe_every` updates, logging into a `ProbeLog` whose
rows the unit returns as `probes` (the parent replays them). Its time is left out of the unit's timings.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from replab import seeding
from replab.experiments import _jobs
from replab.experiments._health import health_config
from replab.gfn.compare import make_method, run_curve
from replab.gfn.exact import policy_table, sampling_distribution
from replab.gfn.gflownet import GFlowNet
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.metrics import l1_distance
from replab.probe.health import health_monitor
from replab.probe.monitor import ProbeLog


def trunk(learner) -> nn.Module:
    """The policy (or flow) MLP of a GFlowNet, PPO (`net`) or discrete SAC (`pi`) learner."""
    return learner.pi if hasattr(learner, "pi") else learner.net


class Watch:
    """A Monitor of `trunk(learner)`'s last hidden layer on the encoded `states` (a `ProbeLog`, returned as
    `rows`), `step(t)` timed so the caller can leave `wall`/`cpu` seconds out of its own timings. Without a
    learner (MCMC, random) it measures nothing."""

    def __init__(self, health: dict, learner, env, states: torch.Tensor, arm: str):
        self.log, self.monitor = ProbeLog(), None
        if learner is not None:
            net = trunk(learner)  # mlp(): [Linear, LeakyReLU] × n_layers, Linear: the last hidden is [-2]
            cfg = health_config(health)
            feats = env.features(states[: cfg.probe_batch])
            self.monitor = health_monitor(cfg, net, feats, self.log, arm=arm, layers=[str(len(net) - 2)])

    def step(self, t: int) -> None:
        if self.monitor is not None:
            self.monitor.step(t)

    @property
    def wall(self) -> float:
        return self.monitor.seconds if self.monitor is not None else 0.0

    @property
    def cpu(self) -> float:
        return self.monitor.cpu_seconds if self.monitor is not None else 0.0

    @property
    def rows(self) -> list:
        return self.log.rows


class _Watched:
    """A compare method whose every `round()` (one update) is followed by `watch.step(round)`."""

    def __init__(self, method, watch: Watch):
        self._method, self._watch, self._round = method, watch, 0

    def round(self):
        cells = self._method.round()
        self._round += 1
        self._watch.step(self._round)
        return cells

    def __getattr__(self, name):
        return getattr(self._method, name)


def grid_states(env: HyperGrid, n: int) -> torch.Tensor:
    """`n` cells spread evenly over the grid's flat order (all of them when fewer): no random draw."""
    cells = env.cells()
    return cells[torch.linspace(0, len(cells) - 1, min(n, len(cells))).round().long()]


def _threads(job: dict) -> None:
    if job.get("threads"):
        torch.set_num_threads(job["threads"])


def hypergrid_unit(job: dict) -> dict:
    """One gfn-hypergrid curve: `job` holds method, R0, seed, run_seed and the Config fields used."""
    _threads(job)
    method, R0, seed, run_seed = job["method"], job["R0"], job["seed"], job["run_seed"]
    env = HyperGrid(job["n"], job["H"], R0)
    stream = f"{R0:g}/{seed}"
    m = make_method(
        method,
        env,
        batch=job["batch"],
        hidden=job["hidden"],
        lr=job["lr"],
        generator=seeding.generator(run_seed, f"sampler/{method}/{stream}"),
        init_generator=seeding.generator(run_seed, f"init/{stream}"),
        gfn_kwargs={"eps": job["eps"]},
        ppo_kwargs={
            "entropy_coef": job["ppo_entropy"],
            "epochs": job["ppo_epochs"],
            "minibatches": job["ppo_minibatches"],
        },
    )
    points = []
    learner = getattr(m, "learner", None)
    watch = Watch(
        job["health"],
        learner,
        env,
        grid_states(env, job["health"]["probe_batch"]),
        f"{method}/R0={R0:g}/s{seed}",
    )
    wall, cpu = time.perf_counter(), time.process_time()
    curve = run_curve(
        _Watched(m, watch),
        env,
        job["rounds"],
        window=job["window"],
        log_every=job["log_every"],
        exact_every=job["exact_every"],
        on_log=lambda states, values, r: points.append((states, values)),
    )
    curve["wall_s"] = time.perf_counter() - wall - watch.wall
    curve["cpu_s"] = time.process_time() - cpu - watch.cpu
    return {"curve": curve, "points": points, "probes": watch.rows}


def ablation_unit(job: dict) -> dict:
    """One gfn-ablations run: `job` holds variant, seed, run_seed, the GFlowNet kwargs and Config fields."""
    _threads(job)
    variant, seed, run_seed = job["variant"], job["seed"], job["run_seed"]
    env = HyperGrid(job["n"], job["H"], job["R0"])
    gfn = GFlowNet(
        env,
        "fm",
        hidden=job["hidden"],
        lr=job["lr"],
        generator=seeding.generator(run_seed, f"sampler/{variant}|{seed}"),
        init_generator=seeding.generator(run_seed, f"init/{seed}"),
        **job["kwargs"],
    )
    losses = []
    watch = Watch(
        job["health"], gfn, env, grid_states(env, job["health"]["probe_batch"]), f"{variant}/s{seed}"
    )
    wall, cpu = time.perf_counter(), time.process_time()
    for u in range(1, job["updates"] + 1):
        metrics, _ = gfn.train_step(job["batch"])
        watch.step(u)
        if u % 50 == 0 or u == job["updates"]:
            losses.append((u, metrics["loss"]))
    u_theta = sampling_distribution(env, policy_table(env, gfn.logits))
    exact = l1_distance(env.true_distribution(), u_theta, env.reachable())
    return {
        "exact_l1": exact,
        "losses": losses,
        "wall_s": time.perf_counter() - wall - watch.wall,
        "cpu_s": time.process_time() - cpu - watch.cpu,
        "probes": watch.rows,
    }


def run_units(fn, jobs: list[dict], workers: int, on_done) -> None:
    """Run `fn(job)` for every job, in `workers` processes (inline when 1); on_done(job, result) in order of
    completion. Workers use one torch thread each."""
    workers = min(workers, max(1, len(jobs)))
    for job in jobs:
        job["threads"] = 1 if workers > 1 else None
    _jobs.run_jobs(fn, jobs, workers, on_done)
