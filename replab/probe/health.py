"""Representation health in every experiment: the Config fields every experiment inherits, and the Monitor
they build from them (issue 20).

An experiment's Config subclasses `HealthConfig` (restating `probe_every` for its own step unit) and its
training loop calls `health_monitor(cfg, model, batch, log, arm=...)` then `monitor.step(t)`, e.g.

    monitor = health_monitor(cfg, net.encoder, probe_x, run.log, arm=method)
    for t in range(1, steps + 1):
        ...one update...
        monitor.step(t)

`--probes none` on the command line turns the probes off, `--probes srank,plasticity` chooses them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from replab.probe.monitor import SLOW_PROBES, Monitor, parse_probes


@dataclass
class HealthConfig:
    probes: str = "default"
    """representation-health probes: 'none', 'default' (srank, numerical_rank, dormant_fraction,
    feature_norm, weight_norm) or a comma list adding the slow ones: plasticity, hessian, interference
    (e.g. 'default,plasticity' or 'srank,plasticity')"""
    probe_every: int = 1000
    """training steps (the experiment's own unit: updates, agent steps, epochs) between two measurements"""
    plasticity_every: int = 0
    """steps between two plasticity probes (fit fresh random targets); 0: 10 × probe_every"""
    hessian_every: int = 0
    """steps between two Hessian top-eigenvalue probes; 0: 10 × probe_every"""
    interference_every: int = 0
    """steps between two gradient-interference probes; 0: 10 × probe_every"""
    probe_batch: int = 256
    """examples in the fixed probe batch, drawn from the run's own data"""
    plasticity_steps: int = 50
    """Adam steps the plasticity probe fits its random targets for (Lyle et al. 2023)"""
    dormant_tau: float = 0.1
    """a unit is dormant when its normalised activity is <= tau (ReDo, Sokar et al. 2023, eq. 1)"""
    warn_srank_fraction: float = 0.2
    """report a warning when a layer's srank falls below this fraction of its first measured value"""
    warn_dormant_fraction: float = 0.5
    """report a warning when a layer's dormant fraction rises above this value"""

    def __post_init__(self):
        parse_probes(self.probes)  # a ValueError naming an unknown probe and the menu
        for name in ("probe_every", "probe_batch", "plasticity_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("plasticity_every", "hessian_every", "interference_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0: 10 × probe_every), got {getattr(self, name)}")
        if self.dormant_tau < 0:
            raise ValueError(f"dormant_tau must be >= 0, got {self.dormant_tau}")
        for name in ("warn_srank_fraction", "warn_dormant_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1), got {getattr(self, name)}")


def health_monitor(
    cfg: HealthConfig,
    model: nn.Module | Callable[[], nn.Module],
    batch: torch.Tensor,
    log: Callable[[dict, int], None],
    *,
    arm: str = "",
    layers: Sequence[str] = (),
    loss: tuple[Callable, object] | None = None,
    seed: int = 0,
) -> Monitor:
    """The Monitor `cfg` asks for, of `model` (or a callable returning the current one) on `batch`
    (the first `cfg.probe_batch` examples are kept). With `cfg.probes == 'none'` it measures nothing.
    `layers`: the layers to read (empty: the model's output, as `features`); `loss`: see `Monitor`."""
    intervals = {p: getattr(cfg, f"{p}_every") for p in SLOW_PROBES if getattr(cfg, f"{p}_every")}
    return Monitor(
        model,
        batch[: cfg.probe_batch],
        layers,
        log,
        probes=cfg.probes,
        every=cfg.probe_every,
        arm=arm,
        intervals=intervals,
        dormant_tau=cfg.dormant_tau,
        loss=loss,
        plasticity_steps=cfg.plasticity_steps,
        seed=seed,
    )
