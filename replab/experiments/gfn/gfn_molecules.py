"""gfn-molecules: GFlowNet vs PPO vs MCMC vs random on fragment-based molecules (thesis §5.3.2, Table 5.1).

The environment is the thesis's block-tree DAG (its 72 blocks, stems derived by a documented rule) and
the reward is a proxy that needs no docking: R(x) = max(0.01, 10·QED(x)) — the thesis uses an MPNN
trained on AutoDock Vina scores against sEH, which is not reproducible offline. Every method visits
the same number of molecules; top-k reward of unique molecules, Tanimoto diversity of the top 100 and
greedy modes (reward > threshold, similarity < 0.7) are measured (seed004 §S5.4, §S5.6).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from replab import seeding
from replab.experiments import Experiment
from replab.experiments._health import health_fields
from replab.experiments.gfn import _units as _gfn_units
from replab.experiments.gfn._molecules_report import (
    MIN_DIVERSITY_GAIN,
    MIN_MODES_RATIO,
    MIN_TOP100_GAIN,
    report,
)
from replab.probe.health import HealthConfig
from replab.probe.monitor import parse_probes

METHODS = ("gfn", "ppo", "mcmc", "random")


@dataclass
class Config(HealthConfig):
    probe_every: int = 125
    """Updates between two measurements of the health monitor (the GFlowNet's / PPO's MLP, its last hidden
    layer, on the terminal states of `probe_batch` uniform random trajectories drawn in a separate
    environment from the run's `probe/states/<seed>` stream): 20 over DEFAULT's 2,500 updates."""
    molecules: int = 10_000
    """Molecules visited per method and seed (thesis: 10^5 and 10^6)."""
    seeds: int = 3
    """Seeds per method (thesis: 3)."""
    methods: tuple[str, ...] = METHODS
    """Methods compared (gfn, ppo, mcmc, random)."""
    max_blocks: int = 4
    """Blocks per molecule (thesis: 8; seed004 §S5.6 reduced plan: 4)."""
    batch: int = 4
    """Trajectories per update (thesis: 4) and MCMC chains."""
    hidden: int = 256
    """Hidden units of the MLP on [Morgan fingerprint, block counts] (thesis MPNN: 256)."""
    fp_bits: int = 2048
    """Morgan fingerprint bits of the model input."""
    gfn_lr: float = 5e-4
    """GFlowNet learning rate (thesis: 5e-4)."""
    gfn_beta: float = 10.0
    """Reward exponent β of the GFlowNet and MCMC target R̂ = (R/T)^β (thesis: 10)."""
    gfn_eps: float = 2.5e-5
    """ε of the flow-matching loss (thesis: 2.5e-5)."""
    leaf_coef: float = 10.0
    """λ_T, the leaf-loss weight (thesis: 10)."""
    random_action_prob: float = 0.05
    """GFlowNet exploration: uniform action with this probability (thesis: 0.05)."""
    ppo_lr: float = 1e-4
    """PPO learning rate (thesis: 1e-4)."""
    ppo_beta: float = 4.0
    """PPO reward exponent (thesis: 4)."""
    ppo_entropy: float = 1e-6
    """PPO entropy coefficient (thesis: 1e-6, 'higher did not help')."""
    ppo_epochs: int = 2
    """PPO epochs over each update's transitions ([UNSPECIFIED] in the thesis)."""
    ppo_minibatches: int = 2
    """PPO minibatches per epoch ([UNSPECIFIED] in the thesis)."""
    mode_thresholds: tuple[float, ...] = (7.0, 8.0)
    """Reward thresholds of a mode (thesis: 7 and 8 on its 0–10 docking scale; here 10·QED > 7, > 8)."""
    workers: int = 2
    """Worker processes running the (method, seed) units (1: inline); results do not depend on it."""
    min_modes_ratio: float = MIN_MODES_RATIO
    """Registered minimum effect of "more modes" (above the highest threshold), as a ratio: the mean over
    seeds of ln(1 + modes) of the GFlowNet minus the baseline's must have its CI above ln(min_modes_ratio)
    (a geometric-mean ratio of 1 + modes; the +1 keeps a baseline with no mode decidable). Fig. 5.10 shows
    a several-fold gap without numbers; 1.5× is a stated, conservative reading of "more". Registered
    2026-12-05 before any run of this rule."""
    min_top100_gain: float = MIN_TOP100_GAIN
    """Registered minimum effect of "higher top-100 reward", in reward units (10·QED): half of Table 5.1's
    smallest gap, GFlowNet 8.21 − PPO 7.87 = 0.34 (on the docking scale, also ≈ 0–10). Registered
    2026-12-05 before any run of this rule."""
    min_diversity_gain: float = MIN_DIVERSITY_GAIN
    """Registered minimum effect of "more diverse top molecules", in mean pairwise Tanimoto: the GFlowNet's
    must be below PPO's by more than half of Table 5.1's gap (0.62 − 0.44 = 0.18). Registered 2026-12-05
    before any run of this rule."""

    def __post_init__(self):
        super().__post_init__()
        if self.min_modes_ratio < 1 or self.min_top100_gain < 0 or self.min_diversity_gain < 0:
            raise ValueError(
                "min_modes_ratio must be >= 1, min_top100_gain and min_diversity_gain >= 0; got "
                f"{self.min_modes_ratio}, {self.min_top100_gain}, {self.min_diversity_gain}"
            )
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {self.methods}")
        for name in (
            "molecules",
            "seeds",
            "max_blocks",
            "batch",
            "hidden",
            "fp_bits",
            "ppo_epochs",
            "ppo_minibatches",
            "workers",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.mode_thresholds:
            raise ValueError("mode_thresholds must not be empty")


SMOKE = Config(molecules=24, seeds=1, max_blocks=2, hidden=32, fp_bits=128, workers=1, probe_every=2)
DEFAULT = Config()
PAPER = Config(molecules=100_000, seeds=3, max_blocks=8)


def _make(method: str, cfg: Config, run_seed: int, seed: int):
    """(env, step() -> list of stopped-state ids visited, the learner or None)."""
    from replab.gfn.gflownet import GFlowNet
    from replab.gfn.molecules.env import MolEnv
    from replab.gfn.molecules.mcmc import BlockMCMC
    from replab.gfn.ppo import PPO
    from replab.gfn.sampler import sample_trajectories

    beta = cfg.ppo_beta if method == "ppo" else cfg.gfn_beta
    env = MolEnv(max_blocks=cfg.max_blocks, beta=beta, fp_bits=cfg.fp_bits)
    gen = seeding.generator(run_seed, f"sampler/{method}/{seed}")
    init = seeding.generator(run_seed, f"init/{seed}")
    if method == "gfn":
        learner = GFlowNet(
            env,
            "fm",
            hidden=cfg.hidden,
            lr=cfg.gfn_lr,
            eps=cfg.gfn_eps,
            leaf_coef=cfg.leaf_coef,
            epsilon=cfg.random_action_prob,
            generator=gen,
            init_generator=init,
        )
    elif method == "ppo":
        learner = PPO(
            env,
            hidden=cfg.hidden,
            lr=cfg.ppo_lr,
            entropy_coef=cfg.ppo_entropy,
            epochs=cfg.ppo_epochs,
            minibatches=cfg.ppo_minibatches,
            generator=gen,
            init_generator=init,
        )
    elif method == "mcmc":
        chains = BlockMCMC(env, cfg.batch, gen)
        return env, lambda: (chains.step(), {"acceptance": chains.accepted / max(chains.proposed, 1)}), None
    else:

        def uniform():
            return sample_trajectories(env, None, cfg.batch, gen).terminal[:, 0].tolist(), {}

        return env, uniform, None

    def step():
        metrics, trajs = learner.train_step(cfg.batch)
        return trajs.terminal[:, 0].tolist(), metrics

    return env, step, learner


def _probe_watch(cfg: Config, learner, run_seed: int, seed: int, arm: str):
    """The health monitor of `learner` (None: nothing measured) on the encoded terminal states of uniform
    random trajectories, sampled in an environment of their own (the run's registry of states is untouched)
    from the `probe/states/<seed>` stream: the same states for every method of a seed."""
    if learner is None or not parse_probes(cfg.probes):
        return _gfn_units.Watch({}, None, None, None, arm)
    from replab.gfn.molecules.env import MolEnv
    from replab.gfn.sampler import sample_trajectories

    env = MolEnv(max_blocks=cfg.max_blocks, fp_bits=cfg.fp_bits)
    g = seeding.generator(run_seed, f"probe/states/{seed}")
    states = sample_trajectories(env, None, cfg.probe_batch, g).terminal
    return _gfn_units.Watch(health_fields(cfg), learner, env, states, arm)


def _unit(job: dict) -> dict:
    """One (method, seed) unit, run inline or in a worker process; returns its summary and metric points."""
    from replab.gfn.molecules.metrics import (
        mean_pairwise_tanimoto,
        mode_discoveries,
        top_k_mean,
        top_k_smiles,
    )

    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    cfg, method = job["cfg"], job["method"]
    env, step, learner = _make(method, cfg, job["run_seed"], job["seed"])
    watch = _probe_watch(cfg, learner, job["run_seed"], job["seed"], f"{method}/s{job['seed']}")
    samples: list[tuple[str, float]] = []
    points = []
    t0, c0, updates = time.perf_counter(), time.process_time(), 0
    while len(samples) < cfg.molecules:
        ids, metrics = step()
        updates += 1
        watch.step(updates)
        samples += [(env.info(i)["smiles"], round(env.reward(i), 4)) for i in ids][
            : cfg.molecules - len(samples)
        ]
        if metrics:
            points.append((len(samples), metrics))
    return {
        "wall_s": time.perf_counter() - t0 - watch.wall,
        "cpu_s": time.process_time() - c0 - watch.cpu,
        "rewards": [r for _, r in samples],
        "n_unique": len({s for s, _ in samples}),
        "top10": top_k_mean(samples, 10),
        "top100": top_k_mean(samples, 100),
        "top10_smiles": top_k_smiles(samples, 10),
        "similarity_top100": mean_pairwise_tanimoto(top_k_smiles(samples, 100)),
        "modes": {f"{t:g}": mode_discoveries(samples, t) for t in cfg.mode_thresholds},
        "points": points,
        "probes": watch.rows,
    }


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"units": {}}
    units = [(m, s) for s in range(cfg.seeds) for m in cfg.methods]
    jobs = [
        {"key": f"{m}|{s}", "method": m, "seed": s, "run_seed": run.seed, "cfg": cfg}
        for m, s in units
        if f"{m}|{s}" not in state["units"]
    ]
    total = len(units) * cfg.molecules
    with run.progress(total, "gfn-molecules", completed=(len(units) - len(jobs)) * cfg.molecules) as bar:

        def on_done(job, unit):
            method, seed = job["method"], job["seed"]
            _gfn_units.ProbeLog.replay(run, unit.pop("probes", ()))
            for n, metrics in unit.pop("points"):
                run.log(
                    {
                        (f"loss/{method}/{k}" if "loss" in k else f"train/{method}/{k}"): v
                        for k, v in metrics.items()
                    },
                    step=n,
                )
            evals = {f"eval/{method}/top100": unit["top100"], f"eval/{method}/n_unique": unit["n_unique"]}
            run.log({k: v for k, v in evals.items() if np.isfinite(v)}, step=seed)
            state["units"][job["key"]] = unit
            run.save_checkpoint(state)  # resume skips finished (method, seed) units
            bar.advance(cfg.molecules)

        _gfn_units.run_units(_unit, jobs, cfg.workers, on_done)
    return {"config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}, "units": state["units"]}


EXPERIMENT = Experiment(
    name="gfn-molecules",
    headline="GFlowNet finds more distinct high-reward modes",
    claim=(
        "On fragment-based molecule generation the GFlowNet finds more distinct high-reward modes than MCMC "
        "and PPO at equal samples, with higher top-k reward (top-100 at 10^5: 8.21 vs MARS 7.71, PPO 7.87) "
        "and more diverse top molecules (Tanimoto 0.44 vs PPO 0.62)."
    ),
    source="Bengio thesis 2022 §5.3.2, Table 5.1, Figs. 5.8–5.10 (GFlowNet, NeurIPS 2021)",
    check=(
        "Shared rule (track/claims.py), paired by seed at equal molecules, reward 10·QED. Headline (vs PPO and "
        "vs MCMC): ln(1 + modes above the highest threshold) of the GFlowNet − the baseline's > ln 1.5, after "
        "the GFlowNet beats the random policy (floor). Also: top-100 mean reward − the baseline's > 0.17 "
        "(floor: random); mean pairwise Tanimoto of the top 100 − PPO's < −0.09"
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
    extras={"rdkit": "chem"},
)
