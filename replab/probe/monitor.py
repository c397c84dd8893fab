"""Monitor: attach representation probes to any training loop and log them every N steps."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from replab.probe.curvature import hessian_top_eigenvalue
from replab.probe.gradients import gradient_interference, gradient_norm, weight_norm
from replab.probe.layers import LayerProbe
from replab.probe.rank import numerical_rank, srank
from replab.probe.units import dormant_fraction, feature_norm

# Probes of one layer's activations on the monitor's fixed batch (the menu other issues extend).
ACTIVATION_PROBES: dict[str, Callable[[torch.Tensor], float]] = {
    "srank": srank,
    "numerical_rank": numerical_rank,
    "feature_norm": feature_norm,
    "dormant_fraction": dormant_fraction,
}

# Model-level probes fn(model, loss_fn, x, y) -> float on data the caller supplies (issue 6; Lyle et al.
# 2023's mechanisms), attached with `Monitor.add_model_probe`.
MODEL_PROBES: dict[str, Callable[..., float]] = {
    "hessian_top_eigenvalue": hessian_top_eigenvalue,
    "gradient_norm": gradient_norm,
    "gradient_interference": gradient_interference,
    "weight_norm": lambda model, loss_fn, x, y: weight_norm(model),
}


class Monitor:
    """Every `every` steps, compute the chosen probes and log them as `probe/<probe>/<layer>`.

    Activation probes run on the fixed batch `batch` at the named `layers`; model-level probes added with
    `add(name, fn)` are called as `fn(model) -> float` and logged as `probe/<name>`. The monitor's own
    cost is logged as `perf/probe_seconds` (this call) and `perf/probe_overhead` (probe time as a fraction
    of the wall time since the monitor was created). Nothing here changes the model.
    """

    def __init__(
        self,
        model: nn.Module,
        batch: torch.Tensor,
        layers: Sequence[str],
        log: Callable[[dict, int], None],
        probes: Sequence[str] = ("srank", "dormant_fraction", "feature_norm"),
        every: int = 1000,
    ):
        unknown = [p for p in probes if p not in ACTIVATION_PROBES]
        if unknown:
            raise ValueError(f"unknown probes {unknown}; choose from {sorted(ACTIVATION_PROBES)}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.model, self.batch, self.log, self.every = model, batch, log, every
        self.layer_probe = LayerProbe(model, layers)
        self.probes = list(probes)
        self.extra: dict[str, Callable[[nn.Module], float]] = {}
        self._start, self._spent = time.perf_counter(), 0.0

    def add(self, name: str, fn: Callable[[nn.Module], float]) -> Monitor:
        self.extra[name] = fn
        return self

    def add_model_probe(self, name: str, loss_fn: Callable, data, **kwargs) -> Monitor:
        """Add `MODEL_PROBES[name]` on `data`: a fixed `(x, y)` or a callable returning the current one
        (e.g. the current task's batch); `kwargs` go to the probe (`iters=`, `statistic=`, ...)."""
        if name not in MODEL_PROBES:
            raise ValueError(f"unknown model probe {name!r}; choose from {sorted(MODEL_PROBES)}")
        fn = MODEL_PROBES[name]

        def probe(model: nn.Module) -> float:
            x, y = data() if callable(data) else data
            return fn(model, loss_fn, x, y, **kwargs)

        return self.add(name, probe)

    def measure(self) -> dict[str, float]:
        """All probes now, as a flat metric dict."""
        out = {}
        for layer, acts in self.layer_probe.features(self.batch).items():
            for probe in self.probes:
                out[f"probe/{probe}/{layer}"] = float(ACTIVATION_PROBES[probe](acts))
        for name, fn in self.extra.items():
            out[f"probe/{name}"] = float(fn(self.model))
        return out

    def step(self, step: int) -> dict[str, float] | None:
        """Call once per training step; measures and logs when `step % every == 0`."""
        if step % self.every:
            return None
        t0 = time.perf_counter()
        metrics = self.measure()
        spent = time.perf_counter() - t0
        self._spent += spent
        elapsed = time.perf_counter() - self._start
        metrics["perf/probe_seconds"] = spent
        metrics["perf/probe_overhead"] = self._spent / max(elapsed, 1e-9)
        self.log(metrics, step)
        return metrics
