"""curl-pointmass: State SAC, Pixel SAC, CURL and RAD (crop, translate) at equal env steps on
PointMass-Pixels (seed001 §2.7 Track A, the DMControl analog of CURL Table 3.1 / RAD Table 4.1).

Every (method, seed) job trains for the same number of env steps (action repeat 4: env steps = 4 × agent
steps) with one update per agent step after `init_steps` random ones, and is scored by `eval_episodes`
deterministic-policy episodes (mean action, centre crop) every `eval_every` agent steps and at the end.
All methods of one seed share the environment seed and the initial weights' seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from replab import seeding
from replab.experiments import Experiment
from replab.experiments._jobs import log_curve, run_pending
from replab.experiments.continuous._curl_pointmass_report import report
from replab.experiments.continuous._parts import METHODS, train_job


@dataclass
class Config:
    methods: tuple[str, ...] = ("state", "pixel", "curl", "rad_crop", "rad_translate")
    """Subset of state, pixel, curl, rad_crop, rad_translate."""
    seeds: int = 2
    """Seeds per method (Track A: 2)."""
    env_steps: int = 20_000
    """Env steps per job (Track A: 20k = 5k agent steps at action repeat 4)."""
    eval_every_env_steps: int = 10_000
    """Env steps between evaluations (Track A reports PMP10k and PMP20k); 0: only at the end."""
    eval_episodes: int = 10
    """Evaluation episodes per evaluation (Table 3.3: 10)."""
    action_repeat: int = 4
    """Env steps per agent step (Track A: 4)."""
    frame_stack: int = 3
    """Stacked frames (Table 3.3: 3)."""
    episode_steps: int = 1000
    """Env steps per episode (a time limit: 1000, as DMC)."""
    distractors: bool = False
    """A random background texture per episode (the harder variant of §2.7)."""
    size: int = 38
    """Render size for crop methods (Track A: 38 → crop 32; the 100 → 84 ratio)."""
    crop: int = 32
    """Network input size; Pixel SAC and RAD-translate render at this size."""
    init_steps: int = 250
    """Random agent steps before updates start (Track A: 250)."""
    batch_size: int = 64
    """Batch size (Track A: 64; Table 3.3: 512)."""
    replay_capacity: int = 20_000
    """Replay slots (Track A: 20k)."""
    gamma: float = 0.99
    """Discount (Table 3.3: 0.99)."""
    sac: dict = field(
        default_factory=lambda: dict(hidden=256, num_layers=2, num_filters=32, feature_dim=50, lr=1e-3)
    )
    """SAC overrides (Track A: 2 convs of 32, hidden 256, lr 1e-3; the rest of Table 3.3 unchanged)."""
    workers: int = 2
    """Worker processes (1 thread each); 1 runs the jobs in this process."""

    def __post_init__(self):
        if not self.methods or any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods must be a non-empty subset of {tuple(METHODS)}, got {self.methods}")
        for name in ("seeds", "env_steps", "eval_episodes", "action_repeat", "frame_stack", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.env_steps // self.action_repeat <= self.init_steps:
            raise ValueError(f"env_steps / action_repeat must exceed init_steps ({self.init_steps})")
        if not 8 <= self.crop <= self.size:
            raise ValueError(f"crop must be in [8, size={self.size}], got {self.crop}")


def make_jobs(cfg: Config, run_seed: int) -> list[dict]:
    jobs = []
    for seed in range(cfg.seeds):
        for method in cfg.methods:
            jobs.append(
                dict(
                    key=f"{method}/s{seed}",
                    method=method,
                    seed_index=seed,
                    env="pointmass",
                    env_kwargs=dict(
                        action_repeat=cfg.action_repeat,
                        frame_stack=cfg.frame_stack,
                        episode_steps=cfg.episode_steps,
                        distractors=cfg.distractors,
                    ),
                    env_seed=seeding.derive_seed(run_seed, f"env/{seed}") % 2**31,
                    init_seed=seeding.derive_seed(run_seed, f"init/{seed}") % 2**31,
                    agent_steps=cfg.env_steps // cfg.action_repeat,
                    eval_every=cfg.eval_every_env_steps // cfg.action_repeat,
                    **{
                        k: getattr(cfg, k)
                        for k in (
                            "eval_episodes",
                            "action_repeat",
                            "frame_stack",
                            "size",
                            "crop",
                            "init_steps",
                            "batch_size",
                            "replay_capacity",
                            "gamma",
                            "sac",
                        )
                    },
                )
            )
    return jobs


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    jobs = [dict(j, device=run.device) for j in make_jobs(cfg, run.seed)]

    def on_result(job, result):
        log_curve(run, f"{job['method']}_s{job['seed_index']}", result, "env_steps")

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
)
DEFAULT = Config()
PAPER = Config(seeds=5, env_steps=100_000, eval_every_env_steps=10_000, replay_capacity=100_000)

EXPERIMENT = Experiment(
    name="curl-pointmass",
    headline="state SAC >= RAD ~ CURL > pixel SAC on PointMass",
    claim=(
        "At equal env steps, State SAC ≥ RAD ≳ CURL > Pixel SAC (CURL Table 3.1: at DMControl100k CURL beats "
        "pixel SAC on all 6 tasks, e.g. cartpole 582 vs 419; RAD Table 4.1: RAD ≥ CURL on most tasks)."
    ),
    source="Srinivas thesis 2021, Tables 3.1 and 4.1; seed001 §2.7 Track A and §3.7 R2 (PointMass analog)",
    check=(
        "IQM over seeds of the final evaluation return (deterministic policy): CURL > Pixel SAC and RAD (the "
        "better of crop and translate) > Pixel SAC, each with the bootstrap CIs reported; the full ordering "
        "State ≥ RAD ≥ CURL is reported as a further check"
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
