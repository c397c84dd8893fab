"""effective-rank-offline parts: a behaviour Double DQN trained online, fixed datasets collected with
it, and one offline Double DQN job that tracks srank of the penultimate layer and the return
(Gulcehre et al. 2022; seed002 §10.2, §10.6).

Datasets are episodes stored as numpy arrays (obs (N+E, C, H, W) uint8 with each episode's first
observation, action, reward, terminated, truncated per step) in an .npz file, so worker processes load
them from disk instead of receiving them pickled. An offline job replays a dataset into a `FrameReplay`
(with the job's n-step) and only samples from it: no environment interaction during learning.

Every evaluation is `_evaluation.seeded_evaluation`: a fresh environment instance and generators seeded
for that evaluation alone, so a return is a function of the network and the evaluation's seed (issue 19:
on one shared MinAtar instance the sticky-action memory and a shared ε generator carried over from the
previous evaluation).
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import torch

from replab import seeding
from replab.envs import make
from replab.experiments._health import health_config
from replab.experiments.plasticity._evaluation import curve_evaluator, seeded_evaluation
from replab.experiments.plasticity._health import LAYERS, watched_q
from replab.probe.health import health_monitor
from replab.probe.monitor import ProbeLog
from replab.probe.rank import srank
from replab.probe.units import dormant_fraction
from replab.rl.buffers import FrameReplay
from replab.rl.loop import train
from replab.rl.rainbow import DQN, dqn_config


def env_kwargs(cfg) -> dict:
    return dict(sticky_action_prob=cfg["sticky_action_prob"], max_episode_steps=cfg["max_episode_steps"])


def eval_env_kwargs(cfg) -> dict:
    return {**env_kwargs(cfg), "max_episode_steps": cfg["eval_max_episode_steps"]}


def dqn(cfg: dict, obs_shape, n_actions: int, *, hidden: int, lr: float, target_update: int, seed: int):
    """Double DQN with the MinAtar conv encoder and a Linear–ReLU–Linear head of `hidden` units."""
    torch.manual_seed(seed)  # the layer initialisers draw from the global RNG
    c = dqn_config(
        double=True, encoder="minatar", obs_scale=1.0, hidden=hidden, lr=lr, adam_eps=cfg["adam_eps"],
        target_update=target_update, epsilon_decay=cfg["behaviour_epsilon_decay"],
    )  # fmt: skip
    return DQN(obs_shape, n_actions, cfg=c, rng=np.random.default_rng(seed))


def train_behaviour(cfg: dict, seed: int):
    """The behaviour agent: online Double DQN for `behaviour_steps` agent steps; returns (agent, evals)."""
    env = make(cfg["env"], **env_kwargs(cfg))
    agent = dqn(
        cfg, env.observation_space.shape, env.action_space.n, hidden=cfg["behaviour_hidden"],
        lr=cfg["behaviour_lr"], target_update=cfg["behaviour_target_update"], seed=seed,
    )  # fmt: skip
    replay = FrameReplay(
        cfg["behaviour_steps"] + 1, env.observation_space.shape, batch_size=32, gamma=cfg["gamma"],
        rng=np.random.default_rng(seeding.derive_seed(seed, "sampler")), verbose=False,
    )  # fmt: skip
    make_eval_env = partial(make, cfg["env"], **eval_env_kwargs(cfg))
    evaluate_fn = curve_evaluator(make_eval_env, cfg["eval_episodes"], cfg["eval_epsilon"], seed)

    hist = train(
        agent, env, replay, agent_steps=cfg["behaviour_steps"], learn_start=cfg["behaviour_learn_start"],
        update_every=cfg["behaviour_update_every"], seed=seed, evaluate_fn=evaluate_fn, eval_every=max(1, cfg["behaviour_steps"] // 5),
    )  # fmt: skip
    return agent, [[int(t), float(np.mean(s))] for t, s in hist.evals]


def collect(agent, cfg: dict, epsilon: float, steps: int, seed: int, path: str) -> dict:
    """`steps` transitions of `agent`'s greedy policy with ε-random actions (prob. `epsilon`), saved to
    `path` (.npz); returns the dataset's statistics (episodes, mean finished-episode return)."""
    env = make(cfg["env"], **env_kwargs(cfg))
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    frames, actions, rewards, terms, truncs, starts = [obs], [], [], [], [], [0]
    ep_return, returns = 0.0, []
    for t in range(steps):
        a = int(rng.integers(env.action_space.n)) if rng.random() < epsilon else agent.act(obs, explore=False)
        obs, r, term, trunc, _ = env.step(a)
        actions.append(a), rewards.append(r), terms.append(term), truncs.append(trunc)
        frames.append(obs)
        ep_return += r
        if (term or trunc) and t < steps - 1:
            returns.append(ep_return)
            ep_return = 0.0
            obs, _ = env.reset()
            frames.append(obs)
            starts.append(len(frames) - 1)
    np.savez_compressed(
        path, frames=np.stack(frames), actions=np.array(actions), rewards=np.array(rewards, np.float32),
        terminated=np.array(terms), truncated=np.array(truncs), starts=np.array(starts),
    )  # fmt: skip
    return {"epsilon": epsilon, "steps": steps, "episodes": len(returns),
            "mean_return": float(np.mean(returns)) if returns else float("nan")}  # fmt: skip


