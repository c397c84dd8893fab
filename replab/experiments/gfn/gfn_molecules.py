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
from replab.experiments.gfn import _units as _gfn_units
from replab.track.report import Check, Figure, Report, markdown_table

METHODS = ("gfn", "ppo", "mcmc", "random")
LABELS = {
    "gfn": "GFlowNet (flow matching)",
    "ppo": "PPO",
    "mcmc": "MCMC (block trees)",
    "random": "uniform random",
}


@dataclass
class Config:
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

    def __post_init__(self):
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


SMOKE = Config(molecules=24, seeds=1, max_blocks=2, hidden=32, fp_bits=128, workers=1)
DEFAULT = Config()
PAPER = Config(molecules=100_000, seeds=3, max_blocks=8)


def _make(method: str, cfg: Config, run_seed: int, seed: int):
    """(env, step() -> list of stopped-state ids visited)."""
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
        return env, lambda: (chains.step(), {"acceptance": chains.accepted / max(chains.proposed, 1)})
    else:
        return env, lambda: (sample_trajectories(env, None, cfg.batch, gen).terminal[:, 0].tolist(), {})

    def step():
        metrics, trajs = learner.train_step(cfg.batch)
        return trajs.terminal[:, 0].tolist(), metrics

    return env, step


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
    env, step = _make(method, cfg, job["run_seed"], job["seed"])
    samples: list[tuple[str, float]] = []
    points = []
    t0, c0 = time.perf_counter(), time.process_time()
    while len(samples) < cfg.molecules:
        ids, metrics = step()
        samples += [(env.info(i)["smiles"], round(env.reward(i), 4)) for i in ids][
            : cfg.molecules - len(samples)
        ]
        if metrics:
            points.append((len(samples), metrics))
    return {
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "rewards": [r for _, r in samples],
        "n_unique": len({s for s, _ in samples}),
        "top10": top_k_mean(samples, 10),
        "top100": top_k_mean(samples, 100),
        "top10_smiles": top_k_smiles(samples, 10),
        "similarity_top100": mean_pairwise_tanimoto(top_k_smiles(samples, 100)),
        "modes": {f"{t:g}": mode_discoveries(samples, t) for t in cfg.mode_thresholds},
        "points": points,
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


def _gt(a: float, b: float) -> bool | None:
    """a > b, or None (not measurable) when either is nan, e.g. a top-100 of fewer than 100 uniques."""
    return None if np.isnan(a) or np.isnan(b) else bool(a > b)


def _mean(xs) -> float:
    xs = [x for x in xs if x is not None and np.isfinite(x)]
    return float(np.mean(xs)) if xs else float("nan")


def report(results: dict) -> Report:
    cfg, units = results["config"], results["units"]
    methods, seeds, thresholds = (
        cfg["methods"],
        range(cfg["seeds"]),
        [f"{t:g}" for t in cfg["mode_thresholds"]],
    )
    get = {m: [units[f"{m}|{s}"] for s in seeds if f"{m}|{s}" in units] for m in methods}
    agg = {
        m: {
            "top10": _mean([u["top10"] for u in get[m]]),
            "top100": _mean([u["top100"] for u in get[m]]),
            "sim": _mean([u["similarity_top100"] for u in get[m]]),
            "unique": _mean([u["n_unique"] for u in get[m]]),
            **{f"modes>{t}": _mean([len(u["modes"][t]) for u in get[m]]) for t in thresholds},
        }
        for m in methods
    }
    rows = [
        [
            LABELS[m],
            agg[m]["top10"],
            agg[m]["top100"],
            agg[m]["sim"],
            agg[m]["unique"],
            *[agg[m][f"modes>{t}"] for t in thresholds],
            _mean([u["wall_s"] for u in get[m]]),
            _mean([u.get("cpu_s") for u in get[m]]),
        ]
        for m in methods
    ]
    checks = []
    hi = thresholds[-1]
    if "gfn" in methods:
        for base in [b for b in ("ppo", "mcmc") if b in methods]:
            checks.append(
                Check(
                    f"GFlowNet finds more modes (10·QED > {hi}, Tanimoto < 0.7) than {LABELS[base]}",
                    agg["gfn"][f"modes>{hi}"] > agg[base][f"modes>{hi}"],
                    f"{agg['gfn'][f'modes>{hi}']:.1f} vs {agg[base][f'modes>{hi}']:.1f}",
                )
            )
            checks.append(
                Check(
                    f"GFlowNet's top-100 mean reward exceeds {LABELS[base]}'s (Table 5.1 shape)",
                    _gt(agg["gfn"]["top100"], agg[base]["top100"]),
                    f"{agg['gfn']['top100']:.3f} vs {agg[base]['top100']:.3f}",
                )
            )
        if "ppo" in methods:
            checks.append(
                Check(
                    "GFlowNet's top 100 are more diverse (lower mean Tanimoto) than PPO's",
                    agg["gfn"]["sim"] < agg["ppo"]["sim"],
                    f"{agg['gfn']['sim']:.3f} vs {agg['ppo']['sim']:.3f}",
                )
            )
    table = markdown_table(
        [
            "method",
            "top-10 reward",
            "top-100 reward",
            "top-100 mean Tanimoto",
            "unique molecules",
            *[f"modes (R > {t})" for t in thresholds],
            "wall s",
            "CPU s",
        ],
        rows,
    )
    rand = [r for u in get.get("random", []) for r in u["rewards"]]
    p90 = f"{np.percentile(rand, 90):.2f}" if rand else "n/a"
    body = (
        f"{cfg['molecules']} molecules per method and seed, {cfg['seeds']} seeds, at most {cfg['max_blocks']} "
        f"blocks. Reward: R = max(0.01, 10·QED) (RDKit), not the thesis's docking proxy (an MPNN fit to AutoDock "
        f"Vina scores against sEH, range ≈ 0–10): QED rewards drug-likeness, is smooth in simple descriptors and "
        f"saturates near 9.5, so the top-k gap between methods is expected to be smaller than Table 5.1's. "
        f"90th percentile of random molecules' reward: {p90}. Thesis Table 5.1 (docking proxy, 10^5 molecules): "
        f"top-100 GFlowNet 8.21, MARS 7.71, PPO 7.87; top-1000 Tanimoto GFlowNet 0.44, PPO 0.62, MARS 0.59.\n\n"
        + table
    )
    sections = [("Results at equal visited molecules", body)]
    best = get.get("gfn") and get["gfn"][0]["top10_smiles"]
    if best:
        sections.append(("Best GFlowNet molecules (seed 0)", "\n".join(f"- `{s}`" for s in best)))
    summary = {f"{k}/{m}": v for m in methods for k, v in agg[m].items()}
    return Report(
        title="GFlowNet vs PPO vs MCMC on fragment-based molecules (QED proxy)",
        claim=EXPERIMENT.claim,
        source=EXPERIMENT.source,
        checks=checks,
        sections=sections,
        figures=_figures(get, cfg, hi),
        summary=summary,
    )


def _figures(get: dict, cfg: dict, hi: str) -> list[Figure]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for m, units in get.items():
        if not units:
            continue
        x = np.arange(1, cfg["molecules"] + 1)
        curves = [np.searchsorted(np.asarray(u["modes"][hi]), x, side="right") for u in units]
        axes[0].plot(x, np.mean(curves, axis=0), label=LABELS[m])
        axes[1].hist(
            np.concatenate([u["rewards"] for u in units]),
            bins=40,
            range=(0, 10),
            histtype="step",
            density=True,
            label=LABELS[m],
        )
    axes[0].set_xscale("log")
    axes[0].set_xlabel("molecules visited")
    axes[0].set_ylabel(f"modes (R > {hi}, Tanimoto < 0.7)")
    axes[1].set_xlabel("reward R = 10·QED")
    axes[1].set_ylabel("density of visited molecules")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return [
        Figure(
            "modes_and_rewards",
            fig,
            "Left: greedy modes found vs molecules visited (thesis Fig. 5.10). "
            "Right: reward distribution of visited molecules (thesis Fig. 5.8).",
        )
    ]


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
        "mean over seeds at equal molecules, reward 10·QED: modes above the highest threshold and top-100 mean "
        "reward of the GFlowNet exceed PPO's and MCMC's; mean pairwise Tanimoto of its top 100 is below PPO's"
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
    extras={"rdkit": "chem"},
)
