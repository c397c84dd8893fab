"""gfn-hypergrid: flow-matching GFlowNet vs MH-MCMC vs PPO vs random on the hyper-grid (thesis Fig. 5.2).

Every method visits the same number of terminal states (16 per round); the empirical L1 over the last
`window` visited states and the modes found are measured along the way, the exact L1 of the policies
by dynamic programming (seed004 §S4.3, §S4.7). A small n=2 GFlowNet gives the exact-distribution heat
map of thesis Fig. 5.3.
"""

from __future__ import annotations

from dataclasses import dataclass

from replab.experiments import Experiment
from replab.experiments._health import health_fields
from replab.experiments.gfn import _units as _gfn_units
from replab.experiments.gfn._hypergrid_report import MIN_EFFECT, report, uniform_sampler_l1, unit_key
from replab.gfn.compare import METHODS
from replab.gfn.hypergrid import HyperGrid
from replab.probe.health import HealthConfig


@dataclass
class Config(HealthConfig):
    probe_every: int = 100
    """Rounds (updates) between two measurements of the health monitor (the policy / flow MLP's last hidden
    layer on `probe_batch` grid cells spread over the grid; GFlowNet, PPO, SAC): 20 over DEFAULT's 2000."""
    n: int = 4
    """Grid dimensions n (thesis: 4)."""
    H: int = 8
    """Grid side H (thesis: 8)."""
    R0s: tuple[float, ...] = (0.1, 0.01, 0.001)
    """Values of R0, the reward far from the corners (thesis: 1e-1, 1e-2, 1e-3)."""
    methods: tuple[str, ...] = ("fm", "mcmc", "ppo", "sac", "random")
    """Methods compared (fm, db, tb, mcmc, ppo, sac, random)."""
    seeds: int = 3
    """Seeds per (method, R0): seed i draws from the run's streams `sampler/{method}/{R0}/{i}` and
    `init/{R0}/{i}` (thesis: 10 runs). Claims pair the methods by seed and R0; `replab sweep --seeds 5`
    adds runs whose units the ledger pools as (run seed : i)."""
    rounds: int = 2000
    """Rounds per unit: one update on `batch` fresh trajectories (or `batch` MCMC steps) each."""
    batch: int = 16
    """Trajectories (or MCMC chains) per round (thesis/[REF-CODE]: 16)."""
    hidden: int = 256
    """Hidden width of the 2-layer MLP (seed004 §S4.4)."""
    lr: float = 1e-3
    """Adam learning rate of the GFlowNet and PPO (seed004 §S4.7: 1e-3)."""
    eps: float = 0.0
    """ε of the flow-matching loss (eq. 5.16); 0 as in the [REF-CODE] grid loss."""
    ppo_entropy: float = 0.5
    """PPO entropy coefficient (thesis §5.3.1: 0.5)."""
    ppo_epochs: int = 4
    """PPO epochs over each round's transitions ([REF-CODE]: 32; reduced for CPU time)."""
    ppo_minibatches: int = 4
    """PPO minibatches per epoch ([REF-CODE]: 16)."""
    window: int = 100_000
    """Empirical L1 over the last `window` visited terminal states (seed004 §S4.7: 100k)."""
    log_every: int = 25
    """Rounds between curve points."""
    exact_every: int = 250
    """Rounds between exact-L1 evaluations (0: only at the end)."""
    heatmap_updates: int = 1500
    """Flow-matching updates of the n=2, H=8 model whose exact distribution is drawn (0: no heat map)."""
    workers: int = 2
    """Worker processes running the (method, R0, seed) units (1: inline); results do not depend on it."""
    min_effect: float = MIN_EFFECT
    """Registered minimum effect of every GFlowNet-vs-baseline claim, as a ratio of means: the GFlowNet's
    mean final empirical L1 (and mean visited states until all modes are found) must be at most
    1 − min_effect times the baseline's, its CI below that; MCMC's relative L1 at the smallest R0 at least
    1 + min_effect times that at the largest. The thesis gives Fig. 5.2's gap only as curves, so this is a
    stated threshold: a 20% reduction, about 0.1 decade on the figure's log axis, the smallest gap one
    would read as "lower" there. Registered 2026-12-05 before any run of this rule."""

    def __post_init__(self):
        super().__post_init__()
        if not 0 <= self.min_effect < 1:
            raise ValueError(f"min_effect must be in [0, 1) (a ratio reduction), got {self.min_effect}")
        if self.n < 1 or self.H < 2:
            raise ValueError(f"n must be >= 1 and H >= 2, got n={self.n}, H={self.H}")
        if not self.R0s or any(r <= 0 for r in self.R0s):
            raise ValueError(f"R0s must be a non-empty tuple of positive values, got {self.R0s}")
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {self.methods}")
        for name in (
            "seeds",
            "rounds",
            "batch",
            "hidden",
            "ppo_epochs",
            "ppo_minibatches",
            "window",
            "log_every",
            "workers",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.exact_every < 0 or self.heatmap_updates < 0:
            raise ValueError(
                f"exact_every and heatmap_updates must be >= 0, got {self.exact_every}, "
                f"{self.heatmap_updates}"
            )


SMOKE = Config(
    n=2,
    H=8,
    R0s=(0.1, 0.001),
    seeds=1,
    rounds=60,
    hidden=64,
    ppo_epochs=1,
    ppo_minibatches=2,
    log_every=10,
    exact_every=20,
    heatmap_updates=60,
    workers=1,
    probe_every=20,
)
DEFAULT = Config()
PAPER = Config(
    seeds=10,
    rounds=12_500,
    ppo_epochs=32,
    ppo_minibatches=16,
    window=200_000,
    exact_every=500,
)


def _metric_key(name: str, prefix: str) -> str:
    """eval/ for distribution metrics, loss/ for losses, train/ for the rest (entropy, acceptance, ...)."""
    namespace = "eval" if name in ("l1", "modes", "exact_l1") else "loss" if "loss" in name else "train"
    return f"{namespace}/{prefix}/{name}"


_JOB_FIELDS = (
    "n", "H", "batch", "hidden", "lr", "eps", "ppo_entropy", "ppo_epochs", "ppo_minibatches", "rounds",
    "window", "log_every", "exact_every",
)  # fmt: skip


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"units": {}, "heatmap": None}
    units = [(m, R0, s) for R0 in cfg.R0s for s in range(cfg.seeds) for m in cfg.methods]
    jobs = [
        {"key": unit_key(m, R0, s), "method": m, "R0": R0, "seed": s, "run_seed": run.seed}
        | {f: getattr(cfg, f) for f in _JOB_FIELDS}
        | {"health": health_fields(cfg)}
        for m, R0, s in units
        if unit_key(m, R0, s) not in state["units"]
    ]
    with run.progress(
        len(units) * cfg.rounds + cfg.heatmap_updates,
        "gfn-hypergrid",
        completed=(len(units) - len(jobs)) * cfg.rounds,
    ) as bar:

        def on_done(job, result):
            _gfn_units.ProbeLog.replay(run, result.pop("probes", ()))
            prefix = f"{job['method']}/R0={job['R0']:g}/seed{job['seed']}"
            for states, values in result["points"]:
                run.log({_metric_key(k, prefix): v for k, v in values.items()}, step=states)
            curve = result["curve"]
            state["units"][job["key"]] = curve
            run.save_checkpoint(state)  # resume skips finished (method, R0, seed) units
            bar.advance(cfg.rounds, **{f"{job['method']} l1": curve["l1"][-1]})

        _gfn_units.run_units(_gfn_units.hypergrid_unit, jobs, cfg.workers, on_done)
        if cfg.heatmap_updates and state["heatmap"] is None:
            state["heatmap"] = _heatmap(cfg, run)
            run.save_checkpoint(state)
        bar.advance(cfg.heatmap_updates)
    uniform_l1 = {f"{R0:g}": uniform_sampler_l1(HyperGrid(cfg.n, cfg.H, R0)) for R0 in cfg.R0s}
    return {
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "units": state["units"],
        "heatmap": state["heatmap"],
        "uniform_l1": uniform_l1,
        "n_modes": int(HyperGrid(cfg.n, cfg.H, cfg.R0s[0]).mode_mask().sum()),
    }


