"""Shared parts of the discrete-control experiments (curl-minatar, atari100k): build a Rainbow or
Rainbow+CURL agent, train one (game, method, seed) job end to end (measuring, for CURL, its gradient on the
shared encoder against the TD gradient at each evaluation), run jobs in worker processes."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from replab import seeding
from replab.augment import Augment
from replab.envs import make
from replab.experiments import _jobs
from replab.experiments._health import health_fields, job_monitor, log_probes
from replab.experiments.discrete._config import SHARED_FIELDS
from replab.probe.monitor import ProbeLog
from replab.rl.buffers import FrameReplay
from replab.rl.curl import CURL, curl_projection
from replab.rl.evaluate import evaluate
from replab.rl.loop import train
from replab.rl.qnet import feature_dim
from replab.rl.rainbow import Rainbow, RainbowConfig


def build_agent(job: dict, obs_shape, n_actions: int, device: str) -> Rainbow:
    """Data-efficient Rainbow (job["rainbow"] overrides of `RainbowConfig`), plus CURL when
    job["method"] == "curl": the augmentation spec job["curl_augment"] (DrQ's random shift, replicate pad),
    the reference code's head Linear→LN→ReLU→Linear→LN on the encoder's features, W of 128×128, EMA keys
    (momentum m)."""
    cfg = RainbowConfig(**job["rainbow"])
    seed = job["init_seed"]
    torch.manual_seed(seed)  # layer initialisers draw from the global generator: same Q-net for both methods
    noise = torch.Generator().manual_seed(seeding.derive_seed(seed, "noise"))
    agent = Rainbow(
        obs_shape, n_actions, cfg, device=device, generator=noise, rng=np.random.default_rng(seed)
    )
    if job["method"] == "curl":
        aug_gen = torch.Generator(device="cpu").manual_seed(seeding.derive_seed(seed, "augment"))
        augment = Augment(job["curl_augment"], frames=job["frame_stack"], generator=aug_gen)
        enc = agent.online.encoder
        width = feature_dim(enc, obs_shape)
        curl = CURL(
            enc,
            job["curl_dim"],
            augment=augment,
            projection=curl_projection(width, job["curl_hidden"], job["curl_dim"]),
            momentum=job["curl_momentum"],
            temperature=job["curl_temperature"],
        ).to(device)
        agent.add_aux(curl, job["curl_coef"])
    return agent


GRAD_PROBE_BATCHES = 4
"""Replay batches per gradient measurement (`grad_probe`)."""


def grad_probe(agent: Rainbow, replay: FrameReplay, beta: float) -> dict | None:
    """How hard the CURL loss pulls on the shared encoder against the TD loss (issue 19): on
    `GRAD_PROBE_BATCHES` replay batches, the norms of ∇_encoder (c · L_CURL) and ∇_encoder L_TD (the
    importance-weighted TD loss `update` uses, at exponent `beta`) over the online encoder's parameters,
    c the CURL coefficient; returns their means, ratio = mean CURL norm / mean TD norm (the gradients as
    the optimiser sums them), and CURL's contrastive accuracy. None without a CURL objective.

    It leaves training as it was: the replay's sampler, the augmentation's and the noise's generators are
    restored afterwards and no `.grad` is written (`torch.autograd.grad`), so a job's results are the same
    with or without it (tested)."""
    found = [(o, c) for o, c in agent.aux if isinstance(o, CURL)]
    if not found or replay.num_sampleable == 0:
        return None
    curl, coef = found[0]
    params = [p for p in agent.online.encoder.parameters() if p.requires_grad]
    gens = [agent.generator, getattr(curl.augment, "generator", None)]
    gens = [g for g in gens if isinstance(g, torch.Generator)]
    saved = [g.get_state() for g in gens], replay.rng.bit_generator.state
    td_norms, curl_norms, accs = [], [], []
    try:
        for _ in range(GRAD_PROBE_BATCHES):
            batch = replay.sample(beta)
            td = (batch.weight * agent._td_loss(batch)).mean()
            td_norms.append(_norm(torch.autograd.grad(td, params)))
            loss, metrics = curl.loss(batch)
            curl_norms.append(_norm(torch.autograd.grad(coef * loss, params)))
            accs.append(metrics.get("train/curl_accuracy", float("nan")))
    finally:
        for g, state in zip(gens, saved[0]):
            g.set_state(state)
        replay.rng.bit_generator.state = saved[1]
    td_norm, curl_norm = float(np.mean(td_norms)), float(np.mean(curl_norms))
    return {
        "updates": int(agent.updates),
        "coef": float(coef),
        "td_norm": td_norm,
        "curl_norm": curl_norm,
        "ratio": curl_norm / td_norm if td_norm > 0 else float("inf"),
        "curl_accuracy": float(np.mean(accs)),
    }


def _norm(grads) -> float:
    return float(torch.sqrt(sum(g.detach().double().pow(2).sum() for g in grads)))


def train_job(job: dict) -> dict:
    """Train and evaluate one job; returns JSON-able results (curves, final scores, counters, timings)."""
    torch.set_num_threads(job.get("threads", 1))
    device = job.get("device", "cpu")
    env = make(job["env"], **job["train_env_kwargs"])
    eval_env = make(job["env"], **job["eval_env_kwargs"])
    agent = build_agent(job, env.observation_space.shape, env.action_space.n, device)
    shape = env.observation_space.shape
    replay = FrameReplay(
        job["replay_capacity"],
        (shape[0] // job["frame_stack"], *shape[1:]),
        frame_stack=job["frame_stack"],
        n_step=job["n_step"],
        gamma=job["gamma"],
        batch_size=job["batch_size"],
        prioritized=job["prioritized"],
        device=device,
        rng=np.random.default_rng(seeding.derive_seed(job["init_seed"], "sampler")),
        verbose=False,
    )
    eval_rng = np.random.default_rng(seeding.derive_seed(job["env_seed"], "eval"))
    evals_done, probes = [0], []
    steps, every, start_at = job["agent_steps"], job["eval_every"], job["learn_start"]

    def evaluate_fn(a):
        evals_done[0] += 1
        t = min(evals_done[0] * every, steps) if every else steps  # the loop evaluates there and at the end
        if t >= start_at:  # the training loop's β at step t
            beta = job["beta_start"] + (t - start_at) / max(1, steps - start_at) * (1.0 - job["beta_start"])
            probe = grad_probe(a, replay, beta)
            if probe is not None:
                probes.append({"agent_steps": t, **probe})
        return evaluate(
            a,
            eval_env,
            job["eval_episodes"],
            epsilon=job["eval_epsilon"],
            rng=eval_rng,
            seed=job["env_seed"] + 10_000 + evals_done[0],
        )

    probe_log = ProbeLog()
    arm = f"{job['method']}/{job['game']}/seed{job['seed_index']}"
    monitor = job_monitor(job, agent, lambda: make(job["env"], **job["train_env_kwargs"]), probe_log, arm=arm)
    start, cpu_start = time.perf_counter(), time.process_time()
    hist = train(
        agent,
        env,
        replay,
        agent_steps=job["agent_steps"],
        learn_start=job["learn_start"],
        reward_clip=job["reward_clip"],
        beta=(job["beta_start"], 1.0),
        seed=job["env_seed"],
        evaluate_fn=evaluate_fn,
        eval_every=job["eval_every"],
        monitor=monitor,
    )
    c = hist.counters
    return {
        "game": job["game"],
        "method": job["method"],
        "seed": job["seed_index"],
        "evals": [[int(t), [float(s) for s in scores]] for t, scores in hist.evals],
        "final": float(np.mean(hist.evals[-1][1])),
        "train_scores": [[int(t), float(s)] for t, s in hist.train_scores],
        "counters": dataclasses.asdict(c),
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu_start,
        "replay": replay.describe(),
        "update_ms": 1000 * hist.update_seconds / max(1, c.updates),
        "act_env_ms": 1000 * hist.act_env_seconds / max(1, c.agent_steps),
        "grad_probe": probes,
        "probes": probe_log.rows,  # the health monitor's rows: `run_logged` writes them and drops them
    }


def job_key(game: str, method: str, seed: int) -> str:
    return f"{game}/{method}/s{seed}"


def run_logged(jobs: list[dict], state: dict, run, workers: int, description: str) -> None:
    """Run the unfinished `jobs`, logging each finished job's curve and counters to `run` and
    checkpointing `state["done"]` after each (so `--resume` repeats at most the running jobs)."""
    jobs = [dict(j, device=run.device) for j in jobs]

    def on_result(job, result):
        prefix = f"{job['game']}_{job['method']}_s{job['seed_index']}"
        _jobs.log_curve(run, prefix, result, "agent_steps")
        c = result["counters"]
        run.log(
            {f"train/{prefix}_{k}": c[k] for k in ("agent_steps", "env_steps", "frames", "updates")},
            c["agent_steps"],
        )
        for probe in result.get("grad_probe", []):
            run.log({f"probe/{prefix}_curl_td_grad_ratio": probe["ratio"]}, probe["agent_steps"])
        log_probes(run, result)

    _jobs.run_pending(
        run, state, jobs, train_job, workers=workers, description=description, on_result=on_result
    )


def make_job(
    cfg, *, game, method, seed, run_seed, env, train_env_kwargs, eval_env_kwargs, rainbow, curl_coef
):
    """One job dict from an experiment config (the SHARED_FIELDS) and its per-job parts. Both methods of
    a seed get the same env seed and initial Q-network (a paired design)."""
    job = {k: getattr(cfg, k) for k in SHARED_FIELDS}
    job.update(
        key=job_key(game, method, seed),
        game=game,
        method=method,
        seed_index=seed,
        env=env,
        train_env_kwargs=train_env_kwargs,
        eval_env_kwargs=eval_env_kwargs,
        env_seed=seeding.derive_seed(run_seed, f"env/{game}/{seed}") % 2**31,
        init_seed=seeding.derive_seed(run_seed, f"init/{game}/{seed}") % 2**31,
        rainbow=rainbow,
        beta_start=cfg.priority_beta,
        curl_coef=curl_coef,
        health=health_fields(cfg),
    )
    return job
