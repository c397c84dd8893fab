"""carml: unsupervised meta-RL with self-generated tasks transfers to held-out reaching tasks (seed003 Part C,
reduced plan §C.7).

Per seed, from one randomly initialised RL² meta-learner (GRU-128, PPO): CARML (mixture scaffold, λ = 0.99,
W = 5, K = 8, reservoir 500) for `iterations` E-steps × `updates` PPO updates, evaluated by direct transfer
after every iteration; the discriminative (DIAYN-like) variant with the same budget; an oracle RL² trained on
the true reach-object distribution; the untrained meta-learner (random-init RL²) and a uniform-random policy
(the floor). All are evaluated on the same `test_trials` held-out test tasks (seeded rooms, target colours
never seen in training for random rooms), with no parameter updates: success = reaching distance ≤ 1 of the
target in the last episode of the trial.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from replab import seeding
from replab.experiments import Experiment
from replab.experiments.meta._carml_report import report
from replab.meta.carml import CARML, UniformPolicy, direct_transfer, oracle_update
from replab.meta.egoroom import PALETTE, ROOMS, EgoRoomCore
from replab.meta.gmm import COVARIANCES
from replab.meta.rl2 import RL2
from replab.meta.scaffold import to_input
from replab.meta.whiten import RunningWhitener
from replab.probe.health import HealthConfig, health_monitor
from replab.rl.agent import Encoded, watched_encoder

METHODS = ("carml", "discriminative", "oracle")


@dataclass
class Config(HealthConfig):
    seeds: int = 1
    """Seeds in this run (a sweep runs one per process; the claims pool them by seed)."""
    methods: tuple[str, ...] = METHODS
    """Meta-learners to train: CARML, its discriminative variant (§C.2.6) and the oracle RL²."""
    room: str = "random"
    """'random' (5 of 7 training colours per room, held-out target colours at test) or 'fixed' (§C.7)."""
    tasks: int = 32
    """Tasks (trials) per PPO update (§C.7: 32–64; the thesis 100)."""
    episodes: int = 3
    """Episodes per trial (§C.7: 3; the thesis 4)."""
    steps: int = 20
    """Steps per episode (§C.7: 20; the thesis 50)."""
    iterations: int = 3
    """CARML outer iterations (E-steps) (§C.7: 3; the thesis 5)."""
    updates: int = 80
    """PPO updates per M-step (§C.7: 80; the thesis 500)."""
    oracle_updates: int = 150
    """PPO updates of the oracle on the true task distribution (§C.7: ~150)."""
    k: int = 8
    """Mixture components K (§C.7: 8; the thesis 16)."""
    reservoir: int = 500
    """Reservoir capacity in trajectories (§C.7: 500; the thesis 1000)."""
    rounds: int = 5
    """DeepCluster rounds per E-step (§C.7: 5)."""
    pca_dim: int = 16
    """PCA-whitening dimension before clustering (§C.7: 16)."""
    lam: float = 0.99
    """λ of the reward λ log q(s|z) − log q(s) (Eq. 4.8; the thesis 0.99)."""
    window: int = 5
    """Reward smoothing window W (§C.7: 5 for T = 20; the thesis 10 for T = 50)."""
    temperature: float = 3.0
    """Softmax temperature of the discriminative variant's classifier (§C.2.6: ≥ 3)."""
    covariance: str = "full"
    """GMM covariance of the final E-step round: 'full' or 'diag' (+ 1e-3·I) (§C.7)."""
    hidden: int = 128
    """GRU hidden size (§C.7: 128; the thesis 512)."""
    entropy_coef: float = 0.05
    """PPO entropy bonus (§C.7 [ASSUMP]: 0.05, between the thesis's 0.001 and 0.1)."""
    lr: float = 3e-4
    """Adam step size of PPO (§C.7 [ASSUMP])."""
    test_trials: int = 100
    """Held-out test trials (§C.7: 5 targets × 20 trials)."""
    skill_trials: int = 8
    """Trials per component for skill maps and diversity."""
    min_effect: float = 0.05
    """Registered minimum effect (2026-12-05, before any run): CARML's direct-transfer success rate minus the
    random-init RL²'s, paired by seed, must exceed 0.05 (5 points; the thesis's 59–71% vs far lower)."""
    late_min_effect: float = 0.0
    """Late ≥ early: success(last iteration) − success(iteration 1) > 0 (ties are not wins)."""
    structure_min_effect: float = 0.05
    """Structured skills: I(cell; z) of the meta-learner's last episodes per task z minus I with the z labels
    shuffled, in nats, must exceed 0.05."""
    modes_min_effect: float = 1.0
    """Fewer modes: the effective number of final cells (exp of the entropy of the last episode's final
    (x, y)) over tasks z ~ q(z), CARML minus the discriminative variant, must exceed 1 cell."""
    probe_every: int = 10
    """PPO updates between two health measurements of the meta-learner's encoder."""

    def __post_init__(self):
        super().__post_init__()
        self.methods = tuple(self.methods)
        if unknown := [m for m in self.methods if m not in METHODS]:
            raise ValueError(f"methods: unknown {unknown}, choose from {METHODS}")
        if self.room not in ROOMS:
            raise ValueError(f"room must be one of {ROOMS}, got {self.room!r}")
        for name in ("seeds", "tasks", "episodes", "steps", "iterations", "updates", "k", "rounds", "window"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.reservoir < self.k or self.test_trials < 1 or self.skill_trials < 1:
            raise ValueError(
                f"need reservoir >= k and test_trials, skill_trials >= 1, got {self.reservoir}, "
                f"{self.test_trials}, {self.skill_trials}"
            )
        if self.covariance not in COVARIANCES:
            raise ValueError(f"covariance must be one of {COVARIANCES}, got {self.covariance!r}")
        if self.temperature < 1:
            raise ValueError(
                f"temperature must be >= 1 (§C.2.6 needs >= 3 against mode collapse), got {self.temperature}"
            )
        if not 0 <= self.lam <= 1:
            raise ValueError(f"lam must be in [0, 1] (Eq. 4.8), got {self.lam}")
        for name in ("min_effect", "late_min_effect", "structure_min_effect", "modes_min_effect"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


SMOKE = Config(
    seeds=1, tasks=4, episodes=2, steps=6, window=2, iterations=2, updates=2, oracle_updates=2, k=3, reservoir=12,
    rounds=1, pca_dim=4, hidden=16, test_trials=6, skill_trials=2, probe_every=1, probe_batch=16,
)  # fmt: skip
DEFAULT = Config()
PAPER = Config(tasks=64, iterations=5, updates=500, oracle_updates=1000, k=16, reservoir=1000, hidden=512)
"""The thesis's schedule (5 × 500 updates, K = 16, reservoir 1000, GRU-512) at the reduced room's scale."""


def probe_obs(n: int, room: str, seed: int) -> torch.Tensor:
    """`n` EgoRoom views of a uniform-random policy (rooms and actions of their own seed): the monitor's batch."""
    core = EgoRoomCore(max(1, n // 16), room, seed)
    rng, out = np.random.default_rng(seed), []
    while sum(len(o) for o in out) < n:
        core.step(rng.integers(0, 3, core.n))
        out.append(core.observe())
    return torch.as_tensor(np.concatenate(out)[:n])


def _agent(cfg: Config, run_seed: int, seed: int) -> RL2:
    return RL2(
        hidden=cfg.hidden, lr=cfg.lr, entropy_coef=cfg.entropy_coef,
        seed=seeding.derive_seed(run_seed, f"init/{seed}") % 2**31,
    )  # fmt: skip


def _eval(cfg, agent, run_seed, seed) -> dict:
    test_seed = seeding.derive_seed(run_seed, f"test/{seed}") % 2**31  # the same test tasks for every method
    return direct_transfer(agent, cfg.room, cfg.test_trials, test_seed, cfg.episodes, cfg.steps)


def _skills(carml: CARML, cfg, run_seed, seed, tag) -> dict:
    out = carml.skill_rollouts(
        cfg.skill_trials, seeding.derive_seed(run_seed, f"skills/{seed}/{tag}") % 2**31
    )
    return {"state": out["state"].tolist(), "z": out["z"].tolist()}


def train_carml(cfg: Config, run, seed: int, variant: str, bar) -> dict:
    agent = _agent(cfg, run.seed, seed)
    arm = f"{variant}/s{seed}"
    env_seed = seeding.derive_seed(run.seed, f"env/{seed}") % 2**31
    monitor = health_monitor(
        cfg, watched_encoder(agent), probe_obs(cfg.probe_batch, cfg.room, env_seed + 7), run.log, arm=arm,
        layers=["encoder"],
    )  # fmt: skip
    carml = CARML(
        agent, room=cfg.room, tasks=cfg.tasks, episodes=cfg.episodes, steps=cfg.steps, k=cfg.k,
        reservoir=cfg.reservoir, rounds=cfg.rounds, pca_dim=cfg.pca_dim, lam=cfg.lam, window=cfg.window,
        variant="mixture" if variant == "carml" else "discriminative", temperature=cfg.temperature,
        covariance=cfg.covariance, seed=env_seed,
    )  # fmt: skip
    scaffold_monitor = health_monitor(
        cfg,
        Encoded(carml.encoder, to_input),
        probe_obs(cfg.probe_batch, cfg.room, env_seed + 7),
        run.log,
        arm=f"{variant}_g/s{seed}",
        layers=["encoder"],
    )  # fmt: skip  (the E-step's encoder g, stepped per cross-entropy step of its DeepCluster rounds)
    g_steps = [0]

    def tick():
        g_steps[0] += 1
        scaffold_monitor.step(g_steps[0])

    carml.fill_reservoir()
    out = {"iterations": [], "estep": [], "skills": {}}
    step = 0
    for it in range(1, cfg.iterations + 1):
        out["estep"].append(carml.e_step(tick))
        for _ in range(cfg.updates):
            m = carml.m_step_update(step)
            step += 1
            run.log({f"loss/{k}/{arm}": v for k, v in m.items() if k.startswith("loss/")} | {
                f"train/reward_raw/{arm}": m["reward_raw"], f"train/entropy/{arm}": m["entropy"]}, step)  # fmt: skip
            monitor.step(step)
            bar.advance(1, method=variant, seed=seed, iteration=it)
        ev = _eval(cfg, agent, run.seed, seed)
        run.log({f"eval/success/{arm}": ev["success"]}, step)
        out["iterations"].append(ev)
        if it == 1 or it == cfg.iterations:
            out["skills"][str(it)] = _skills(carml, cfg, run.seed, seed, it)
    out["prior"] = carml.scaffold.prior().tolist()
    return out


def train_oracle(cfg: Config, run, seed: int, bar) -> dict:
    agent = _agent(cfg, run.seed, seed)
    arm = f"oracle/s{seed}"
    env_seed = seeding.derive_seed(run.seed, f"oracle_env/{seed}") % 2**31
    monitor = health_monitor(
        cfg, watched_encoder(agent), probe_obs(cfg.probe_batch, cfg.room, env_seed + 7), run.log, arm=arm,
        layers=["encoder"],
    )  # fmt: skip
    core, whitener = EgoRoomCore(cfg.tasks, cfg.room, env_seed), RunningWhitener(len(PALETTE))
    for step in range(1, cfg.oracle_updates + 1):
        m = oracle_update(agent, core, whitener, step, cfg.episodes, cfg.steps)
        run.log({f"loss/{k}/{arm}": v for k, v in m.items() if k.startswith("loss/")}, step)
        monitor.step(step)
        bar.advance(1, method="oracle", seed=seed)
    return _eval(cfg, agent, run.seed, seed)


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    per_seed = {"carml": cfg.iterations * cfg.updates, "discriminative": cfg.iterations * cfg.updates}
    per_seed["oracle"] = cfg.oracle_updates
    units = [(m, s) for s in range(cfg.seeds) for m in ("baselines", *cfg.methods)]
    total = sum(per_seed.get(m, 0) for m, _ in units)
    done = sum(per_seed.get(m, 0) for m, s in units if f"{m}/{s}" in state["done"])
    with run.progress(total, "carml", completed=done) as bar:
        for m, s in units:
            key = f"{m}/{s}"
            if key in state["done"]:
                continue
            if m == "baselines":
                init = _eval(cfg, _agent(cfg, run.seed, s), run.seed, s)
                floor_seed = seeding.derive_seed(run.seed, f"uniform/{s}") % 2**31
                uniform = _eval(cfg, UniformPolicy(floor_seed), run.seed, s)
                state["done"][key] = {"random_init": init, "uniform": uniform}
                run.log(
                    {"eval/success/random_init": init["success"], "eval/success/uniform": uniform["success"]},
                    s,
                )
            elif m == "oracle":
                state["done"][key] = train_oracle(cfg, run, s, bar)
            else:
                state["done"][key] = train_carml(cfg, run, s, m, bar)
            run.save_checkpoint(state)
    keys = [f.name for f in Config.__dataclass_fields__.values() if f.name in _REPORTED]
    return {"config": {k: getattr(cfg, k) for k in keys}, "results": state["done"]}


_REPORTED = {
    "seeds", "methods", "room", "tasks", "episodes", "steps", "iterations", "updates", "oracle_updates", "k",
    "reservoir", "lam", "window", "temperature", "test_trials", "skill_trials", "min_effect", "late_min_effect",
    "structure_min_effect", "modes_min_effect", "hidden",
}  # fmt: skip

EXPERIMENT = Experiment(
    name="carml",
    headline="CARML tasks transfer to held-out reaching",
    claim=(
        "A meta-learner trained by CARML on its own self-supervised tasks (a trajectory-level mixture over "
        "DeepCluster features, reward λ log q(s|z) − log q(s)) transfers with no parameter updates to "
        "hand-specified object-reaching tasks with held-out targets, better than a randomly initialised "
        "meta-learner (ViZDoom: 71% Fixed, 59% Random success in 4 episodes); late iterations transfer at "
        "least as well as early ones; its skills are structured; a purely discriminative scaffold covers fewer "
        "modes."
    ),
    source="A. Jabri, PhD thesis (UC Berkeley EECS-2023-192), ch. 4 (CARML, Jabri et al. NeurIPS 2019), "
    "Fig. 4.6–4.8, §4.4",
    check=(
        "Headline: direct-transfer success CARML − random-init RL², paired by seed, > min_effect (0.05) by the "
        "shared rule, with the uniform-random policy as the floor; late ≥ early, structured skills "
        "(I(cell; z) vs shuffled z) and fewer modes for the discriminative variant decided the same way."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
