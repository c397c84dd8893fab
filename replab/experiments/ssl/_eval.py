"""Label-fraction evaluation shared by the SSL experiments (CPC v2 Table 2.2 protocol, SemPPL's 1%/10%).

Linear probes use `replab.probe.linear_probe`; this module adds what it does not cover: stratified label
subsets, training a classifier (optionally with its encoder) with minibatch SGD/Adam, and accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

LABEL_FRACTIONS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)  # CPC v2 Table 2.2


def label_subset(y: Tensor, fraction: float, rng: np.random.Generator) -> Tensor:
    """Indices of a stratified random `fraction` of `y` with at least one example per class."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    yn = y.cpu().numpy()
    chosen = []
    for c in np.unique(yn):
        idx = np.flatnonzero(yn == c)
        k = max(1, int(round(len(idx) * fraction)))
        chosen.append(rng.choice(idx, size=k, replace=False))
    return torch.from_numpy(np.sort(np.concatenate(chosen)))


@torch.no_grad()
def apply_batched(fn: Callable[[Tensor], Tensor], x: Tensor, batch: int = 256) -> Tensor:
    """fn over x in chunks of `batch` rows, concatenated (encodes a dataset in bounded memory)."""
    return torch.cat([fn(x[i : i + batch]) for i in range(0, x.shape[0], batch)])


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor, batch: int = 256) -> float:
    """Top-1 accuracy of `model` (in eval mode, restored afterwards) on (x, y)."""
    was = model.training
    model.eval()
    try:
        pred = apply_batched(lambda b: model(b).argmax(1), x, batch)
    finally:
        model.train(was)
    return float((pred == y).float().mean())


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    steps: int,
    batch: int,
    optimizers: Iterable[torch.optim.Optimizer],
    generator: torch.Generator,
    augment: Callable[[Tensor, torch.Generator], Tensor] | None = None,
    schedule: bool = True,
) -> float:
    """Minimise cross-entropy of model(augment(x_batch)) for `steps` minibatches drawn with replacement
    from `generator`; each optimizer steps its own parameters (CPC v2: classifier SGD, encoder Adam) with
    a cosine-decayed learning rate when `schedule`. Returns the mean loss of the last 10% of steps."""
    optimizers = list(optimizers)
    scheds = [torch.optim.lr_scheduler.CosineAnnealingLR(o, steps) for o in optimizers] if schedule else []
    model.train()
    losses = []
    b = min(batch, x.shape[0])
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (b,), generator=generator)
        xb = x[idx] if augment is None else augment(x[idx], generator)
        loss = F.cross_entropy(model(xb), y[idx])
        for o in optimizers:
            o.zero_grad()
        loss.backward()
        for o in optimizers:
            o.step()
        for s in scheds:
            s.step()
        losses.append(float(loss.detach()))
    tail = losses[-max(1, steps // 10) :]
    return float(np.mean(tail))


def spread(values) -> dict[str, float]:
    """Mean, min and max of the finite values and their count (descriptive: with 2–3 seeds a "95% CI" is
    the range anyway; the claims carry the CIs of the shared rule)."""
    xs = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not xs:
        nan = float("nan")
        return {"n": 0, "mean": nan, "low": nan, "high": nan}
    return {"n": len(xs), "mean": float(np.mean(xs)), "low": min(xs), "high": max(xs)}


def steps_for(n_labelled: int, batch: int, epochs: float, min_steps: int, max_steps: int) -> int:
    """`epochs` passes over the labelled set in minibatches, clipped to [min_steps, max_steps]."""
    return int(np.clip(round(epochs * n_labelled / batch), min_steps, max_steps))
