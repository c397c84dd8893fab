"""The settings curl-minatar and atari100k share: data-efficient Rainbow (CURL Table 3.4) and its CURL loss.

Each experiment's `Config` subclasses `AgentConfig`, adds its environment's fields and restates the
defaults that differ (MinAtar: 128 hidden units, 2 stacked frames, a 1-pixel shift)."""

from __future__ import annotations

from dataclasses import dataclass

from replab.augment.compose import from_spec
from replab.probe.health import HealthConfig

METHODS = ("rainbow", "curl")


@dataclass
class AgentConfig(HealthConfig):
    methods: tuple[str, ...] = METHODS
    """rainbow (the base agent) and curl (the same agent + the CURL loss)."""
    seeds: int = 1
    """Seeds per (game, method)."""
    agent_steps: int = 10_000
    """Agent steps per job."""
    learn_start: int = 1600
    """Agent steps (replay size) before the first update (Table 3.4: 1600)."""
    eval_every: int = 0
    """Agent steps between evaluations for the learning curves (0: only at the end)."""
    eval_episodes: int = 10
    """Evaluation episodes (Table 3.3/3.4: 10)."""
    eval_epsilon: float = 0.0
    """ε of the evaluation policy (noisy nets in eval mode; the reference code uses 0.001)."""
    frame_stack: int = 4
    n_step: int = 20
    """Multi-step return (Table 3.4: 20)."""
    gamma: float = 0.99
    batch_size: int = 32
    replay_capacity: int = 100_000
    prioritized: bool = True
    priority_beta: float = 0.4
    """Initial importance-weight exponent, annealed to 1 (Table 3.4: 0.4 → 1)."""
    lr: float = 1e-4
    adam_eps: float = 1.5e-5
    """Adam ε (thesis 0.000015; reference code 1.5e-4)."""
    target_update: int = 2000
    hidden: int = 256
    """Hidden units of the Q head."""
    noisy_sigma0: float = 0.1
    reward_clip: float = 1.0
    curl_coef: float = 1.0
    """Weight of the CURL loss (Table 3.4 text: 1)."""
    curl_momentum: float = 0.999
    """Key-encoder EMA m (Table 3.4: τ = 0.001)."""
    curl_augment: str = "shift:pad=4"
    """The CURL augmentation as a spec (`replab.augment.from_spec`): DrQ's random shift by up to 4 pixels
    (replicate pad 4, crop back to 84) [R]."""
    curl_dim: int = 128
    """Contrastive vector size and W's side (reference code: 128)."""
    curl_hidden: int = 256
    curl_temperature: float = 10.0
    """Logits are divided by it: the reference code's ×0.1 scaling; the thesis has none (1.0)."""
    workers: int = 2
    """Worker processes (1 thread each); 1 runs the jobs in this process."""
    probe_every: int = 1000
    """Agent steps between two health measurements of each agent's encoder (`probe_batch` random-policy
    observations from an environment instance of its own)."""

    def __post_init__(self):
        if not self.methods or any(m not in METHODS for m in self.methods):
            raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {self.methods}")
        for name in (
            "seeds",
            "agent_steps",
            "eval_episodes",
            "frame_stack",
            "n_step",
            "batch_size",
            "workers",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.learn_start < self.agent_steps:
            raise ValueError(f"learn_start must be in [0, agent_steps), got {self.learn_start}")
        try:
            from_spec(self.curl_augment)
        except ValueError as exc:
            raise ValueError(f"curl_augment: {exc}") from None
        super().__post_init__()


SHARED_FIELDS = (
    "agent_steps", "learn_start", "eval_every", "eval_episodes", "eval_epsilon", "frame_stack", "n_step",
    "gamma", "batch_size", "replay_capacity", "prioritized", "reward_clip", "curl_momentum", "curl_augment",
    "curl_dim", "curl_hidden", "curl_temperature",
)  # fmt: skip
"""The fields every job copies from its experiment's config."""


def rainbow_settings(cfg: AgentConfig, encoder: str, **extra) -> dict:
    """`RainbowConfig` overrides of a job from the experiment's config."""
    return dict(
        encoder=encoder,
        hidden=cfg.hidden,
        lr=cfg.lr,
        adam_eps=cfg.adam_eps,
        target_update=cfg.target_update,
        noisy_sigma0=cfg.noisy_sigma0,
        **extra,
    )
