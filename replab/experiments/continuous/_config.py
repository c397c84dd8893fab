"""The settings curl-pointmass and rad-augmentations share: SAC on PointMass-Pixels at the Track A geometry
(seed001 §2.7: render 38 → crop 32, 2 convs of 32, hidden 256), and the job dict each (method, seed) runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from replab import seeding
from replab.experiments._health import health_fields
from replab.probe.health import HealthConfig


@dataclass
class PointMassConfig(HealthConfig):
    probe_every: int = 1000
    """Env steps between two health measurements of the agent's encoder (each experiment restates it)."""
    eval_episodes: int = 10
    """Evaluation episodes per evaluation (Table 3.3: 10)."""
    action_repeat: int = 4
    """Env steps per agent step (Track A: 4)."""
    frame_stack: int = 3
    """Stacked frames (Table 3.3: 3)."""
    episode_steps: int = 1000
    """Env steps per episode (a time limit: 1000, as DMC)."""
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
    min_effect: float = 50.0
    """Registered minimum effect of every comparison between two agents here (track/claims.py), in return
    points of the final evaluation (an episode's return lies in [0, 1000]): "A beats B" needs the paired
    mean difference A − B beyond 50. 5% of the return scale, and under a third of the smallest gap the
    source prints for these comparisons at DMControl100k (CURL − pixel SAC on cheetah-run, 299 − 130 = 169;
    RAD Table 4.1 and CURL Table 3.1), scaled down for PointMass's Track A budget of a fifth of 100k (kept as
    registered when curl-pointmass's DEFAULT moved to 100k env steps, 2026-12-06).
    Registered 2026-12-05 before any run of this rule."""

    def __post_init__(self):
        for name in ("env_steps", "eval_episodes", "action_repeat", "frame_stack", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.env_steps // self.action_repeat <= self.init_steps:
            raise ValueError(f"env_steps / action_repeat must exceed init_steps ({self.init_steps})")
        if not 8 <= self.crop <= self.size:
            raise ValueError(f"crop must be in [8, size={self.size}], got {self.crop}")
        super().__post_init__()


JOB_FIELDS = (
    "eval_episodes", "action_repeat", "frame_stack", "size", "crop", "init_steps", "batch_size",
    "replay_capacity", "gamma", "sac",
)  # fmt: skip


def pointmass_job(cfg, run_seed: int, seed: int, env_kwargs: dict, **job) -> dict:
    """One job of `train_job` on PointMass: `cfg.env_steps` env steps (evaluations every
    `cfg.eval_every_env_steps` when the config has it), the env and init seeds of seed index `seed`
    (shared by every method of that seed: a paired design), and the caller's fields (key, method, ...)."""
    every = getattr(cfg, "eval_every_env_steps", 0)
    return dict(
        seed_index=seed,
        env="pointmass",
        env_kwargs=env_kwargs,
        env_seed=seeding.derive_seed(run_seed, f"env/{seed}") % 2**31,
        init_seed=seeding.derive_seed(run_seed, f"init/{seed}") % 2**31,
        agent_steps=cfg.env_steps // cfg.action_repeat,
        health=health_fields(cfg),
        eval_every=every // cfg.action_repeat,
        **{k: getattr(cfg, k) for k in JOB_FIELDS},
        **job,
    )
