"""Shared parts of the discrete-control experiments (curl-minatar, atari100k): build a Rainbow or
Rainbow+CURL agent, train one (game, method, seed) job end to end, run jobs in worker processes."""

from __future__ import annotations

import dataclasses
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np
import torch

from replab import seeding
from replab.envs import make
from replab.rl.buffers import FrameReplay
from replab.rl.curl import CURL, curl_projection
from replab.rl.evaluate import evaluate
from replab.rl.loop import train
from replab.rl.qnet import feature_dim
from replab.rl.rainbow import Rainbow, RainbowConfig

METHODS = ("rainbow", "curl")


def build_agent(job: dict, obs_shape, n_actions: int, device: str) -> Rainbow:
    """Data-efficient Rainbow (job["rainbow"] overrides of `RainbowConfig`), plus CURL when
    job["method"] == "curl": random shift (replicate pad job["curl_pad"]), the reference code's head
    Linear→LN→ReLU→Linear→LN on the encoder's features, W of 128×128, EMA keys (momentum m)."""
    cfg = RainbowConfig(**job["rainbow"])
    seed = job["init_seed"]
    torch.manual_seed(seed)  # layer initialisers draw from the global generator: same Q-net for both methods
    noise = torch.Generator().manual_seed(seeding.derive_seed(seed, "noise"))
    agent = Rainbow(
        obs_shape, n_actions, cfg, device=device, generator=noise, rng=np.random.default_rng(seed)
    )
    if job["method"] == "curl":
        from replab.augment import random_shift

        aug_gen = torch.Generator(device="cpu").manual_seed(seeding.derive_seed(seed, "augment"))
        pad, frames = job["curl_pad"], job["frame_stack"]

        def augment(x):
            return random_shift(x, pad, generator=aug_gen, frames=frames)

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
        agent.aux = [(curl, job["curl_coef"])]
        agent.reset_optimizer()
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

    start = time.perf_counter()
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
        "update_ms": 1000 * hist.update_seconds / max(1, c.updates),
        "act_env_ms": 1000 * hist.act_env_seconds / max(1, c.agent_steps),
    }


def random_policy_scores(env: str, kwargs: dict, episodes: int, seed: int) -> list[float]:
    """Scores of a uniformly random policy (the normalisation's lower reference)."""
    e = make(env, **kwargs)
    rng = np.random.default_rng(seed)

    class Uniform:
        def act(self, obs, *, explore):
            return int(rng.integers(e.action_space.n))

    return evaluate(Uniform(), e, episodes, seed=seed)


def run_jobs(jobs: list[dict], workers: int, on_done) -> None:
    """Run `jobs` (train_job) in `workers` processes (inline when 1), calling on_done(job, result)."""
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            on_done(job, train_job(job))
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(train_job, job): job for job in jobs}
        for fut in as_completed(futures):
            on_done(futures[fut], fut.result())


def job_key(game: str, method: str, seed: int) -> str:
    return f"{game}/{method}/s{seed}"
