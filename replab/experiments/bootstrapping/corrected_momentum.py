"""Staleness-corrected momentum speeds TD policy evaluation on Mountain Car (seed004 §S3.4, §S3.6).

A 2 → 16 → 16 → 16 → 1 LeakyReLU MLP (609 parameters) learns V^π of the heuristic Mountain Car policy by
TD(0) without a target network. Optimizers (`replab.optim`): SGD, (1−β)-dampened momentum μ, the corrected
μ̂ (full ζ), μ̂_diag, the oracle μ* (h = 2/(1−β) minibatches recomputed) and Adam; the MSE to the exact V^π
(`replab.envs.mountain_car_eval.true_values`) on a fixed set of uniform states is measured along training,
with the value drift of recent bootstrap targets (Fig 4.11). `setting` (`_corrected_momentum_tasks.py`):
`replay` (Fig 4.3, fresh i.i.d. transitions, the default), `online` (Fig 4.4, m = 1, in order along
trajectories), `rbf` (Figs 4.12–4.13, a linear value on RBFs of width σ² ∈ `rbf_sigma2`), `sine` (the
supervised control, Fig 4.1) and `per-layer` (Fig 4.15: replay with the 6-layer MLP of thesis §4.3.3.11,
the full correction restricted to the bottom, top or both ends' layers, `replab.optim.layer_groups`) and
`minatar` (Fig 4.16 scaled to MinAtar: TD(0) on a Breakout ε-expert's buffer with the thesis's small conv
model, MSE to the sampled returns of states of other episodes of the same expert: most also occur in the
training buffer, Breakout's states repeat, but their returns are independent samples;
`_corrected_momentum_minatar.py`). Every method of a seed starts from the same network and sees the same
data (paired by seed); finished units are checkpointed.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch

from replab import seeding
from replab.errors import require_extra
from replab.experiments import Experiment
from replab.experiments.bootstrapping import _corrected_momentum_tasks as T
from replab.experiments.bootstrapping._corrected_momentum_methods import (  # noqa: F401 (re-exported)
    CORRECTED,
    LAYER_METHODS,
    METHODS,
    corrected_layer_set,
    model,
    optimizer,
    value_net,
)
from replab.experiments.bootstrapping._corrected_momentum_rbf import rbf_report
from replab.experiments.bootstrapping._corrected_momentum_report import report as setting_report
from replab.probe.health import HealthConfig, health_monitor


@dataclass
class Config(HealthConfig):
    setting: str = "replay"
    """replay (Fig 4.3), online (Fig 4.4), rbf (the drift sweep, Figs 4.12–4.13) or sine (the supervised
    control), per-layer (Fig 4.15, replay with a 6-layer MLP) or minatar (Fig 4.16, a MinAtar Breakout
    expert's buffer, small conv net); steps, batch, lr, beta, depth, gamma and methods left at None take the
    setting's values (`DEFAULTS` in `_corrected_momentum_tasks.py`: §S3.6, else the
    thesis's §4.3.3)."""
    methods: tuple[str, ...] | None = None
    """Optimizers, from sgd, momentum (μ, dampened), corrected (μ̂, full ζ), corrected_diag (μ̂_diag), oracle
    (μ*), adam, adaptive_diag (μ̂_diag/√(∇² + ε), the thesis's Atari variant), adaptive_full (μ̂/√(∇² + ε):
    the full ζ with Adam's denominator, the thesis's small-model Atari method), bottom, top, ends (the full μ̂
    on some layers only, Fig 4.15). None: replay sgd, momentum, corrected, corrected_diag, adam; online those
    four momenta with the oracle; rbf momentum, corrected; sine momentum, corrected, oracle; per-layer
    momentum (no layer corrected), bottom, top, ends, corrected (every layer); minatar momentum, corrected,
    corrected_diag, adam."""
    seeds: int = 5
    """Seeds; all methods of a seed share the initial network and the data."""
    steps: int | None = None
    """Updates per (method, seed) (None: replay, rbf, sine, per-layer 5000; online 20000; minatar 2000)."""
    batch: int | None = None
    """Transitions (examples) per minibatch (None: 16; online 1, the number of cars driven side by side;
    minatar 32, thesis §4.3.3.8)."""
    lr: float | None = None
    """α of sgd and the momenta (dampened; None: replay 0.1, online 0.005, rbf 0.1, sine 0.2 [DERIVED],
    per-layer 0.1, minatar 0.1)."""
    beta: float | None = None
    """Momentum β (None: 0.9; rbf 0.99, thesis §4.3.3.5); also Adam's β₁ and adaptive_diag's β."""
    adam_lr: float = 1e-3
    """Learning rate of adam and adaptive_diag (PyTorch's default; the spec gives none for Mountain Car)."""
    hidden: int = 16
    """Width of the MLP's hidden layers (§S3.6: 16); minatar: the conv model's channels n_h (§4.3.3.8: 16)."""
    depth: int | None = None
    """Hidden layers of the MLP (None: 3, i.e. 4 linear layers, §S3.6; per-layer 5, i.e. 6 linear layers,
    thesis §4.3.3.11 "MLP with 6 layers"); minatar: the stride-2 convolutions before the head (None: 2,
    10 → 5 → 3; the thesis's 4 take 84 → 6)."""
    corrected_layers: int = 3
    """k, the Linear layers `bottom` and `top` correct (Fig 4.15 varies it; 3 of the 6 layers is our choice:
    bottom 3 = 592 and top 3 = 561 of the 1153 parameters, nearly equal shares); `ends` corrects ⌈k/2⌉
    bottom and ⌊k/2⌋ top layers (the thesis does not say how many; our choice, the same k layers)."""
    layer_rest: str = "none"
    """What the layers outside the corrected set use: none (plain dampened momentum) or diag (μ̂_diag); Fig
    4.15 shows both ("either corrected with the diagonal correction or use normal momentum")."""
    gamma: float | None = None
    """Discount of the learner and of the ground truth (§S3.7: they must match; None: 0.95 on Mountain Car,
    [REF-CODE]; minatar 0.99, the thesis's Atari γ)."""
    n_eval: int = 2000
    """Uniform states on which the MSE to V^π is measured (§S3.6: 2000); minatar: states of other
    episodes of the same expert (most also occur in the training buffer: Breakout's states repeat; their
    returns are independent samples) on which the MSE to their sampled returns is measured."""
    minatar_buffer: int = 20000
    """Transitions of the MinAtar Breakout ε-expert's training buffer (minatar; our size: 2000 updates of 32
    draw each about 3 times; the thesis's Atari buffer is not sized in the text)."""
    eval_every: int = 250
    """Updates between two MSE (and value-drift) measurements."""
    rbf_sigma2: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    """RBF kernel widths σ² of the `rbf` setting (§S3.6: {0.5, 1, 2, 4})."""
    rbf_grid: int = 10
    """RBF centres per dimension of the `rbf` setting (§S3.6: a 10 × 10 grid)."""
    sine_points: int = 10000
    """Fixed regression points of the `sine` setting (§S3.3: 10k uniform on [−1, 1])."""
    min_effect: float = 0.1
    """Registered minimum effect of the μ̂-over-μ claims (replay's registered 2026-12-05 before any run of
    that rule; online's and sine's registered 2026-12-05 before any run of the online and sine settings):
    μ̂'s final MSE over μ's, ratio of means over seeds, must be at most 1 − 0.1, and μ̂ must beat the best
    constant predictor (MSE = Var V^π, or Var y) first. The thesis reports significance, not a size
    (Fig 4.3, 4.4: p < 0.001); a 10% lower error is a stated threshold. Non-headline pairs use it too."""
    min_gap_growth: float = 0.05
    """Registered minimum effect of the `rbf` claim (registered 2026-12-05 before any run of the rbf
    setting): the relative gap 1 − MSE(μ̂)/MSE(μ) at the widest σ² minus the gap at the narrowest, paired by
    seed, must exceed 0.05 (Fig 4.12: "the larger the kernel, the more value drift μ̂ is able to
    correct"), after the gap at the widest σ² is above 0."""
    min_effect_layers: float = 0.1
    """Registered minimum effect of the `per-layer` claim (registered 2026-12-06 before any run of the
    per-layer setting): correcting the bottom k layers beats correcting the top k, bottom's final MSE over
    top's (ratio of means over seeds, paired by seed) at most 1 − 0.1, after bottom beats the best constant
    predictor (Fig 4.15: bottom "much better" than top; the thesis gives no size). Its non-headline pairs
    (all over bottom, both ends over bottom, bottom over none) use it too."""
    min_effect_minatar: float = 0.1
    """Registered minimum effect of the `minatar` claim (registered 2026-12-06 before any run of the minatar
    setting): μ̂'s (full ζ) final MSE to the evaluation states' sampled returns over μ's, ratio of means over seeds
    paired by seed, at most 1 − 0.1, after μ̂ beats the best constant predictor (Var G); the non-headline
    pairs (μ̂ over Adam, μ̂ over μ̂_diag, μ̂/√(∇²+ε) over Adam, and — registered 2026-12-06 after the first
    5-seed minatar run, which did not include it, and before any run of it — μ̂_diag/√(∇²+ε) over Adam, Fig
    4.16's own comparison) use it too. The thesis reports p < 0.01 against Adam (Fig 4.16), no size."""
    probe_every: int = 250
    """Updates between two measurements of the health monitor (the value network's last hidden layer on
    the first `probe_batch` evaluation inputs; for rbf the RBF features)."""

    def __post_init__(self):
        super().__post_init__()
        if self.setting not in T.SETTINGS:
            raise ValueError(f"setting must be one of {T.SETTINGS}, got {self.setting!r}")
        if self.methods is not None:
            self.methods = tuple(self.methods)
            for m in self.methods:
                if m not in METHODS:
                    raise ValueError(f"methods: unknown method '{m}', choose from {METHODS}")
            if not self.methods:
                raise ValueError("methods must not be empty (or None for the setting's)")
        for name in (
            "seeds",
            "steps",
            "batch",
            "hidden",
            "depth",
            "n_eval",
            "eval_every",
            "rbf_grid",
            "sine_points",
        ):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "adam_lr"):
            if getattr(self, name) is not None and not 0 < getattr(self, name) <= 10:
                raise ValueError(f"{name} must be in (0, 10], got {getattr(self, name)}")
        if self.beta is not None and not 0 <= self.beta < 1:
            raise ValueError(f"beta must be in [0, 1), got {self.beta}")
        if self.gamma is not None and not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        self.rbf_sigma2 = tuple(float(v) for v in self.rbf_sigma2)
        if not self.rbf_sigma2 or min(self.rbf_sigma2) <= 0:
            raise ValueError(f"rbf_sigma2 must be a non-empty tuple of widths > 0, got {self.rbf_sigma2}")
        if not 0 <= self.min_effect < 1:
            raise ValueError(f"min_effect must be in [0, 1) (a ratio), got {self.min_effect}")
        if not self.min_gap_growth >= 0:
            raise ValueError(f"min_gap_growth must be >= 0, got {self.min_gap_growth}")
        if self.minatar_buffer < 1:
            raise ValueError(f"minatar_buffer must be >= 1 transitions, got {self.minatar_buffer}")
        if not 0 <= self.min_effect_minatar < 1:
            raise ValueError(f"min_effect_minatar must be in [0, 1) (a ratio), got {self.min_effect_minatar}")
        if not 0 <= self.min_effect_layers < 1:
            raise ValueError(f"min_effect_layers must be in [0, 1) (a ratio), got {self.min_effect_layers}")
        if self.layer_rest not in ("none", "diag"):
            raise ValueError(f"layer_rest must be 'none' or 'diag', got {self.layer_rest!r}")
        d = T.DEFAULTS[self.setting]  # the resolved values (not `resolved()`: it builds a Config)
        depth = self.depth if self.depth is not None else d["depth"]
        if set(self.methods if self.methods is not None else d["methods"]) & set(LAYER_METHODS):
            if self.setting in ("rbf", "minatar"):
                raise ValueError(
                    f"bottom/top/ends correct layers of an MLP: not for --setting {self.setting}"
                )
            if not 1 <= self.corrected_layers <= depth:
                raise ValueError(
                    f"corrected_layers must be in [1, {depth}] (a strict subset of the {depth + 1} "
                    f"layers), got {self.corrected_layers}"
                )
            if "ends" in (self.methods or d["methods"]) and self.corrected_layers < 2:
                raise ValueError(
                    f"corrected_layers must be >= 2 when 'ends' is among the methods (at k = 1 'ends' "
                    f"corrects the bottom layer only, the arm 'bottom'), got {self.corrected_layers}"
                )
        if self.setting == "minatar":  # before a run's store row exists, not mid-run
            require_extra("minatar", "minatar")

    def resolved(self) -> Config:
        """This config with the setting's values in place of None (what a run uses and records)."""
        d = T.DEFAULTS[self.setting]
        return dataclasses.replace(self, **{k: d[k] for k in d if getattr(self, k) is None})


