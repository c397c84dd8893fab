"""What lru-ladder and lru-length share: the LRU's size, optimiser and ring settings (with their checks),
and one training unit (a model on a task, logged under its key, with the progress bar advanced)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from replab.experiments.lru._tasks import Readout, _to, train
from replab.nn.lru_model import count_parameters
from replab.probe.health import HealthConfig, health_monitor


@dataclass
class LRUConfig(HealthConfig):
    probe_every: int = 25
    """Training steps between two measurements of the health monitor (the representation the decoder reads,
    on the first `probe_batch` test sequences)."""
    probe_batch: int = 64
    """Test sequences the health monitor reads (64: at 256, a forward pass over long sequences cost up to a
    third of the training time; the representation has d_model dimensions)."""
    d_model: int = 32
    """H, the model width (paper: 128–512)."""
    d_state: int = 32
    """N, complex state dimensions of the LRU (real state size of the dense RNNs) (paper: 64–384)."""
    n_layers: int = 2
    """Blocks in the stack (paper: 6)."""
    lr: float = 3e-3
    """Base learning rate (AdamW); the ν, θ, γ, B group uses lr × ssm_lr_factor."""
    ssm_lr_factor: float = 0.5
    """Learning-rate factor of the recurrence parameters ν, θ, γ_log, B (paper's code: 0.5)."""
    weight_decay: float = 0.05
    """AdamW weight decay of the other parameters (minimal-LRU default 0.05; none on ν, θ, γ, B)."""
    warmup_frac: float = 0.1
    """Fraction of the steps spent in linear warm-up before the cosine decay."""
    r_min: float = 0.9
    """Ring inner radius (paper's LRA runs: 0.9 for most tasks)."""
    r_max: float = 0.999
    """Ring outer radius (paper: 0.999; 0.9999 for PathX)."""
    max_phase: float = 2 * math.pi
    """Largest initial phase (paper: 2π; π/10 for PathX)."""
    n_test: int = 512
    """Test sequences."""

    def __post_init__(self):
        super().__post_init__()
        for name in ("seeds", "d_model", "d_state", "n_layers", "n_test"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.r_min < self.r_max <= 1:
            raise ValueError(f"need 0 <= r_min < r_max <= 1, got r_min={self.r_min}, r_max={self.r_max}")
        if not 0 < self.max_phase <= 2 * math.pi:
            raise ValueError(f"max_phase must be in (0, 2π], got {self.max_phase}")
        if not self.lr > 0 or not 0 < self.ssm_lr_factor <= 10 or self.weight_decay < 0:
            raise ValueError(
                f"need lr > 0, ssm_lr_factor in (0, 10], weight_decay >= 0; got {self.lr}, "
                f"{self.ssm_lr_factor}, {self.weight_decay}"
            )
        if not 0 <= self.warmup_frac < 1:
            raise ValueError(f"warmup_frac must be in [0, 1), got {self.warmup_frac}")


def train_unit(
    cfg: LRUConfig,
    run,
    model,
    task,
    key: str,
    *,
    steps: int,
    batch: int,
    rng,
    bar,
    shown: dict,
    arm: str = "",
    **kw,
):
    """Train `model` on `task` with the config's optimiser settings, its metrics logged under `key`
    (`train/<key>/...`), the bar advanced per step (showing `shown` and the loss, and the steps a diverged
    or time-capped run skipped), then `eval/<key>/accuracy` and `perf/<key>/seconds_per_step` logged.
    The health monitor watches the decoder's input on the first test sequences under `arm` (default
    `key`). Returns `train`'s result with the parameter count and the task's length added."""

    def log(metrics, step):
        run.log({k.replace("/", f"/{key}/", 1): v for k, v in metrics.items()}, step)

    x, _, lengths = _to(model, *task.test[0])
    n = cfg.probe_batch
    watched = Readout(model, None if lengths is None else lengths[:n])
    monitor = health_monitor(cfg, watched, x[:n], run.log, arm=arm or key)

    result = train(
        model,
        task,
        steps=steps,
        batch=batch,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        ssm_lr_factor=cfg.ssm_lr_factor,
        warmup_frac=cfg.warmup_frac,
        rng=rng,
        log=log,
        on_step=lambda loss: bar.advance(1, **shown, loss=loss),
        monitor=monitor,
        **kw,
    )
    bar.advance(steps - result["steps"])  # a diverged or capped run stops early
    metrics = {
        f"eval/{key}/accuracy": result["accuracy"],
        f"perf/{key}/seconds_per_step": result["seconds_per_step"],
    }
    run.log(metrics, steps)
    result.update(parameters=count_parameters(model), length=task.length)
    return result
