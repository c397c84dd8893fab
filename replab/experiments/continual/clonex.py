"""clonex: fine-tuning vs actor-BC vs BC + critic regularisation vs ClonEx (actor-BC + best-return
exploration) with a multi-head SAC on a continual sequence of physics variants (Wołczyk et al. 2022,
reduced plan seed002 §9.5: Pendulum T1 default, T2 g = 12 (§9.5: 15, not learnable from scratch here;
`--sequence pendulum4_g15` runs it), T3 m = 1.6, T4 inverted action sign).

Every (method, seed) sequence and every (task, seed) single-task reference run is one job (`clonex_job`),
run in `workers` processes (1 torch thread each). All methods of a seed share the initial network, the
environment seeds and the replay sampler, so their differences are the method's. Every `eval_every` steps
each task is evaluated (`eval_episodes` stochastic episodes, as CW's test episodes) and an episode is a
success when its return exceeds `success_return` (seed002 §9.5 [P]), so Continual World's success-rate
metrics (`replab.continual.cw_metrics`) apply unchanged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from replab import seeding
from replab.continual.best_return import best_return_head
from replab.continual.clonex import ClonExSAC
from replab.envs.physics_variants import SEQUENCES, make_task, sequence
from replab.experiments import Experiment
from replab.experiments._health import health_fields, job_monitor, log_probes
from replab.experiments._jobs import run_pending
from replab.experiments.continual._clonex_report import report
from replab.probe.health import HealthConfig
from replab.probe.monitor import ProbeLog
from replab.rl.buffers import FrameReplay
from replab.rl.loop import train

METHODS = {
    # method: (bc_coef used, critic regularised, best-return exploration)
    "finetune": (False, False, False),
    "actor_bc": (True, False, False),
    "bc_critic_reg": (True, True, False),
    "clonex": (True, False, True),
}


@dataclass
class Config(HealthConfig):
    probe_every: int = 2_500
    """Environment steps between two health measurements of the actor's shared trunk."""
    sequence: str = "pendulum4"
    """Task sequence (`replab.envs.physics_variants.SEQUENCES`)."""
    methods: tuple[str, ...] = tuple(METHODS)
    """finetune, actor_bc, bc_critic_reg, clonex (seed002 §9.5)."""
    seeds: int = 1
    """Seeds per method in one run (5 through `replab sweep`)."""
    task_steps: int = 15_000
    """Δ: environment steps per task (§9.5: 15k; one single-task run at this preset costs ≈ 85 CPU-s)."""
    start_steps: int = 2_000
    """Uniform random actions at the start of each task (CW `start_steps` 10k, §9.5: 2k); none on later
    tasks with best-return exploration."""
    update_after: int = 1_000
    """Steps of each task before the first update (CW `update_after`)."""
    update_every: int = 50
    """Steps between update rounds of `update_every` updates each (CW `update_every`: 50)."""
    updates_per_round: int = 0
    """Updates in each round (0: `update_every`, CW's one update per environment step on average)."""
    max_episode_steps: int = 0
    """Episode time limit (0: the task's own, Pendulum 200, metaworld 500)."""
    batch_size: int = 128
    hidden: int = 128
    """Width of the trunks (CW: 256; §9.5: 128)."""
    layers: int = 2
    """Hidden layers of the trunks (CW: 4; §9.5: 2)."""
    lr: float = 1e-3
    gamma: float = 0.99
    polyak: float = 0.995
    bc_coef: float = 1.0
    """λ_BC (`policy_reg_coef`, 1.0 in the `myrecall` fork)."""
    critic_reg_coef: float = 1.0
    """λ_c of the critic regulariser (bc_critic_reg only) [P]."""
    kl_direction: str = "current_stored"
    expert_samples: int = 10_000
    """M: states stored per finished task (ClonEx step 1)."""
    best_return_episodes: int = 5
    """Episodes per earlier head for best-return exploration (CW `num_test_eps_stochastic`: 10) [P: 5]."""
    eval_every: int = 1_000
    eval_episodes: int = 5
    """Stochastic test episodes per task per evaluation (CW: 10) [P: 5 for time]."""
    success_return: float = -400.0
    """An episode succeeds when its return exceeds this [P]. Pendulum returns range −1600…0; §9.5 suggests
    −200, but a single-task run (T1, 10k steps, seed 0) plateaued at a mean of −287 over the
    fixed evaluation starts with success 0.2 at −200 (swing-ups from the bottom cost ≈ −300 even when
    solved), which leaves little room to see forgetting; −400 separates a learned policy from an unlearned
    one (random ≈ −1200). Set before any run of the claims."""
    related_tasks: tuple[int, ...] = (1, 2)
    """Task indices related to the first task, on which best-return exploration should raise the AUC
    (§9.5: T2 (changed g) and T3 m = 1.6 resemble T1; T4's inverted actions do not)."""
    workers: int = 2
    forgetting_cut: float = 0.5
    """`claim`: actor-BC's mean forgetting is at most (1 − forgetting_cut) × fine-tuning's ('removes most
    forgetting'), paired by seed (registered 2026-12-05 before any run)."""
    ft_drop: float = 0.05
    """`critic_ft`: BC + critic regularisation's forward transfer is lower than actor-BC's by at least
    this (success-rate units), paired by seed (registered 2026-12-05 before any run)."""
    auc_gain: float = 0.05
    """`best_return`: ClonEx's AUC on the tasks related to T1 (T2, T3) exceeds actor-BC's by at least this,
    paired by (seed, task), above the random policy's success rate (registered 2026-12-05 before any run)."""

    def __post_init__(self):
        super().__post_init__()
        if self.sequence not in SEQUENCES:
            raise ValueError(f"sequence must be one of {list(SEQUENCES)}, got {self.sequence!r}")
        if not self.methods or any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods must be a non-empty subset of {list(METHODS)}, got {self.methods}")
        for name in ("seeds", "task_steps", "update_every", "batch_size", "hidden", "layers", "eval_every",
                     "eval_episodes", "workers", "expert_samples", "best_return_episodes"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.updates_per_round < 0 or self.max_episode_steps < 0:
            raise ValueError(
                f"updates_per_round and max_episode_steps must be >= 0, got {self.updates_per_round}, "
                f"{self.max_episode_steps}"
            )
        if not 0 <= self.update_after < self.task_steps or self.start_steps < 0:
            raise ValueError(
                f"need 0 <= update_after < task_steps and start_steps >= 0, got {self.update_after}, "
                f"{self.task_steps}, {self.start_steps}"
            )
        n = len(SEQUENCES[self.sequence])
        if any(not 0 < i < n for i in self.related_tasks):
            raise ValueError(f"related_tasks must be task indices in [1, {n}), got {self.related_tasks}")
        if self.task_steps % self.eval_every:
            raise ValueError(f"eval_every ({self.eval_every}) must divide task_steps ({self.task_steps})")
        if not 0 < self.forgetting_cut < 1 or self.ft_drop < 0 or self.auc_gain < 0:
            raise ValueError(
                f"need 0 < forgetting_cut < 1, ft_drop >= 0, auc_gain >= 0; got {self.forgetting_cut}, "
                f"{self.ft_drop}, {self.auc_gain}"
            )


class _Offset:
    """A monitor seen through a step offset: the loop restarts at 1 on every task."""

    def __init__(self, monitor):
        self.monitor, self.base = monitor, 0

    def step(self, t: int) -> None:
        self.monitor.step(self.base + t)


def _evaluate(agent, envs, episodes: int, seed: int, success_return: float) -> tuple[list, list]:
    """(mean return, success rate) of each task: `episodes` stochastic episodes, reset seeds seed, seed+1, …"""
    rets, succ = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for env in envs:
            scores, wins = [], []
            for e in range(episodes):
                obs, _ = env.reset(seed=seed + e)
                total, done, won, info = 0.0, False, False, {}
                while not done:
                    obs, r, term, trunc, info = env.step(agent.act(obs, explore=True))
                    total += float(r)
                    won |= bool(info.get("success", False))  # metaworld (CW: success at any step)
                    done = term or trunc
                scores.append(total)
                wins.append(won if "success" in info else total > success_return)
            rets.append(float(np.mean(scores)))
            succ.append(float(np.mean(wins)))
    return rets, succ


def random_success(tasks, episodes: int, seed: int, success_return: float, kw: dict) -> list[float]:
    """The floor: a uniform random policy's success rate on each task (same protocol)."""

    class Uniform:
        def __init__(self, space):
            self.space = space

        def act(self, obs, *, explore):
            return self.space.sample()

    out = []
    for i in range(len(tasks)):
        env = make_task(tasks, i, **kw)
        env.action_space.seed(seed)
        out.append(_evaluate(Uniform(env.action_space), [env], episodes, seed, success_return)[1][0])
    return out


def clonex_job(job: dict) -> dict:
    """One continual sequence (method) or one single-task reference run (method "reference", task i)."""
    torch.set_num_threads(job.get("threads", 1))
    tasks = sequence(job["sequence"])
    n = len(tasks)
    order = [job["task"]] if job["method"] == "reference" else list(range(n))
    bc, critic_reg, best_return = METHODS.get(job["method"], (False, False, False))
    kw = {"max_episode_steps": job["max_episode_steps"]} if job["max_episode_steps"] else {}
    env0 = make_task(tasks, order[0], **kw)
    agent = ClonExSAC(
        env0.observation_space.shape[0], env0.action_space.shape[0], n, hidden=job["hidden"], layers=job["layers"],
        lr=job["lr"], gamma=job["gamma"], polyak=job["polyak"], bc_coef=job["bc_coef"] if bc else 0.0,
        critic_reg_coef=job["critic_reg_coef"] if critic_reg else 0.0, kl_direction=job["kl_direction"],
        expert_samples=job["expert_samples"], seed=job["init_seed"],
    )  # fmt: skip
    eval_envs = [make_task(tasks, i, **kw) for i in order]
    probe_log = ProbeLog()
    mon = job_monitor(job, agent, lambda: make_task(tasks, order[0], **kw), probe_log, arm=job["key"])
    monitor = _Offset(mon) if mon is not None else None
    if mon is not None:
        mon.step(0)
    curve = {"steps": [], "success": [], "returns": []}
    chosen, head_rets = [], []
    start, cpu = time.perf_counter(), time.process_time()
    base = 0
    for pos, i in enumerate(order):
        if pos > 0:
            agent.start_task(i)  # fresh optimisers (the replay is new below)
        env = make_task(tasks, i, **kw)
        dim, adim = env.observation_space.shape[0], env.action_space.shape[0]
        replay = FrameReplay(
            job["task_steps"] + 2, (dim,), frame_dtype=torch.float32, action_shape=(adim,),
            action_dtype=torch.float32, batch_size=job["batch_size"], gamma=job["gamma"], verbose=False,
            rng=np.random.default_rng(seeding.derive_seed(job["init_seed"], f"replay/{i}")),
        )  # fmt: skip
        random_steps = job["start_steps"]
        if best_return and pos > 0:
            best, rets = best_return_head(
                agent, env, i, job["best_return_episodes"], seed=job["env_seed"] + 50_000 + i
            )
            chosen.append(best)
            head_rets.append({str(k): v for k, v in rets.items()})
            random_steps = 0  # the agent acts with the copied head from the first step (§9.2 step 3)
        if monitor is not None:
            monitor.base = base

        def evaluate_fn(a, base=base, pos=pos):
            rets, succ = _evaluate(
                a, eval_envs, job["eval_episodes"], job["env_seed"] + 10_000, job["success_return"]
            )
            t = base + len([s for s in curve["steps"] if s > base]) * job["eval_every"] + job["eval_every"]
            curve["steps"].append(t)
            curve["returns"].append(rets)
            curve["success"].append(succ)
            return [rets[pos]]

        train(
            agent, env, replay, agent_steps=job["task_steps"], learn_start=job["update_after"],
            update_every=job["update_every"], updates_per_step=job["updates_per_round"] or job["update_every"], random_steps=random_steps,
            seed=job["env_seed"] + i, evaluate_fn=evaluate_fn, eval_every=job["eval_every"], monitor=monitor,
        )  # fmt: skip
        if pos < len(order) - 1:
            agent.end_task(replay)  # ClonEx step 1: store states and the policy on them
        base += job["task_steps"]
    return {
        "method": job["method"],
        "task": job.get("task"),
        "seed": job["seed_index"],
        "curve": curve,
        "chosen_heads": chosen,
        "head_returns": head_rets,
        "random_success": random_success(
            tasks, job["eval_episodes"], job["env_seed"] + 77_777, job["success_return"], kw
        )
        if job["method"] == "finetune" or (job["method"] == "reference" and job["task"] == 0)
        else None,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "probes": probe_log.rows,
    }


def make_jobs(cfg: Config, run_seed: int) -> list[dict]:
    n = len(sequence(cfg.sequence))
    shared = {k: getattr(cfg, k) for k in (
        "sequence", "task_steps", "start_steps", "update_after", "update_every", "updates_per_round", "max_episode_steps", "batch_size", "hidden", "layers",
        "lr", "gamma", "polyak", "bc_coef", "critic_reg_coef", "kl_direction", "expert_samples",
        "best_return_episodes", "eval_every", "eval_episodes", "success_return",
    )} | {"health": health_fields(cfg)}  # fmt: skip
    jobs = []
    for seed in range(cfg.seeds):
        ids = {
            "seed_index": seed,
            "env_seed": seeding.derive_seed(run_seed, f"env/{seed}") % 2**31,
            "init_seed": seeding.derive_seed(run_seed, f"init/{seed}") % 2**31,
        }
        for method in cfg.methods:
            jobs.append({**shared, **ids, "key": f"{method}/s{seed}", "method": method})
        for task in range(n):
            jobs.append(
                {**shared, **ids, "key": f"reference/t{task}/s{seed}", "method": "reference", "task": task}
            )
    return jobs


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}

    def on_result(job, result):
        for t, succ in zip(result["curve"]["steps"], result["curve"]["success"]):
            run.log({f"eval/{job['key'].replace('/', '_')}_success": float(np.mean(succ))}, t)
        log_probes(run, result)

    run_pending(run, state, make_jobs(cfg, run.seed), clonex_job, workers=cfg.workers,
                description="clonex jobs", on_result=on_result)  # fmt: skip
    names = [t.name for t in sequence(cfg.sequence)]
    config = cfg.__dict__ | {"methods": list(cfg.methods), "related_tasks": list(cfg.related_tasks)}
    return {"config": config | {"task_names": names}, **state}