PRESET_METHODS = ("sgd", "momentum", "corrected", "corrected_diag", "oracle", "adam", "adaptive_diag")
"""The methods SMOKE and PAPER run (the per-layer arms and adaptive_full, added later, are the per-layer and
minatar settings' own, or `--methods`)."""
SMOKE = Config(
    methods=PRESET_METHODS, seeds=2, steps=24, n_eval=200, eval_every=8, probe_every=8, probe_batch=64
)
DEFAULT = Config()
PAPER = Config(methods=PRESET_METHODS, seeds=10)
"""Fig 4.3's scale: 10 seeds, 5k steps, minibatch 16, the four momenta plus SGD, Adam and the Adam-like μ̂
(with `--setting online` the thesis used 50 seeds: `--seeds 50`; per-layer and minatar: pass `--methods`,
e.g. for minatar at Fig 4.16's 20 seeds `--setting minatar --seeds 20 --methods momentum corrected
corrected_diag adam adaptive_full`: PAPER's `seeds` is 10)."""


def train_unit(cfg: Config, run, method: str, seed: int, task: T.Task, bar, sigma2=None) -> dict:
    """One (method, seed[, σ²]): `cfg.steps` updates; MSE (and drift) every `eval_every` updates."""
    net, layer = model(cfg, seeding.derive_seed(run.seed, f"init/{seed}"), sigma2)
    opt = optimizer(cfg, method, net)
    stream = task.batches(run.rng(f"{'online' if cfg.setting == 'online' else 'transitions'}/{seed}"))
    arm = f"{method}/s{seed}" + (f"/rbf{sigma2:g}" if sigma2 is not None else "")
    monitor = health_monitor(cfg, net, task.eval_x, run.log, arm=arm, layers=[layer])
    drift = T.Drift(cfg.beta) if task.td else None
    curve, drifts, start, diverged = [(0, task.mse(net))], [], time.process_time(), False
    for t in range(1, cfg.steps + 1):
        batch = next(stream)
        if drift is not None:
            drift.remember(net, batch)
        if method == "oracle":
            loss = opt.step(lambda bs: task.losses(net, bs), batch, batched=True)
        elif method in CORRECTED:
            loss = opt.step(lambda batch=batch: task.terms(net, batch))
        else:  # SGD, μ, Adam need only the minibatch gradient: one backward of the same loss
            opt.zero_grad()
            loss = task.loss(net, batch)
            loss.backward()
            opt.step()
        if not all(bool(torch.isfinite(p).all()) for p in net.parameters()):  # diverged: no probe of NaN
            curve.append((t, float("nan")))  # features; the unit ends here and reports its divergence
            run.log({f"eval/mse/{arm}": curve[-1][1]}, t)
            diverged = True
            break
        monitor.step(t)
        if t % cfg.eval_every == 0 or t == cfg.steps:
            curve.append((t, task.mse(net)))
            logs = {f"eval/mse/{arm}": curve[-1][1], f"loss/{arm}": float(loss.detach())}
            if drift is not None:
                drifts.append(drift.measure(net))
                logs[f"eval/drift/{arm}"] = drifts[-1]
            run.log(logs, t)
            bar.advance(t - curve[-2][0], method=method, seed=seed, mse=curve[-1][1])
            if not np.isfinite(curve[-1][1]):
                diverged = True
                break
    bar.advance(cfg.steps - curve[-1][0])
    finite = [d for d in drifts if np.isfinite(d)]
    return {
        "steps": [c[0] for c in curve],
        "mse": [c[1] for c in curve],
        "drift": drifts,
        "mean_drift": float(np.mean(finite)) if finite else float("nan"),
        "final": curve[-1][1] if not diverged else float("nan"),
        "diverged": diverged,
        "cpu_seconds_per_step": (time.process_time() - start) / max(1, curve[-1][0]),
    }


