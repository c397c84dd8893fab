"""The plasticity probe: how well a copy of the model fits fresh targets, against a fresh initialisation.

Lyle et al. 2023 (seed002 §5.2) define, for an optimiser 𝒪, a budget of T steps and probe tasks ℓ ~ 𝓛,

    b(θ) = E_ℓ[ ℓ(𝒪_T(θ, ℓ)) ]      and the plasticity loss      P(t) = b(θ_t) − b(θ_0):

how much worse the trained parameters are as a starting point than an initialisation. Positive P means
plasticity was lost. The probe trains deep copies; the model itself is never touched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from replab.probe.guard import LossFn

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


@dataclass
class ProbeTask:
    """One probe task: inputs `x` (N, ...), targets `y` (N, ...) matching the model's outputs, and the
    mean loss `loss_fn(outputs, targets)`. Each step uses a minibatch of `batch_size` examples (all N if
    None) in an order drawn from `seed`, so the same θ always gives the same loss."""

    x: torch.Tensor
    y: torch.Tensor
    loss_fn: LossFn
    batch_size: int | None = None
    seed: int = 0

    def __post_init__(self):
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(
                f"x and y must have the same length, got {self.x.shape[0]} and {self.y.shape[0]}"
            )
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {self.batch_size}")


def fit_task(
    model: nn.Module,
    task: ProbeTask,
    steps: int,
    optimizer: torch.optim.Optimizer,
    *,
    eval_mode: bool = True,
    stats: dict | None = None,
    on_step: Callable[[int], None] | None = None,
) -> float:
    """Train `model` (in place) for `steps` minibatch steps on `task`; return the loss on all of the task's
    data afterwards (in eval mode unless `eval_mode=False`; the model is left in training mode).
    `on_step(i)` is called after the i-th optimiser step (1-based; e.g. a health `Monitor`'s `step`).

    If a dict `stats` is given it receives `grad_norm`, the mean over the steps of the minibatch gradient
    norm ‖∇θ‖₂ (before the optimiser step; nan for 0 steps)."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    n = task.x.shape[0]
    bs = n if task.batch_size is None else min(task.batch_size, n)
    gen = torch.Generator().manual_seed(task.seed)
    model.train()
    order, pos, norms = torch.randperm(n, generator=gen), 0, []
    for i in range(steps):
        if pos + bs > n:
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos : pos + bs].to(task.x.device)
        pos += bs
        optimizer.zero_grad(set_to_none=True)
        task.loss_fn(model(task.x[idx]), task.y[idx]).backward()
        if stats is not None:
            norms.append(
                torch.stack([p.grad.norm() for p in model.parameters() if p.grad is not None]).norm()
            )
        optimizer.step()
        if on_step is not None:
            on_step(i + 1)
    if stats is not None:
        stats["grad_norm"] = float(torch.stack(norms).mean()) if norms else float("nan")
    model.train(not eval_mode)
    with torch.no_grad():
        loss = float(task.loss_fn(model(task.x), task.y))
    model.train()
    return loss


def probe_loss(
    model: nn.Module,
    tasks: Sequence[ProbeTask],
    steps: int,
    optimizer: OptimizerFactory,
    *,
    eval_mode: bool = True,
) -> list[float]:
    """b(θ) per task: the final loss after `steps` steps of a fresh `optimizer(params)` from a deep copy
    of `model`, one copy per task. Only parameters with `requires_grad` are trained (frozen parts of an
    injected network stay frozen). The global RNG is left as it was."""
    if not tasks:
        raise ValueError("tasks must hold at least one ProbeTask")
    devices = sorted({p.device.index for p in model.parameters() if p.device.type == "cuda"})
    losses = []
    with torch.random.fork_rng(devices=devices), torch.enable_grad():
        for task in tasks:
            clone = copy.deepcopy(model)
            opt = optimizer([p for p in clone.parameters() if p.requires_grad])
            losses.append(fit_task(clone, task, steps, opt, eval_mode=eval_mode))
    return losses


def fresh_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A deep copy of `model` re-initialised with each submodule's own `reset_parameters()` (the default
    initialiser), drawn from `seed` without touching the global RNG."""
    clone = copy.deepcopy(model)
    devices = sorted({p.device.index for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for m in clone.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
    return clone


def plasticity_probe(
    model: nn.Module,
    tasks: Sequence[ProbeTask],
    steps: int,
    optimizer: OptimizerFactory,
    *,
    reference: nn.Module | float | None = None,
    eval_mode: bool = True,
    seed: int = 0,
) -> dict:
    """P = b(θ) − b(θ_0): the loss reached on fresh probe `tasks` from a copy of `model`, minus the same
    from a fresh initialisation (Lyle et al. 2023; seed002 §5.2).

    `optimizer` builds the probe's optimiser from parameters, e.g. `functools.partial(torch.optim.Adam,
    lr=1e-3)`. `reference` is θ_0: the run's initial network (a module), its precomputed b(θ_0) (a float,
    to avoid refitting it at every measurement), or None for a fresh re-initialisation of the model's
    architecture drawn from `seed`. Returns `{"loss": b(θ), "reference_loss": b(θ_0),
    "plasticity_loss": P, "task_losses": [...]}`. The model, its optimiser and the RNG are untouched.
    """
    task_losses = probe_loss(model, tasks, steps, optimizer, eval_mode=eval_mode)
    loss = sum(task_losses) / len(task_losses)
    if isinstance(reference, int | float):
        ref = float(reference)
    else:
        ref_model = reference if reference is not None else fresh_copy(model, seed)
        ref_losses = probe_loss(ref_model, tasks, steps, optimizer, eval_mode=eval_mode)
        ref = sum(ref_losses) / len(ref_losses)
    return {"loss": loss, "reference_loss": ref, "plasticity_loss": loss - ref, "task_losses": task_losses}
