"""One plasticity-injection job: Double DQN on a MinAtar game with one intervention at agent step T
(seed002 §2.6), measured around T and at the end.

Conditions (`CONDITIONS`): `baseline` (nothing), `inject` (plasticity injection into the head),
`reset` (head re-initialised, its Adam state dropped: Nikishin et al. 2022), `grow` (injection of a
2× wider fresh head), `scratch` (the whole network re-initialised with a fresh optimiser state at T:
training from scratch on the same replay for the remaining budget). Every condition of one seed shares
the initial network, environment seed and replay sampler, and runs the same measurement at T, so all
conditions are identical up to T (a paired design). The baseline job also scores a uniform random
policy with the evaluation protocol (the floor of the score claims).

At T, on `measure_states` replay states: Q-values and greedy returns (`eval_episodes` episodes)
just before and just after the intervention; |ΔQ| = max |Q_after − Q_before|. Both evaluations use a
fresh evaluation environment and the same explicitly-seeded generators (`_evaluation.seeded_evaluation`),
so an unchanged network returns the same score before and after T (issue 19: on one shared MinAtar
instance the sticky-action memory carried over from the first evaluation into the second). Every
learning-curve evaluation k likewise gets its own seed, the same in every condition of a seed. The
supervised plasticity probe (§2.6): `probe_tasks` random-label tasks on replay states, `probe_steps`
Adam steps each (cross-entropy on the Q-network's outputs as logits) from a copy of the network
("continue") and from an injected copy ("inject, then fit"); at T (baseline job only, since all
conditions are the same network there) with a fresh initialisation as reference, and at the end.

Representation health (issue 20): a Monitor of the Q-network (`_health.QView`: the encoder and the hidden
layer of the head's trainable part) every `probe_every` agent steps and at step 0, on random-policy
observations of a separate environment instance (the same batch in every condition of a seed); its rows
go back to the parent in `result["probes"]`.
"""

from __future__ import annotations

import copy
import time
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F

from replab import seeding
from replab.envs import make
from replab.experiments._health import health_config, probe_observations
from replab.experiments.plasticity._evaluation import curve_evaluator, seeded_evaluation, seeded_random_scores
from replab.experiments.plasticity._health import LAYERS, watched_q
from replab.intervene import Inject, Reset, Schedule, inject_plasticity
from replab.nn.count import count
from replab.probe.health import health_monitor
from replab.probe.monitor import ProbeLog
from replab.probe.plasticity import ProbeTask, fresh_copy, probe_loss
from replab.rl.buffers import FrameReplay
from replab.rl.loop import train
from replab.rl.rainbow import DQN, dqn_config

CONDITIONS = ("baseline", "inject", "reset", "grow", "scratch")


def intervention(condition: str, grow: float):
    """The schedule action of a condition (None for the baseline)."""
    return {
        "baseline": None,
        "inject": Inject("head"),
        "reset": Reset("head", reset_optimizer_state=True),
        "grow": Inject("head", grow=grow),
        "scratch": Reset("", reset_optimizer_state=True),
    }[condition]


def replay_states(replay: FrameReplay, n: int) -> torch.Tensor:
    """`n` replay observations (uint8), drawn with the replay's own sampler (the same draws in every
    condition of a seed)."""
    out, total = [], 0
    while total < n:
        obs = replay.sample().obs.clone()
        out.append(obs)
        total += obs.shape[0]
    return torch.cat(out)[:n]


def probe_tasks(states: torch.Tensor, n_actions: int, job: dict) -> list[ProbeTask]:
    """Random-label tasks on `states`: labels uniform over the actions, drawn from the job's seed."""
    tasks = []
    for i in range(job["probe_tasks"]):
        g = torch.Generator().manual_seed(seeding.derive_seed(job["init_seed"], f"probe/{i}") % 2**31)
        y = torch.randint(0, n_actions, (states.shape[0],), generator=g)
        tasks.append(ProbeTask(states, y, F.cross_entropy, batch_size=job["probe_task_batch"], seed=i))
    return tasks


def probe(model, tasks, job, *, inject_first: bool = False) -> float:
    """b(θ): mean final probe loss from copies of `model` (after injecting into a copy when asked)."""
    if inject_first:
        model = inject_plasticity(copy.deepcopy(model), "head", generator=torch.Generator().manual_seed(7))
    opt = partial(torch.optim.Adam, lr=job["probe_lr"])
    return float(np.mean(probe_loss(model, tasks, job["probe_steps"], opt)))


class Measure:
    """A schedule action recording Q-values on fixed states and the greedy return; it changes nothing
    (`modifies = False`: no target re-sync). The first one at T draws the states. The return is one
    `seeded_evaluation` on a fresh `make_env()` with the seed `derive_seed(env_seed, "measure")`: the same
    before and after T, so an unchanged network scores the same (issue 19)."""

    name = "measure"
    modifies = False

    def __init__(self, agent, make_env, shared: dict, job, stage: str):
        self.agent, self.make_env, self.shared, self.job, self.stage = agent, make_env, shared, job, stage

    def __call__(self, model, *, optimizer, batch, generator) -> dict:
        if "states" not in self.shared:
            self.shared["states"] = replay_states(self.shared["replay"], self.job["measure_states"])
        with torch.no_grad():
            q = model(self.shared["states"]).clone()
        scores = seeded_evaluation(
            self.agent,
            self.make_env,
            self.job["eval_episodes"],
            epsilon=self.job["eval_epsilon"],
            seed=seeding.derive_seed(self.job["env_seed"], "measure"),
        )
        self.shared[self.stage] = {"q": q, "return": float(np.mean(scores))}
        return {}