def unit_key(method: str, seed: int, sigma2: float | None = None) -> str:
    return f"{method}/{seed}" if sigma2 is None else f"{method}@{sigma2:g}/{seed}"


def run(cfg: Config, run) -> dict:
    cfg = cfg.resolved()
    state = run.load_checkpoint() or {"done": {}}
    task = T.make_task(
        cfg.setting,
        run.rng("evaluation"),
        run.rng("minatar-buffer" if cfg.setting == "minatar" else "sine-data"),
        n_eval=cfg.n_eval,
        batch=cfg.batch,
        gamma=cfg.gamma,
        sine_points=cfg.sine_points,
        minatar_buffer=cfg.minatar_buffer,
    )
    widths = cfg.rbf_sigma2 if cfg.setting == "rbf" else (None,)
    units = [(m, s, w) for s in range(cfg.seeds) for w in widths for m in cfg.methods]
    done = sum(unit_key(*u) in state["done"] for u in units)
    with run.progress(
        len(units) * cfg.steps, f"corrected-momentum ({cfg.setting})", completed=done * cfg.steps
    ) as bar:
        for m, s, w in units:
            if unit_key(m, s, w) in state["done"]:
                continue
            state["done"][unit_key(m, s, w)] = train_unit(cfg, run, m, s, task, bar, sigma2=w)
            run.save_checkpoint(state)
    fields = (
        "setting",
        "methods",
        "seeds",
        "steps",
        "batch",
        "lr",
        "beta",
        "adam_lr",
        "hidden",
        "depth",
        "gamma",
    )
    extra = (
        ("rbf_sigma2", "rbf_grid")
        if cfg.setting == "rbf"
        else ("sine_points",)
        if cfg.setting == "sine"
        else ("corrected_layers", "layer_rest", "min_effect_layers")
        if cfg.setting == "per-layer"
        else ("minatar_buffer", "min_effect_minatar")
        if cfg.setting == "minatar"
        else ()
    )
    out = {
        "config": {k: getattr(cfg, k) for k in (*fields, *extra, "n_eval", "min_effect", "min_gap_growth")},
        "constant_mse": task.floor,
        "results": state["done"],
    }
    if task.eval_set is not None:  # minatar: a description of the evaluation states, not a metric
        out["eval_set"] = task.eval_set
    return out