SMOKE = Config(
    task_steps=100, start_steps=40, update_after=40, update_every=20, updates_per_round=2, max_episode_steps=25,
    batch_size=32, hidden=16, eval_every=50, eval_episodes=1, success_return=-25.0, expert_samples=64, best_return_episodes=1,
    workers=1, probe_every=50, probe_batch=32,
)  # fmt: skip
DEFAULT = Config()
PAPER = Config(
    sequence="cw10", related_tasks=tuple(range(1, 10)), task_steps=1_000_000, start_steps=10_000, hidden=256, layers=4, eval_every=20_000,
    eval_episodes=10, best_return_episodes=10, probe_every=20_000,
)  # fmt: skip
"""Continual World CW10 on metaworld 3.1.1 (`pip install 'replab[cw]'`) with CW's SAC defaults (§9.2): 10M
environment steps per sequence, for a cluster."""

EXPERIMENT = Experiment(
    name="clonex",
    headline="ClonEx: actor cloning removes forgetting",
    claim=(
        "Behavioural cloning on the actor removes most forgetting while keeping forward transfer; regularising "
        "the critic lowers forward transfer; exploring with the best-return previous head raises transfer "
        "(ClonEx-SAC: 87% final success vs PackNet 80%, forward transfer 0.54 vs 0.18 on Continual World)."
    ),
    source="Wołczyk et al. 2022, Disentangling Transfer in Continual RL (NeurIPS); seed002 §9.2, §9.5",
    check=(
        "Shared rule, paired by seed (and task), pooled by the ledger: actor-BC's mean forgetting ≤ "
        "(1 − forgetting_cut) × fine-tuning's (claim, ratio); BC + critic regularisation's forward transfer "
        "below actor-BC's by ≥ ft_drop (critic_ft); ClonEx's AUC on T2, T3 above actor-BC's by ≥ auc_gain, "
        "above the random policy's success (best_return). CW metrics from replab.continual.cw_metrics."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