class ProbeAtT:
    """The probe on the network at T (baseline job): continue, inject-then-fit and a fresh network."""

    name = "probe"
    modifies = False

    def __init__(self, shared: dict, n_actions: int, job: dict):
        self.shared, self.n_actions, self.job = shared, n_actions, job

    def __call__(self, model, *, optimizer, batch, generator) -> dict:
        tasks = probe_tasks(self.shared["states"], self.n_actions, self.job)
        self.shared["probe_t"] = {
            "continue": probe(model, tasks, self.job),
            "inject": probe(model, tasks, self.job, inject_first=True),
            "fresh": probe(fresh_copy(model, seed=self.job["init_seed"]), tasks, self.job),
        }
        return {}


def injection_job(job: dict) -> dict:
    """Train one (game, condition, seed) job; returns JSON-able curves and measurements."""
    torch.set_num_threads(job.get("threads", 1))
    env = make(job["env"], **job["env_kwargs"])
    make_eval_env = partial(make, job["env"], **job["eval_env_kwargs"])  # a fresh instance per evaluation
    shape, n_actions = env.observation_space.shape, env.action_space.n
    torch.manual_seed(job["init_seed"])  # initialisers draw from the global RNG: same network per seed
    cfg = dqn_config(double=True, **job["dqn"])
    agent = DQN(shape, n_actions, cfg=cfg, rng=np.random.default_rng(job["init_seed"]))
    replay = FrameReplay(
        job["replay_capacity"],
        shape,
        n_step=1,
        gamma=job["gamma"],
        batch_size=job["batch_size"],
        rng=np.random.default_rng(seeding.derive_seed(job["init_seed"], "sampler")),
        verbose=False,
    )
    shared: dict = {"replay": replay}
    T = job["inject_step"]
    gen = torch.Generator().manual_seed(seeding.derive_seed(job["init_seed"], "fresh") % 2**31)
    schedule = Schedule(generator=gen).at(T, Measure(agent, make_eval_env, shared, job, "before"))
    if job["condition"] == "baseline":  # all conditions hold the same network at T: probe it once
        schedule.at(T, ProbeAtT(shared, n_actions, job))
    action = intervention(job["condition"], job["grow"])
    if action is not None:
        schedule.at(T, action)
    schedule.at(T, Measure(agent, make_eval_env, shared, job, "after"))
    # evaluation k: its own seed, the same in every condition of a seed
    evaluate_fn = curve_evaluator(make_eval_env, job["eval_episodes"], job["eval_epsilon"], job["env_seed"])

    # representation health (issue 20): the Q-network's encoder and head hidden layer on random-policy
    # observations of a separate environment instance (the same batch in every condition of a seed)
    health, probe_log = health_config(job["health"]), ProbeLog()
    obs = probe_observations(make(job["env"], **job["env_kwargs"]), health.probe_batch,
                             seeding.derive_seed(job["env_seed"], "health") % 2**31)  # fmt: skip
    monitor = health_monitor(health, watched_q(agent), obs, probe_log, arm=job["key"], layers=LAYERS)
    monitor.step(0)
    start, cpu = time.perf_counter(), time.process_time()
    hist = train(
        agent, env, replay, agent_steps=job["agent_steps"], learn_start=job["learn_start"],
        update_every=job["update_every"], seed=job["env_seed"], evaluate_fn=evaluate_fn,
        eval_every=job["eval_every"], schedule=schedule, monitor=monitor,
    )  # fmt: skip
    train_cpu = time.process_time() - cpu
    end_tasks = probe_tasks(replay_states(replay, job["measure_states"]), n_actions, job)
    probe_end = {"continue": probe(agent.online, end_tasks, job)}
    random_score = None
    if job["condition"] == "baseline":
        probe_end["inject"] = probe(agent.online, end_tasks, job, inject_first=True)
        # the floor of the score claims: a uniform random policy, same evaluation protocol (after training,
        # so nothing above changes; `eval_episodes` episodes, cheap)
        random_score = float(
            np.mean(seeded_random_scores(make_eval_env, job["eval_episodes"], job["env_seed"]))
        )
    before, after = shared["before"], shared["after"]
    dq = (after["q"] - before["q"]).abs().max().item()
    c = hist.counters
    return {
        "game": job["game"],
        "condition": job["condition"],
        "seed": job["seed_index"],
        "evals": [[int(t), [float(s) for s in scores]] for t, scores in hist.evals],
        "final": float(np.mean(hist.evals[-1][1])),
        "random": random_score,
        "n_actions": int(n_actions),
        "at_t": {
            "delta_q_max": float(dq),
            "q_scale": float(before["q"].abs().mean()),
            "return_before": before["return"],
            "return_after": after["return"],
        },
        "probe_t": shared.get("probe_t", {}),
        "probe_end": probe_end,
        "macs": count(agent.online, tuple(shape)).macs,
        "trainable": sum(p.numel() for p in agent.online.parameters() if p.requires_grad),
        "counters": {"agent_steps": c.agent_steps, "updates": c.updates},
        "interventions": hist.interventions,
        "seconds": time.perf_counter() - start,
        "train_cpu_seconds": train_cpu,
        "cpu_seconds": time.process_time() - cpu,
        "update_ms": 1000 * hist.update_seconds / max(1, c.updates),
        "probes": probe_log.rows,  # written into the run by the parent, then dropped from the result
    }
