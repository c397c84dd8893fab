"""The independent units of the GFlowNet experiments, as picklable jobs for `_jobs.run_jobs`.

A unit is one (method, R0, seed) curve of gfn-hypergrid or one (variant, seed) run of gfn-ablations. It
draws every random number from the run's named streams (`seeding.generator(run_seed, name)`), so its
result does not depend on which process runs it or in which order: `workers=2` gives the same numbers as
`workers=1`. The worker returns its curve and the metric points; the parent logs them and checkpoints.
"""

from __future__ import annotations

import time

import torch

from replab import seeding
from replab.experiments import _jobs
from replab.gfn.compare import make_method, run_curve
from replab.gfn.exact import policy_table, sampling_distribution
from replab.gfn.gflownet import GFlowNet
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.metrics import l1_distance


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
    wall, cpu = time.perf_counter(), time.process_time()
    curve = run_curve(
        m,
        env,
        job["rounds"],
        window=job["window"],
        log_every=job["log_every"],
        exact_every=job["exact_every"],
        on_log=lambda states, values, r: points.append((states, values)),
    )
    curve["wall_s"] = time.perf_counter() - wall
    curve["cpu_s"] = time.process_time() - cpu
    return {"curve": curve, "points": points}


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
    wall, cpu = time.perf_counter(), time.process_time()
    for u in range(1, job["updates"] + 1):
        metrics, _ = gfn.train_step(job["batch"])
        if u % 50 == 0 or u == job["updates"]:
            losses.append((u, metrics["loss"]))
    u_theta = sampling_distribution(env, policy_table(env, gfn.logits))
    exact = l1_distance(env.true_distribution(), u_theta, env.reachable())
    return {
        "exact_l1": exact,
        "losses": losses,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
    }


def run_units(fn, jobs: list[dict], workers: int, on_done) -> None:
    """Run `fn(job)` for every job, in `workers` processes (inline when 1); on_done(job, result) in order of
    completion. Workers use one torch thread each."""
    workers = min(workers, max(1, len(jobs)))
    for job in jobs:
        job["threads"] = 1 if workers > 1 else None
    _jobs.run_jobs(fn, jobs, workers, on_done)
