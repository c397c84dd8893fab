"""Non-stationary problems, networks and variants for `plasticity-nonstationary` (seed002 §5.6).

- `labels`: random-label memorisation — the same digits images, labels re-drawn uniformly each task
  (Lyle et al. 2023 use CIFAR-10; seed002 §5.6 proposes 1,000 scikit-learn digits).
- `regression`: random-target regression — y = sin(ω·g(x)) with g a freshly drawn random 2-layer net each
  task (Lyle et al.'s high-frequency transform sin(10⁵·g(x)) + b [K]; ω = 10³ by default [P], no offset).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from replab.data.digits import load_digits
from replab.intervene import Reset, Schedule, ShrinkPerturb, add_layernorm, reinitialize
from replab.nn.deep import DeepMLP, layer_names
from replab.probe import ProbeTask

PROBLEMS = ("labels", "regression")
VARIANTS = ("plain", "layernorm", "batchnorm", "weight_decay", "shrink_perturb", "reset_last", "sgd")
CLASSES = 10


def digits_inputs(n: int, seed: int) -> torch.Tensor:
    """(n, 64) standardised 8×8 digits, the first n of a fixed shuffle of the training split."""
    split = load_digits(size=8, seed=seed)
    if not 1 <= n <= split.train_x.shape[0]:
        raise ValueError(f"n_examples must be in [1, {split.train_x.shape[0]}], got {n}")
    return split.train_x[:n].reshape(n, -1)


def loss_fn(problem: str):
    return F.cross_entropy if problem == "labels" else F.mse_loss


def out_dim(problem: str) -> int:
    return CLASSES if problem == "labels" else 1


def task_targets(problem: str, x: torch.Tensor, generator: torch.Generator, cfg) -> torch.Tensor:
    """Targets of one task: uniform labels (N,) or sin(ω·g(x)) (N, 1) with a fresh random net g."""
    if problem == "labels":
        return torch.randint(0, CLASSES, (x.shape[0],), generator=generator).to(x.device)
    g = nn.Sequential(nn.Linear(x.shape[1], cfg.target_hidden), nn.ReLU(), nn.Linear(cfg.target_hidden, 1))
    reinitialize(g, generator)
    with torch.no_grad():
        return torch.sin(cfg.target_frequency * g(x.cpu())).to(x.device)


def chance_loss(problem: str, y: torch.Tensor) -> float:
    """The loss of the best constant predictor on a task (the floor a network must beat to have fitted
    anything): the entropy of the empirical label distribution (cross-entropy of predicting the label
    frequencies, nats) or the variance of the targets (MSE of predicting their mean)."""
    if problem == "labels":
        p = torch.bincount(y, minlength=CLASSES).double() / y.numel()
        p = p[p > 0]
        return float(-(p * p.log()).sum())
    return float(y.double().var(unbiased=False))


def probe_tasks(problem: str, x: torch.Tensor, generator: torch.Generator, cfg) -> list[ProbeTask]:
    """Fresh tasks of the same family (never trained on), fixed for the whole run."""
    return [
        ProbeTask(x, task_targets(problem, x, generator, cfg), loss_fn(problem), cfg.batch_size, seed=i)
        for i in range(cfg.probe_tasks)
    ]


def build_model(problem: str, variant: str, cfg, generator: torch.Generator) -> nn.Module:
    """MLP depth × width ReLU (`DeepMLP`: blocks layer01.., linear `head`), + LayerNorm or BatchNorm.

    Variants sharing the plain architecture start from identical parameters (same `generator` seed)."""
    net = DeepMLP(64, out_dim(problem), depth=cfg.depth, width=cfg.width, batch_norm=variant == "batchnorm")
    if variant == "layernorm":
        net = add_layernorm(net, inplace=True)
    return reinitialize(net, generator)


def hidden_layers(cfg) -> list[str]:
    return layer_names(cfg.depth)


def optimizer_factory(variant: str, cfg):
    """The variant's optimiser class and hyperparameters (also used by its plasticity probe)."""
    if variant == "sgd":
        return functools.partial(torch.optim.SGD, lr=cfg.sgd_lr)
    wd = cfg.weight_decay if variant == "weight_decay" else 0.0
    return functools.partial(torch.optim.Adam, lr=cfg.lr, weight_decay=wd)


def switch_schedule(variant: str, cfg, generator: torch.Generator) -> Schedule:
    """Interventions at every task switch (step = task · steps_per_task)."""
    schedule = Schedule(generator=generator)
    if variant == "shrink_perturb":
        schedule.every(cfg.steps_per_task, ShrinkPerturb(cfg.shrink, cfg.noise))
    elif variant == "reset_last":
        schedule.every(cfg.steps_per_task, Reset("head"))
    return schedule
