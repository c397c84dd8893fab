"""Plasticity loss on non-stationary problems and the interventions against it (Lyle et al. 2023, ICML;
arXiv 2303.01486; seed002 §5, reduced plan §5.6).

A ReLU MLP is trained on a sequence of tasks with fresh random targets (random labels on digits, or
high-frequency random regression targets); variants add LayerNorm, BatchNorm, weight decay,
shrink-and-perturb or a last-layer reset at each task switch, or swap Adam for SGD. Every few tasks the
network's plasticity (the plasticity probe), dead units, gradient and weight norms, srank, the top Hessian
eigenvalue and the gradient-covariance statistic are measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from replab import seeding
from replab.experiments import Experiment
from replab.experiments.plasticity import _tasks as T
from replab.experiments.plasticity._nonstationary_report import report
from replab.probe import (
    LayerProbe,
    ProbeTask,
    covariance_summary,
    dormant_fraction,
    fit_task,
    gradient_covariance,
    gradient_norm,
    hessian_top_eigenvalue,
    probe_loss,
    srank,
    weight_norm,
)
from replab.probe.health import HealthConfig, health_monitor


@dataclass
class Config(HealthConfig):
    probe_every: int = 800
    """Optimiser steps between two health measurements of each variant's last hidden layer (on the first
    `probe_batch` digits inputs; 15 over DEFAULT's 30 × 400 steps: the end of every second task, plus step
    0). Separate from the experiment's own `measure_every` mechanisms."""
    problems: tuple[str, ...] = T.PROBLEMS
    """Non-stationary problems: `labels` (random-label memorisation) and/or `regression` (random targets)."""
    variants: tuple[str, ...] = T.VARIANTS
    """Variants: plain, layernorm, batchnorm, weight_decay, shrink_perturb, reset_last, sgd."""
    n_examples: int = 1000
    """Digits images in every task (seed002 §5.6: 1,000)."""
    tasks: int = 30
    """Tasks in the sequence (§5.6: 30)."""
    steps_per_task: int = 400
    """Optimiser steps per task (§5.6: 400)."""
    batch_size: int = 64
    depth: int = 4
    """Hidden layers of the MLP (§5.6: 4 × 256 ReLU)."""
    width: int = 256
    lr: float = 1e-3
    """Adam learning rate (§5.6)."""
    sgd_lr: float = 0.1
    """Learning rate of the `sgd` variant (plain SGD, no momentum) [P: Adam's 1e-3 would barely move SGD]."""
    weight_decay: float = 1e-4
    """L2 coefficient of the `weight_decay` variant (Adam's coupled L2; §5.6: 1e-4)."""
    shrink: float = 0.8
    """Shrink factor of `shrink_perturb`, applied at each task switch [P]."""
    noise: float = 0.01
    """Scale of the fresh-initialisation noise of `shrink_perturb` [P]."""
    target_frequency: float = 1000.0
    """ω in y = sin(ω·g(x)) for `regression` (Lyle et al.: 10⁵ [K]; §5.6 proposes 10³ for CPU)."""
    target_hidden: int = 64
    """Hidden width of the random target network g."""
    measure_every: int = 5
    """Measure every this many tasks (and at the start and the end)."""
    probe_tasks: int = 3
    """Fresh probe tasks of the plasticity probe (same family as the problem, never trained on)."""
    probe_steps: int = 200
    """Optimiser steps per probe task (the variant's own optimiser, fresh state)."""
    hessian_examples: int = 256
    """Examples of the first probe task for the top Hessian eigenvalue and the gradient norm (§5.6: 256)."""
    hessian_iters: int = 20
    """Power iterations (§5.6: 20)."""
    gcov_examples: int = 64
    """Examples for the gradient-covariance matrix (§5.6: 64)."""
    gcov_statistic: str = "mean_abs_cos"
    """Gradient-covariance summary used by the checks: mean_abs_cos or top_eig_fraction."""
    k_tasks: int = 5
    """The claims compare the first and the last k tasks' final losses."""
    rise_ratio: float = 1.1
    """`plain_rise`: plain's mean final loss over the last k tasks is > rise_ratio × the first k's (decided
    on log(last / first) > log rise_ratio, geometric mean over seeds and problems). The threshold this
    experiment registered before the shared rules (registered 2026-12-05 before any run of this rule)."""
    ln_factor: float = 1.1
    """The headline (`claim`): layer norm's mean final loss over the last k tasks is below plain's / ln_factor
    (decided on log(LN / plain) < −log ln_factor, paired by seed and problem). The same 10% that
    `rise_ratio` counts as a loss of plasticity: layer norm must avoid at least the rise that defines
    plasticity loss here; the source ranks the interventions without effect sizes (registered 2026-12-05
    before any run of this rule)."""
    dead_max: float = 0.01
    """`dead_units`: the plain network's dead-unit fraction (mean over hidden layers) stays below this at
    every measurement ('≈ 0 dead units'; the bound registered before the shared rules; registered 2026-12-05
    before any run of this rule)."""
    grad_growth_max: float = 10.0
    """`grad_norm`: 'no diverging gradient norm': the plain network's training gradient norm (mean over the
    last k tasks' steps) stays below this × its mean over the first k tasks (the bound registered before the
    shared rules; registered 2026-12-05 before any run of this rule)."""
    min_rho: float = 0.3
    """`curvature`: the Spearman ρ between the plasticity loss and each curvature statistic (top Hessian
    eigenvalue; gradient-covariance statistic), pooled over variants and measurements within a seed, is
    at least this (mean over seeds): a 'medium' correlation by Cohen's convention; the source gives no
    coefficient (registered 2026-12-05 before any run of this rule)."""

    def __post_init__(self):
        super().__post_init__()
        self.problems, self.variants = tuple(self.problems), tuple(self.variants)
        for name, allowed in (("problems", T.PROBLEMS), ("variants", T.VARIANTS)):
            bad = [v for v in getattr(self, name) if v not in allowed]
            if bad or not getattr(self, name) or len(set(getattr(self, name))) != len(getattr(self, name)):
                raise ValueError(f"{name} must be distinct values from {allowed}, got {getattr(self, name)}")
        for name in (
            "n_examples",
            "tasks",
            "steps_per_task",
            "batch_size",
            "depth",
            "width",
            "target_hidden",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("measure_every", "probe_tasks", "probe_steps", "hessian_iters", "k_tasks"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("hessian_examples", "gcov_examples"):
            if not 2 <= getattr(self, name) <= self.n_examples:
                raise ValueError(
                    f"{name} must be in [2, n_examples={self.n_examples}], got {getattr(self, name)}"
                )
        if 2 * self.k_tasks > self.tasks:
            raise ValueError(f"k_tasks must be <= tasks / 2 = {self.tasks / 2}, got {self.k_tasks}")
        for name in ("lr", "sgd_lr", "target_frequency"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("rise_ratio", "ln_factor", "grad_growth_max"):
            if not getattr(self, name) >= 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("weight_decay", "noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("shrink", "dead_max", "min_rho"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.gcov_statistic not in ("mean_abs_cos", "top_eig_fraction"):
            raise ValueError(
                f"gcov_statistic must be mean_abs_cos or top_eig_fraction, got {self.gcov_statistic!r}"
            )


SMOKE = Config(
    variants=("plain", "layernorm", "reset_last"),
    n_examples=128,
    tasks=4,
    steps_per_task=15,
    batch_size=32,
    depth=2,
    width=32,
    measure_every=2,
    probe_tasks=1,
    probe_steps=10,
    hessian_examples=64,
    hessian_iters=5,
    gcov_examples=16,
    k_tasks=1,
    probe_every=15,
)
DEFAULT = Config()
PAPER = Config(
    n_examples=1200,
    tasks=100,
    steps_per_task=1000,
    measure_every=10,
    probe_tasks=5,
    probe_steps=500,
    probe_every=5_000,
)


def measure(
    model, problem: str, variant: str, cfg: Config, x, probes: list[ProbeTask], ref, seed: int
) -> dict:
    """All mechanisms of Lyle et al. 2023 at the current parameters (the model is not changed)."""
    lf = T.loss_fn(problem)
    b = probe_loss(model, probes, cfg.probe_steps, T.optimizer_factory(variant, cfg))
    b = sum(b) / len(b)
    ref = b if ref is None else ref
    feats = LayerProbe(model, T.hidden_layers(cfg)).features(x)
    dead = [dormant_fraction(f, 0.0) for f in feats.values()]
    px, py = probes[0].x, probes[0].y
    hx, hy = px[: cfg.hessian_examples], py[: cfg.hessian_examples]
    gen = seeding.generator(seed, f"hessian/{problem}/{variant}")
    cos = gradient_covariance(model, lf, px[: cfg.gcov_examples], py[: cfg.gcov_examples])
    return {
        "probe_loss": b,
        "reference_loss": ref,
        "plasticity_loss": b - ref,
        "dead_fraction": sum(dead) / len(dead),
        "dead_max_layer": max(dead),
        "srank": srank(list(feats.values())[-1], 0.01),
        "weight_norm": weight_norm(model),
        "grad_norm": gradient_norm(model, lf, hx, hy),
        "hessian_top": hessian_top_eigenvalue(model, lf, hx, hy, iters=cfg.hessian_iters, generator=gen),
        **covariance_summary(cos),
        "_cos": cos,
    }


def train_variant(problem: str, variant: str, cfg: Config, run, x, bar) -> dict:
    seed = run.seed
    model = T.build_model(problem, variant, cfg, seeding.generator(seed, f"init/{problem}")).to(x.device)
    make_opt = T.optimizer_factory(variant, cfg)
    opt = make_opt(model.parameters())
    probes = T.probe_tasks(problem, x, seeding.generator(seed, f"probe/{problem}"), cfg)
    tasks_gen = seeding.generator(seed, f"tasks/{problem}")  # the same task sequence for every variant
    schedule = T.switch_schedule(variant, cfg, seeding.generator(seed, f"intervene/{problem}/{variant}"))
    prefix = f"{problem}/{variant}"
    # representation health (issue 20): the last hidden layer, on the run's own inputs; steps counted in
    # optimiser steps over the whole task sequence, interventions at task switches marked
    monitor = health_monitor(cfg, model, x, run.log, arm=prefix, layers=T.hidden_layers(cfg)[-1:])
    monitor.step(0)
    first = measure(model, problem, variant, cfg, x, probes, None, seed)
    ref, measurements, task_loss, task_grad = first["reference_loss"], [(0, first)], [], []
    task_chance = []  # the floor: the best constant predictor's loss on each task (cheap: from y)
    for t in range(cfg.tasks):
        y = T.task_targets(problem, x, tasks_gen, cfg).to(x.device)
        step = t * cfg.steps_per_task
        if schedule.apply(step, model, optimizer=opt):
            monitor.mark(step)
        task = ProbeTask(
            x, y, T.loss_fn(problem), cfg.batch_size, seed=seeding.derive_seed(seed, f"order/{t}")
        )
        stats: dict = {}
        loss = fit_task(
            model, task, cfg.steps_per_task, opt, stats=stats, on_step=lambda i, s=step: monitor.step(s + i)
        )
        task_loss.append(loss)
        task_chance.append(T.chance_loss(problem, y))
        task_grad.append(stats["grad_norm"])
        metrics = {"task_loss": loss, "task": t + 1, "train_grad_norm": stats["grad_norm"]}
        run.log({f"train/{prefix}/{k}": v for k, v in metrics.items()}, step + cfg.steps_per_task)
        if (t + 1) % cfg.measure_every == 0 or t + 1 == cfg.tasks:
            measurements.append((t + 1, measure(model, problem, variant, cfg, x, probes, ref, seed)))
        bar.advance(1, run=prefix, task=t + 1, loss=loss)
    for done, m in measurements:
        run.log(
            {f"probe/{prefix}/{k}": v for k, v in m.items() if not k.startswith("_")},
            done * cfg.steps_per_task,
        )
    return {
        "task_loss": task_loss,
        "task_chance": task_chance,
        "task_grad_norm": task_grad,
        "tasks_done": [d for d, _ in measurements],
        "measurements": {k: [m[k] for _, m in measurements] for k in first if not k.startswith("_")},
        # the gradient cosine matrices at the start and the end, for the heat-map figure
        "cos_first": _rounded(measurements[0][1]["_cos"]),
        "cos_last": _rounded(measurements[-1][1]["_cos"]),
    }


def _rounded(m: torch.Tensor) -> list[list[float]]:
    return [[round(float(v), 4) for v in row] for row in m]


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    names = [(p, v) for p in cfg.problems for v in cfg.variants]
    completed = sum(cfg.tasks for p, v in names if f"{p}/{v}" in state["done"])
    x = T.digits_inputs(cfg.n_examples, run.seed).to(run.device)
    with run.progress(len(names) * cfg.tasks, "plasticity", completed=completed) as bar:
        for problem, variant in names:
            key = f"{problem}/{variant}"
            if key in state["done"]:
                continue
            state["done"][key] = train_variant(problem, variant, cfg, run, x, bar)
            run.save_checkpoint(state)
    runs: dict[str, dict] = {p: {} for p in cfg.problems}
    for key, res in state["done"].items():
        p, v = key.split("/")
        runs[p][v] = res
    keep = ("k_tasks", "rise_ratio", "ln_factor", "dead_max", "grad_growth_max", "min_rho")
    return {
        "config": {k: getattr(cfg, k) for k in (*keep, "gcov_statistic", "tasks", "steps_per_task")},
        "runs": runs,
    }


EXPERIMENT = Experiment(
    name="plasticity-nonstationary",
    headline="plasticity is lost; layer norm keeps it",
    claim=(
        "Networks trained on a sequence of changing targets lose plasticity: plain networks fit later tasks "
        "worse; this happens without saturated (dead) units or diverging gradient norms; it is tied to "
        "changes in the curvature of the loss landscape (sharpness, gradient-covariance structure); and "
        "layer normalisation is the best (first or near-first) intervention."
    ),
    source="Lyle et al. 2023, Understanding plasticity in neural networks (ICML; arXiv 2303.01486), abstract, §4–5",
    check=(
        "Headline claims decided by the shared rule across seeds (one seed per run; the ledger pools a "
        "sweep), units (seed, problem): layer norm's mean final loss over the last k tasks below plain's / "
        "ln_factor (1.1), both measured against the best constant predictor's loss (the floor) (claim); "
        "plain's last-k over first-k final loss > rise_ratio (1.1) (plain_rise); plain's dead-unit fraction "
        "< dead_max (1%) at every measurement (dead_units) and its training gradient norm grows < "
        "grad_growth_max (10×) (grad_norm); Spearman ρ(plasticity loss, top Hessian eigenvalue) and "
        "ρ(plasticity loss, gradient-covariance statistic) ≥ min_rho (0.3) (curvature)."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
