"""curl-pointmass: State SAC, Pixel SAC, CURL and RAD (crop, translate) at equal env steps on
PointMass-Pixels (seed001 §2.7 Track A, the DMControl analog of CURL Table 3.1 / RAD Table 4.1).

Every (method, seed) job trains for the same number of env steps (action repeat 4: env steps = 4 × agent
steps) with one update per agent step after `init_steps` random ones, and is scored by `eval_episodes`
deterministic-policy episodes (mean action, centre crop) every `eval_every` agent steps and at the end.
All methods of one seed share the environment seed and the initial weights' seed. The floor: a
uniform-random policy on the episodes of each seed's final evaluation (same starts and goals; no
training, ≈ 0.2 CPU-s per seed).
"""

from __future__ import annotations

from dataclasses import dataclass

from replab.experiments import Experiment
from replab.experiments._health import log_probes
from replab.experiments._jobs import log_curve, run_pending
from replab.experiments.continuous._config import PointMassConfig, pointmass_job
from replab.experiments.continuous._curl_pointmass_report import report
from replab.experiments.continuous._parts import METHODS, random_policy_job, train_job
from replab.rl.sac import CURL_ANCHORS


@dataclass
class Config(PointMassConfig):
    methods: tuple[str, ...] = ("state", "pixel", "curl", "rad_crop", "rad_translate")
    """Subset of state, pixel, curl, rad_crop, rad_translate."""
    seeds: int = 2
    """Seeds per method in one run (Track A: 2; DEFAULT: 1 per run, pooled by `replab sweep`)."""
    env_steps: int = 20_000
    """Env steps per job (Track A: 20k = 5k agent steps at action repeat 4; DEFAULT 100k). Track A's 20k is
    too small for the claims (issue 19): at 20k no pixel agent was above the random policy over 5 seeds.
    Sizing run (PAPER settings, pixel SAC only, 2 seeds, evaluations every 10k; docs/continuous.md): both
    seeds' evaluations beat their random policy only at 100k (142 vs 19, 129 vs 45); at 40k–90k one seed
    does and the other does not. DEFAULT therefore runs the source's DMControl100k budget."""
    eval_every_env_steps: int = 10_000
    """Env steps between evaluations (Track A reports PMP10k and PMP20k); 0: only at the end."""
    probe_every: int = 1000
    """Env steps between two health measurements of each agent's encoder (100 over the 100k DEFAULT)."""
    distractors: bool = False
    """A random background texture per episode (the harder variant of §2.7)."""
    curl_anchor: str = "critic"
    """CURL's query: "critic" encodes the critic's own crop of the observation (seed001 §2.2 2a/e, the
    reference code), "own" draws a separate crop for it (the thesis's pseudo-code; this code before
    commit 5006d79)."""

    def __post_init__(self):
        if not self.methods or any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods must be a non-empty subset of {tuple(METHODS)}, got {self.methods}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.curl_anchor not in CURL_ANCHORS:
            raise ValueError(f"curl_anchor must be one of {CURL_ANCHORS}, got {self.curl_anchor!r}")
        super().__post_init__()


def make_jobs(cfg: Config, run_seed: int) -> list[dict]:
    env_kwargs = dict(
        action_repeat=cfg.action_repeat,
        frame_stack=cfg.frame_stack,
        episode_steps=cfg.episode_steps,
        distractors=cfg.distractors,
    )
    return [
        pointmass_job(
            cfg,
            run_seed,
            seed,
            env_kwargs,
            key=f"{method}/s{seed}",
            method=method,
            curl_anchor=cfg.curl_anchor,
        )
        for seed in range(cfg.seeds)
        for method in cfg.methods
    ]


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    jobs = [dict(j, device=run.device) for j in make_jobs(cfg, run.seed)]
    random = state.setdefault("random", {})
    for (
        job
    ) in jobs:  # the floor, paired by seed: one per seed index (the episodes of every method's last eval)
        if (key := f"s{job['seed_index']}") not in random:
            random[key] = random_policy_job(job)
            run.log({"eval/random_policy": float(sum(random[key]) / len(random[key]))}, job["seed_index"])
            run.save_checkpoint(state)

    def on_result(job, result):
        log_curve(run, f"{job['method']}_s{job['seed_index']}", result, "env_steps")
        log_probes(run, result)

    run_pending(
        run,
        state,
        jobs,
        train_job,
        workers=cfg.workers,
        description="curl-pointmass jobs",
        on_result=on_result,
    )
    return {"config": cfg.__dict__ | {"methods": list(cfg.methods)}, **state}


SMOKE = Config(
    seeds=1,
    env_steps=500,
    eval_every_env_steps=0,
    eval_episodes=1,
    episode_steps=200,
    size=20,
    crop=16,
    init_steps=100,
    batch_size=16,
    replay_capacity=1000,
    sac=dict(hidden=32, num_layers=2, num_filters=8, feature_dim=16, lr=1e-3),
    workers=1,
    probe_every=100,
    probe_batch=64,
)
# Issue 19's sizing (env_steps docstring): the claims need 100k env steps, where pixel SAC first beat the
# random policy on both sizing seeds; one seed per run (measured 48.4 CPU-min, 26.5 min wall on 2 idle cores,
# seed 1), `replab sweep curl-pointmass --seeds 5` pools five runs. RAD (translate): `--methods ... rad_translate`.
DEFAULT = Config(
    methods=("state", "pixel", "curl", "rad_crop"),
    seeds=1,
    env_steps=100_000,
    replay_capacity=100_000,
)
PAPER = Config(seeds=5, env_steps=100_000, eval_every_env_steps=10_000, replay_capacity=100_000)

EXPERIMENT = Experiment(
    name="curl-pointmass",
    headline="CURL > pixel SAC, RAD crop > pixel SAC on PointMass",
    claim=(
        "At equal env steps, State SAC ≥ RAD ≳ CURL > Pixel SAC (CURL Table 3.1: at DMControl100k CURL beats "
        "pixel SAC on all 6 tasks, e.g. cartpole 582 vs 419; RAD Table 4.1: RAD ≥ CURL on most tasks)."
    ),
    source="Srinivas thesis 2021, Tables 3.1 and 4.1; seed001 §2.7 Track A and §3.7 R2 (PointMass analog)",
    check=(
        "final evaluation return paired by seed (track/claims.py, ≥ 5 seeds): CURL − Pixel SAC > min_effect "
        "and, separately, RAD (crop) − Pixel SAC > min_effect (RAD's crop vs no augmentation), each only "
        "once the method beats a uniform-random policy on the same episodes; further checks: RAD (translate) "
        "vs Pixel SAC, State SAC vs CURL, RAD (crop) vs CURL, Pixel SAC vs the random policy"
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