def report(results: dict):
    """rbf has its own report (the gap over widths); the other settings share one."""
    if results["config"].get("setting", "replay") == "rbf":
        return rbf_report(results)
    return setting_report(results)


EXPERIMENT = Experiment(
    name="corrected-momentum",
    headline="staleness-corrected momentum speeds up TD",
    claim=(
        "Correcting momentum's stale gradients with a first-order Taylor term (μ̂, whose TD term includes "
        "the gradient through the bootstrap target) speeds TD(0) policy evaluation over plain momentum μ: "
        "lower MSE to V^π at equal steps (thesis Fig 4.3, Mountain Car replay, 5k steps: μ* < μ̂ < μ̂_diag "
        "< μ, all pairs p < 0.001)."
    ),
    source="E. Bengio, PhD thesis (McGill, 2022), §4 (Bengio, Precup, Pineau 2021, arXiv 2006.07368)",
    check=(
        "Headline (replay, online): final MSE of μ̂ / final MSE of μ (ratio of means over seeds) < 1 − "
        "min_effect (0.1) by the shared rule (paired by seed, 95% CI and sign-flip test, >= 5 seeds), after "
        "μ̂ beats the best constant predictor (MSE = Var V^π). rbf: the relative gap 1 − MSE(μ̂)/MSE(μ) grows "
        "from the narrowest to the widest σ² by > min_gap_growth (0.05). sine (the supervised control): the "
        "same μ̂-vs-μ rule, which the thesis expects not to hold. per-layer: the bottom k layers' correction "
        "over the top k's (ratio of means) < 1 − min_effect_layers (0.1), by the same rule. minatar: μ̂ over μ "
        "on the MSE to the sampled returns of other episodes' states < 1 − min_effect_minatar (0.1), by the same rule. Non-headline: μ̂ "
        "beats μ̂_diag, the oracle beats μ."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
