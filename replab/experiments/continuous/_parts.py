"""Shared parts of the continuous-control experiments (curl-pointmass, curl-dmc, ...): build State SAC, Pixel SAC, CURL
or RAD for one job, train and evaluate it, run jobs in worker processes (1 thread each)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from replab import seeding
from replab.envs import make
from replab.experiments._health import job_monitor
from replab.probe.monitor import ProbeLog
from replab.rl.buffers import FrameReplay
from replab.rl.evaluate import evaluate, random_policy_scores
from replab.rl.loop import train
from replab.rl.sac import SAC

# method → (obs_type, render size key, augmentation spec, CURL on). Track A geometry (seed001 §2.7):
# crop: render `size` (38) → random crop `crop` (32), eval centre crop; translate: render `crop` (32) →
# random placement in a `size` (38) canvas, eval centred; pixel: render `crop` (32), no augmentation.
METHODS = {
    "state": ("state", "crop", None, False),
    "pixel": ("pixels", "crop", None, False),
    "curl": ("pixels", "size", "crop", True),
    "rad_crop": ("pixels", "size", "crop", False),
    "rad_translate": ("pixels", "crop", "translate", False),
}


def aug_options(spec: str | None, size: int, crop: int) -> dict | None:
    """Sizes for the Track A geometry: crop to `crop`, translate into a `size` canvas, cutout boxes
    scaled from RAD's 84-pixel defaults (4–24 px) by crop / 84."""
    if spec is None:
        return None
    names, out = spec.split("-"), {}
    if "crop" in names:
        out["crop_size"] = crop
    if "translate" in names:
        out["translate_size"] = size
    for cut in ("cutout", "cutout_color"):
        if cut in names:
            out[f"{cut}_min_cut"] = max(1, round(4 * crop / 84))
            out[f"{cut}_max_cut"] = max(2, round(24 * crop / 84))
    return out


def resolve(job: dict) -> tuple[str, int, str | None, dict | None, bool]:
    """(obs_type, render size, augmentation spec, its options, CURL on) of a job. A job may carry them
    resolved under "agent" (curl-dmc); otherwise they follow the Track A geometry of `METHODS`."""
    if "agent" in job:
        a = job["agent"]
        return a["obs_type"], a["render"], a["spec"], a["options"], a["curl"]
    if job.get("spec"):  # RAD with any augmentation spec: render large only when it crops
        spec, curl = job["spec"], False
        obs_type, render = "pixels", "size" if "crop" in spec.split("-") else "crop"
    else:
        obs_type, render, spec, curl = METHODS[job["method"]]
    return obs_type, job[render], spec, aug_options(spec, job["size"], job["crop"]), curl


def env_kwargs(job: dict) -> dict:
    obs_type, render, *_ = resolve(job)
    return dict(job["env_kwargs"], obs_type=obs_type, size=render)


def build(job: dict, device: str):
    obs_type, render, spec, options, curl = resolve(job)
    kw = env_kwargs(job)
    env, eval_env = make(job["env"], **kw), make(job["env"], **kw)
    shape = env.observation_space.shape
    agent = SAC(
        shape,
        env.action_space.shape[0],
        frames=job["frame_stack"],
        augment=spec,
        augment_options=options,
        curl=curl,
        curl_anchor=job.get("curl_anchor", "critic"),
        device=device,
        seed=job["init_seed"],
        **job["sac"],
    )
    pixels = obs_type == "pixels"
    replay = FrameReplay(
        job["replay_capacity"],
        (shape[0] // job["frame_stack"], *shape[1:]) if pixels else shape,
        frame_stack=job["frame_stack"] if pixels else 1,
        frame_dtype=torch.uint8 if pixels else torch.float32,
        action_shape=env.action_space.shape,
        action_dtype=torch.float32,
        batch_size=job["batch_size"],
        gamma=job["gamma"],
        device=device,
        rng=np.random.default_rng(seeding.derive_seed(job["init_seed"], "sampler")),
        verbose=False,
    )
    return agent, env, eval_env, replay


def evaluations(job: dict) -> int:
    """How many evaluations `train_job` runs for `job`: every `eval_every` agent steps and at the end
    (`rl/loop.train`)."""
    steps, every = job["agent_steps"], job["eval_every"]
    return (steps // every if every else 0) + (0 if every and steps % every == 0 else 1)


def final_eval_seed(job: dict) -> int:
    """The seed of `train_job`'s last evaluation of `job`: its episodes start from the same states for
    every method of a seed (and for the random policy, `random_policy_job`)."""
    return job["env_seed"] + 10_000 + evaluations(job)


def random_policy_job(job: dict) -> list[float]:
    """The uniform-random policy's scores on the episodes of `job`'s final evaluation: same environment
    (state observations: nothing is rendered, the episodes' goals and starts are the same), same seed,
    `eval_episodes` episodes. The floor a learned agent of that seed must beat; costs only the
    environment's steps (measured: PointMass 10 episodes ≈ 0.2 CPU-s; dm_control cartpole-swingup
    state, 5 episodes ≈ 0.8 CPU-s)."""
    env = make(job["env"], **dict(job["env_kwargs"], obs_type="state"))
    return random_policy_scores(env, job["eval_episodes"], final_eval_seed(job))


def train_job(job: dict) -> dict:
    """Train and evaluate one (method, seed) job; JSON-able curves, final score, counters and timings."""
    torch.set_num_threads(job.get("threads", 1))
    agent, env, eval_env, replay = build(job, job.get("device", "cpu"))
    done = [0]

    def evaluate_fn(a):
        done[0] += 1
        return evaluate(a, eval_env, job["eval_episodes"], seed=job["env_seed"] + 10_000 + done[0])

    probes = ProbeLog()
    arm = f"{job.get('arm') or job.get('cell') or job['method']}/seed{job['seed_index']}"  # method, RAD cell or task/method
    monitor = job_monitor(
        job, agent, lambda: make(job["env"], **env_kwargs(job)), probes, arm=arm, repeat=job["action_repeat"]
    )
    start = time.perf_counter()
    hist = train(
        agent,
        env,
        replay,
        agent_steps=job["agent_steps"],
        learn_start=job["init_steps"],
        random_steps=job["init_steps"],
        seed=job["env_seed"],
        evaluate_fn=evaluate_fn,
        eval_every=job["eval_every"],
        monitor=monitor,
    )
    c = hist.counters
    return {
        "method": job["method"],
        "seed": job["seed_index"],
        "evals": [[int(t) * job["action_repeat"], [float(s) for s in sc]] for t, sc in hist.evals],
        "final": float(np.mean(hist.evals[-1][1])),
        "counters": dataclasses.asdict(c),
        "seconds": time.perf_counter() - start,
        "update_ms": 1000 * hist.update_seconds / max(1, c.updates),
        "probes": probes.rows,  # the monitor's rows: the parent logs them (`log_probes`) and drops them
    }
