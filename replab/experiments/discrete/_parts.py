"""Shared parts of the discrete-control experiments (curl-minatar, atari100k): build a Rainbow or
Rainbow+CURL agent, train one (game, method, seed) job end to end, run jobs in worker processes."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from replab import seeding
from replab.augment import Augment
from replab.envs import make
from replab.experiments import _jobs
from replab.experiments.discrete._config import SHARED_FIELDS
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
    evals_done = [0]

    def evaluate_fn(a):
        evals_done[0] += 1
        return evaluate(
            a,
            eval_env,
            job["eval_episodes"],
            epsilon=job["eval_epsilon"],
            rng=eval_rng,
            seed=job["env_seed"] + 10_000 + evals_done[0],
        )

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
    )
    return job
