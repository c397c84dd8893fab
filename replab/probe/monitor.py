"""Monitor: representation-health probes attached to any training loop, each at its own interval (issue 20).

Metric keys: `probe/<probe>/<arm>/<layer>` for a layer's activations, `probe/<probe>/<arm>` for a
model-level probe (`/<arm>` left out when the monitor has none); the monitor's cost as
`perf/probe_seconds[/<arm>]` and `perf/probe_overhead[/<arm>]`; interventions it is told of
(`mark`) as `train/intervention[/<arm>]`. `replab.track.health` draws the panel from these keys alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from replab.probe.curvature import hessian_top_eigenvalue
from replab.probe.gradients import gradient_interference, gradient_norm, weight_norm
from replab.probe.interference import (
    mean_function_interference,
    mean_loss_interference,
    mean_td_interference,
)
from replab.probe.layers import LayerProbe
from replab.probe.memorization import sensitivity_gini
from replab.probe.plasticity import ProbeTask, fresh_copy, probe_loss
from replab.probe.rank import numerical_rank, srank
from replab.probe.units import dormant_fraction, feature_norm

# Probes of one layer's activations on the monitor's fixed batch.
ACTIVATION_PROBES: dict[str, Callable[[torch.Tensor], float]] = {
    "srank": srank,
    "numerical_rank": numerical_rank,
    "feature_norm": feature_norm,
    "dormant_fraction": dormant_fraction,
}

# Model-level probes fn(model, loss_fn, *data) -> float on data the caller supplies, attached with
# `Monitor.add_model_probe`: Lyle et al. 2023's mechanisms, and the bootstrapping thesis's interference
# and memorisation measures (seed004 §S1–S2). `data` is (x, y), except (s, r, s_next, discount) for
# td_interference; function_interference uses x only.
MODEL_PROBES: dict[str, Callable[..., float]] = {
    "hessian_top_eigenvalue": hessian_top_eigenvalue,
    "gradient_norm": gradient_norm,
    "gradient_interference": gradient_interference,
    "weight_norm": lambda model, loss_fn, x, y: weight_norm(model),
    "loss_interference": mean_loss_interference,
    "function_interference": mean_function_interference,
    "td_interference": mean_td_interference,
    "sensitivity_gini": sensitivity_gini,
}

# The slow probes: each its own interval (`intervals`), by default 10 × `every`.
SLOW_PROBES = ("plasticity", "hessian", "interference")
PROBES = (*ACTIVATION_PROBES, "weight_norm", *SLOW_PROBES)
INTERFERENCE_EXAMPLES = 64
"""The interference probe's examples: the first 64 of its batch (one backward pass each)."""
DEFAULT_PROBES = ("srank", "numerical_rank", "dormant_fraction", "feature_norm", "weight_norm")


def parse_probes(spec: str | Sequence[str]) -> tuple[str, ...]:
    """`"none"` → (); `"default"` → DEFAULT_PROBES; else a comma list of PROBES (`"default,plasticity"`
    adds to the default set). An unknown name raises a ValueError naming it and the menu."""
    names = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if names == ["none"]:
        return ()
    out: list[str] = []
    for name in names:
        for p in DEFAULT_PROBES if name == "default" else (name,):
            if p not in PROBES:
                raise ValueError(
                    f"unknown probe {p!r} in probes={spec!r}; choose 'none', 'default' "
                    f"({','.join(DEFAULT_PROBES)}) or a comma list of {', '.join(PROBES)}"
                )
            if p not in out:
                out.append(p)
    return tuple(out)


