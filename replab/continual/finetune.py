"""One fine-tuning run: SGD with Nesterov momentum, warm-up + cosine (or constant) learning rate, dev
evaluation with early stopping — the NEVIS recipe at a small scale (seed002 §7.2, `finetuning_dknn.py`:
SGDW, momentum 0.9, Nesterov, weight decay 1e-4, warm-up-cosine, early-stopping grace 10).

`fit(net, data, ...)` trains `net` (inputs → logits) in place and returns a `Fit`: the best dev error and
the weights that reached it, the dev error at every evaluation (for budgets read along one run, PRUNE),
and the examples it touched, from which the caller counts FLOPs (`replab.nn.count`). It calls
`monitor.step(step0 + t)` after every step when given a health `Monitor`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from replab.continual import metrics

SCHEDULES = ("cosine", "constant")


@dataclass
class Fit:
    best_error: float
    best_step: int
    best_state: dict
    steps: int
    """Steps run (fewer than asked when early stopping stopped the run)."""
    train_examples: int
    """Examples through forward + backward."""
    eval_examples: int
    """Examples through a forward pass for dev evaluation."""
    curve: list[tuple[int, float]] = field(default_factory=list)
    """(step, dev error) at each evaluation."""


def error(net: nn.Module, x: torch.Tensor, y: torch.Tensor, kind: str, batch: int = 512) -> float:
    """Top-1 error (single-label) or 1 − mAP (multi-label) of `net` on (x, y), in eval mode (restored)."""
    scores = predict_scores(net, x, kind, batch)
    if kind == "single":
        return metrics.top1_error(scores, y.numpy())
    return 1.0 - metrics.mean_average_precision(scores, y.numpy())


@torch.no_grad()
def predict_scores(net: nn.Module, x: torch.Tensor, kind: str, batch: int = 512) -> np.ndarray:
    """Softmax class probabilities (single) or sigmoid label probabilities (multi), (N, K)."""
    was = net.training
    net.eval()
    out = torch.cat([net(x[i : i + batch]) for i in range(0, len(x), batch)])
    net.train(was)
    return (out.softmax(1) if kind == "single" else out.sigmoid()).numpy()


def loss_fn(logits: torch.Tensor, y: torch.Tensor, kind: str, label_smoothing: float) -> torch.Tensor:
    if kind == "single":
        return F.cross_entropy(logits, y, label_smoothing=label_smoothing)
    return F.binary_cross_entropy_with_logits(logits, y)


def lr_at(t: int, steps: int, lr: float, warmup: int, schedule: str, final: float = 1e-8) -> float:
    """Linear warm-up over `warmup` steps, then cosine from lr to `final` at `steps` (NEVIS's
    warm-up-cosine, final lr 1e-8) or constant."""
    if t < warmup:
        return lr * (t + 1) / warmup
    if schedule == "constant":
        return lr
    frac = (t - warmup) / max(1, steps - warmup)
    return final + 0.5 * (lr - final) * (1 + math.cos(math.pi * min(1.0, frac)))


def fit(
    net: nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    dev: tuple[torch.Tensor, torch.Tensor],
    *,
    kind: str,
    lr: float,
    steps: int,
    batch: int,
    generator: torch.Generator,
    eval_every: int,
    grace: int = 10,
    label_smoothing: float = 0.0,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    warmup_fraction: float = 0.1,
    schedule: str = "cosine",
    eval_at: tuple[int, ...] = (),
    monitor=None,
    step0: int = 0,
    on_eval=None,
) -> Fit:
    """Train `net` in place for at most `steps` steps of `batch` examples (drawn without replacement
    within each pass over the data); evaluate on dev every `eval_every` steps and at each step of
    `eval_at` (then `on_eval(step, net)` too, e.g. a test error at a budget); stop after `grace` evaluations
    without a better dev error (grace 0: never). Weight decay
    skips biases and norm parameters (NEVIS masks it the same way)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if steps < 1 or batch < 1 or eval_every < 1:
        raise ValueError(f"steps, batch and eval_every must be >= 1, got {steps}, {batch}, {eval_every}")
    x, y = train
    decay = [p for p in net.parameters() if p.dim() > 1]
    no_decay = [p for p in net.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        momentum=momentum,
        nesterov=momentum > 0,
    )
    warmup = max(1, int(warmup_fraction * steps))
    checkpoints = set(eval_at)
    best, best_step, best_state = math.inf, 0, copy.deepcopy(net.state_dict())
    curve: list[tuple[int, float]] = []
    since, order, pos, seen, evals = 0, torch.empty(0, dtype=torch.long), 0, 0, 0
    net.train()
    t = 0
    for t in range(1, steps + 1):
        if pos + batch > len(order):
            order, pos = torch.randperm(len(x), generator=generator), 0
        idx = order[pos : pos + batch]
        pos += batch
        for group in opt.param_groups:
            group["lr"] = lr_at(t - 1, steps, lr, warmup, schedule)
        loss = loss_fn(net(x[idx]), y[idx], kind, label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(idx)
        if monitor is not None:
            monitor.step(step0 + t)
        if t % eval_every == 0 or t in checkpoints or t == steps:
            err = error(net, *dev, kind)
            evals += len(dev[0])
            curve.append((t, err))
            if on_eval is not None:
                on_eval(t, net)
            if err < best:
                best, best_step, best_state, since = err, t, copy.deepcopy(net.state_dict()), 0
            else:
                since += 1
            if grace and since >= grace:
                break
        if not math.isfinite(loss.item()):
            break  # a diverged trial: its best dev error so far stands
    return Fit(best, best_step, best_state, t, seen, evals, curve)