def _heatmap(cfg: Config, run) -> dict:
    """Train flow matching on n=2, H=8 (R0 = the first R0) and return the exact u_θ beside p (Fig. 5.3)."""
    from replab.gfn.exact import policy_table, sampling_distribution
    from replab.gfn.gflownet import GFlowNet
    from replab.gfn.metrics import l1_distance

    env = HyperGrid(2, 8, cfg.R0s[0])
    gfn = GFlowNet(
        env,
        "fm",
        hidden=cfg.hidden,
        lr=cfg.lr,
        eps=cfg.eps,
        generator=run.generator("heatmap"),
        init_generator=run.generator("heatmap-init"),
    )
    for _ in range(cfg.heatmap_updates):
        gfn.train_step(cfg.batch)
    u = sampling_distribution(env, policy_table(env, gfn.logits))
    p = env.true_distribution()
    return {
        "p": p.tolist(),
        "u": u.tolist(),
        "H": 8,
        "R0": cfg.R0s[0],
        "exact_l1": l1_distance(p, u, env.reachable()),
    }


EXPERIMENT = Experiment(
    name="gfn-hypergrid",
    headline="GFlowNet < MCMC, PPO, SAC in L1 to R/Z",
    claim=(
        "On the n=4, H=8 hyper-grid, the flow-matching GFlowNet reaches a lower L1 to R/Z than MH-MCMC, "
        "PPO and discrete SAC at equal visited states and finds all 16 modes, for every R0 in {0.1, 0.01, 0.001}, earlier "
        "than they do; MCMC degrades as R0 shrinks."
    ),
    source="Bengio thesis 2022 §5.3.1, Fig. 5.2 (GFlowNet, NeurIPS 2021)",
    check=(
        "Headline: GFlowNet vs MCMC final empirical L1, paired by seed and R0 (shared rule, track/claims.py): "
        "mean(fm) / mean(mcmc) < 1 − min_effect (0.8) with its 95% CI, n ≥ 5 seeds, after fm beats the "
        "uniform sampler's exact L1 (the floor). Also by the rule: the same vs PPO and SAC; visited states "
        "until all modes are found, fm vs every baseline (a miss counts budget + 1; floor: the random "
        "policy); MCMC's L1 / L1(uniform) at the smallest R0 ≥ 1 + min_effect times that at the largest. "
        "Counted: fm finds all modes (mode_mask().sum(), 16 at n=4, H=8) in every run"
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