def load_replay(path: str, n_step: int, gamma: float, batch_size: int, rng) -> FrameReplay:
    """The dataset at `path` in a `FrameReplay` with `n_step` returns (capacity = its size)."""
    d = np.load(path)
    frames, starts = d["frames"], set(d["starts"].tolist())
    replay = FrameReplay(len(frames), frames.shape[1:], n_step=n_step, gamma=gamma, batch_size=batch_size,
                         rng=rng, verbose=False)  # fmt: skip
    step = 0
    for i in range(len(frames)):
        if i in starts:
            replay.add_first(frames[i])
        else:
            replay.add(int(d["actions"][step]), float(d["rewards"][step]), frames[i],
                       bool(d["terminated"][step]), bool(d["truncated"][step]))  # fmt: skip
            step += 1
    return replay


def penultimate(agent, x: torch.Tensor) -> torch.Tensor:
    """The head's hidden activations (after the ReLU) `(N, hidden)`: the penultimate layer."""
    with torch.no_grad():
        return agent.online.head.advantage[:2](agent.online.features(x))


def offline_job(job: dict) -> dict:
    """Offline Double DQN on one dataset with one setting; srank_δ, dead fraction and return every
    `measure_every` updates (and at update 0)."""
    torch.set_num_threads(job.get("threads", 1))
    start, cpu = time.perf_counter(), time.process_time()
    make_eval_env = partial(make, job["env"], **eval_env_kwargs(job))  # a fresh instance per evaluation
    env = make_eval_env()  # read for the shapes only
    shape, n_actions = env.observation_space.shape, env.action_space.n
    env.close()
    seed = job["init_seed"]
    agent = dqn(job, shape, n_actions, hidden=job["width"], lr=job["lr"],
                target_update=job["target_update"], seed=seed)  # fmt: skip
    replay = load_replay(job["dataset_path"], job["n_step"], job["gamma"], job["batch_size"],
                         np.random.default_rng(seeding.derive_seed(seed, "sampler")))  # fmt: skip
    probe_rng = np.random.default_rng(seeding.derive_seed(seed, "probe"))
    idx = probe_rng.choice(len(np.load(job["dataset_path"])["frames"]), job["rank_states"], replace=False)
    x = torch.as_tensor(np.load(job["dataset_path"])["frames"][idx])
    # representation health (issue 20): encoder and head hidden layer on the first dataset states of `x`
    probe_log = ProbeLog()
    monitor = health_monitor(
        health_config(job), watched_q(agent), x, probe_log, arm=job["key"], layers=LAYERS
    )
    monitor.step(0)
    points = []
    for u in range(job["updates"] + 1):
        if u % job["measure_every"] == 0:
            feats = penultimate(agent, x)
            scores = seeded_evaluation(agent, make_eval_env, job["eval_episodes"], epsilon=job["eval_epsilon"],
                                       seed=seeding.derive_seed(job["env_seed"], f"update/{u}"))  # fmt: skip
            points.append({"update": u, "srank": srank(feats, job["delta"]),
                           "dead": dormant_fraction(feats, 0.0), "return": float(np.mean(scores))})  # fmt: skip
        if u < job["updates"]:
            agent.update(replay.sample(), u + 1)
            monitor.step(u + 1)
    return {
        "key": job["key"],
        "setting": job["setting"],
        "dataset": job["dataset"],
        "points": points,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "probes": probe_log.rows,  # written into the run by the parent, then dropped from the result
    }