class _Watched(nn.Module):
    """The monitored model under the layer name `features` (its output is probed when no layers are named)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.features = model

    def forward(self, x):
        return self.features(x)


class Monitor:
    """Every `every` steps, the chosen probes of `model` on the fixed batch `batch`, logged with `log`.

    `model` is a module or a zero-argument callable returning the current one (so a monitor keeps
    watching an agent's encoder after an intervention replaced it). `layers` names the layers whose
    activations the activation probes read; empty: the model's output, labelled `features`.
    `intervals` gives a probe its own interval (slow probes default to 10 × `every`). `loss` =
    `(loss_fn, (x, y))` or `(loss_fn, callable returning (x, y))` is the loss of the Hessian and
    interference probes; without one they use the plasticity probe's task (regression of fresh random
    targets on `batch`), as does `plasticity`: P = b(θ_t) − b(θ_0) after `plasticity_steps` Adam steps
    (Lyle et al. 2023, seed002 §5.2), θ_0 a fresh initialisation drawn from `seed`.

    Nothing here changes the model or the run: activation probes run without gradients, plasticity
    on copies, hessian and interference with the model's buffers restored and no `.grad` written
    (`probe/guard.preserved`), train/eval mode is restored, and torch's global RNG is restored after each measurement, so
    the same seed trains identically with and without a monitor. Probes run on one torch thread (the
    count is restored after).
    """

    def __init__(
        self,
        model: nn.Module | Callable[[], nn.Module],
        batch: torch.Tensor,
        layers: Sequence[str],
        log: Callable[[dict, int], None],
        probes: Sequence[str] | str = ("srank", "dormant_fraction", "feature_norm"),
        every: int = 1000,
        *,
        arm: str = "",
        intervals: Mapping[str, int] | None = None,
        dormant_tau: float = 0.0,
        loss: tuple[Callable, object] | None = None,
        plasticity_steps: int = 50,
        seed: int = 0,
    ):
        self.probes = list(parse_probes(probes))
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        bad = {k: v for k, v in (intervals or {}).items() if k not in PROBES or v < 1}
        if bad:
            raise ValueError(f"intervals {bad}: keys from {PROBES}, values >= 1")
        if dormant_tau < 0 or plasticity_steps < 1:
            raise ValueError(
                f"need dormant_tau >= 0, plasticity_steps >= 1; got {dormant_tau}, {plasticity_steps}"
            )
        self._model, self.batch, self.log, self.every = model, batch, log, every
        self.layers = list(layers) or ["features"]
        self._wrap = not layers
        self.suffix = f"/{arm}" if arm else ""
        self.intervals = {p: every * (10 if p in SLOW_PROBES else 1) for p in PROBES} | dict(intervals or {})
        self.dormant_tau, self.loss, self.plasticity_steps, self.seed = (
            dormant_tau,
            loss,
            plasticity_steps,
            seed,
        )
        self.extra: dict[str, Callable[[nn.Module], float]] = {}
        self._reference: float | None = None  # b(θ_0) of the plasticity probe, computed once
        self._task: ProbeTask | None = None
        # wall and CPU seconds spent measuring so far: a loop leaves them out of its own timings
        self._start, self.seconds, self.cpu_seconds = time.perf_counter(), 0.0, 0.0
        LayerProbe(self.model(), self.layers)  # unknown layer names fail here, not at the first measurement

    def model(self) -> nn.Module:
        m = self._model if isinstance(self._model, nn.Module) else self._model()
        return _Watched(m) if self._wrap else m

    def add(self, name: str, fn: Callable[[nn.Module], float]) -> Monitor:
        self.extra[name] = fn
        return self

    def add_model_probe(self, name: str, loss_fn: Callable, data, **kwargs) -> Monitor:
        """Add `MODEL_PROBES[name]` on `data`: a fixed tuple of the probe's arguments (`(x, y)`; `(s, r,
        s_next, discount)` for td_interference) or a callable returning the current one (e.g. the current
        task's batch, a fresh replay sample); `kwargs` go to the probe (`iters=`, `statistic=`, `lr=`, ...)."""
        if name not in MODEL_PROBES:
            raise ValueError(f"unknown model probe {name!r}; choose from {sorted(MODEL_PROBES)}")
        fn = MODEL_PROBES[name]

        def probe(model: nn.Module) -> float:
            return fn(model, loss_fn, *(data() if callable(data) else data), **kwargs)

        return self.add(name, probe)

    def due(self, step: int) -> list[str]:
        return [p for p in self.probes if step % self.intervals[p] == 0]

    def measure(self, probes: Sequence[str] | None = None) -> dict[str, float]:
        """The given probes (all chosen ones by default, plus those added with `add`) now, as metrics."""
        probes = self.probes if probes is None else list(probes)
        model, out, s = self.model(), {}, self.suffix
        threads = torch.get_num_threads()
        # One thread: a probe's small SVDs took 0.2–1.6 s on 2 contended threads and 0.3 ms on one on the
        # loaded 2-core machine (curl-reward-free: 11% of the run's time, 1% on one thread).
        torch.set_num_threads(1)
        try:
            return self._measure(probes, model, out, s)
        finally:
            torch.set_num_threads(threads)

    def _measure(self, probes, model, out, s) -> dict[str, float]:
        with torch.random.fork_rng(devices=[]):
            acts = [p for p in probes if p in ACTIVATION_PROBES]
            if acts:
                with torch.no_grad():  # activations only: no graph (a third of an LRU's probe time)
                    feats = LayerProbe(model, self.layers).features(self.batch)
                for layer, a in feats.items():
                    for p in acts:
                        v = (
                            dormant_fraction(a, self.dormant_tau)
                            if p == "dormant_fraction"
                            else ACTIVATION_PROBES[p](a)
                        )
                        out[f"probe/{p}{s}/{layer}"] = float(v)
            if "weight_norm" in probes:
                out[f"probe/weight_norm{s}"] = weight_norm(model)
            for p in (p for p in SLOW_PROBES if p in probes):
                out[f"probe/{p}{s}"] = self._slow(p, model)
            for name, fn in self.extra.items():
                out[f"probe/{name}{s}"] = float(fn(model))
        return out

    def step(self, step: int) -> dict[str, float] | None:
        """Call once per training step; measures the probes due at `step` and logs them."""
        due = self.due(step)
        if not due and not (self.extra and step % self.every == 0):
            return None
        t0, c0 = time.perf_counter(), time.process_time()
        metrics = self.measure(due)
        spent = time.perf_counter() - t0
        self.seconds += spent
        elapsed = time.perf_counter() - self._start
        metrics[f"perf/probe_seconds{self.suffix}"] = spent
        metrics[f"perf/probe_overhead{self.suffix}"] = self.seconds / max(elapsed, 1e-9)
        self.log(metrics, step)
        self.cpu_seconds += time.process_time() - c0
        return metrics

    def mark(self, step: int) -> None:
        """Record that an intervention changed the model at `step` (a marker on the health panel)."""
        self.log({f"train/intervention{self.suffix}": 1.0}, step)

    # -- the slow probes ----------------------------------------------------------------------------------
    def _random_task(self, model: nn.Module) -> ProbeTask:
        """Fresh random targets: a random network of the model's architecture on the probe batch,
        standardised per output (seed002 §5.2 (ii)/(iii), without the uncertain high-frequency transform)."""
        if self._task is None:
            with torch.no_grad():
                target_net = fresh_copy(model, self.seed + 1).eval()
                y = target_net(self.batch).reshape(self.batch.shape[0], -1)
                y = (y - y.mean(0)) / (y.std(0) + 1e-6)
            self._task = ProbeTask(self.batch, y, _flat_mse, seed=self.seed)
        return self._task

    def _slow(self, probe: str, model: nn.Module) -> float:
        if probe == "plasticity":
            task = self._random_task(model)
            adam = _adam
            if self._reference is None:
                self._reference = probe_loss(
                    fresh_copy(model, self.seed), [task], self.plasticity_steps, adam
                )[0]
            return probe_loss(model, [task], self.plasticity_steps, adam)[0] - self._reference
        if self.loss is not None:
            loss_fn, data = self.loss
            x, y = data() if callable(data) else data
        else:
            task = self._random_task(model)
            loss_fn, x, y = task.loss_fn, task.x, task.y
        # both restore the model's mode, buffers and the RNG (probe/guard.py) and never write .grad
        if probe == "hessian":
            g = torch.Generator().manual_seed(self.seed)
            return hessian_top_eigenvalue(model, loss_fn, x, y, train_mode=False, generator=g)
        n = INTERFERENCE_EXAMPLES  # per-example gradients, one backward each
        return gradient_interference(model, loss_fn, x[:n], y[:n])


def _flat_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (out.reshape(y.shape) - y).pow(2).mean()


def _adam(params):
    return torch.optim.Adam(params, lr=1e-3)


class ProbeLog:
    """A `log` for a monitor in a worker process: keeps `(step, metrics)` rows, JSON-able, for the parent
    to write into the run with `replay(run)` (`result["probes"] = probe_log.rows`)."""

    def __init__(self):
        self.rows: list[list] = []

    def __call__(self, metrics: dict, step: int) -> None:
        self.rows.append([int(step), {k: float(v) for k, v in metrics.items()}])

    @staticmethod
    def replay(run, rows) -> None:
        for step, metrics in rows or ():
            run.log(metrics, step)
