"""Shared parts of the LRU experiments (`lru-ladder`, `lru-length`): the tasks as batches, losses and
accuracies, and the training loop with the paper's optimiser (LRU App. D; minimal-LRU `train_helpers`):
AdamW with weight decay on all parameters except ν, θ, γ_log and B, which get plain Adam (no weight
decay) at `ssm_lr_factor` × the learning rate, and a cosine schedule after a linear warm-up.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from replab.data.listops import VOCAB, make_listops
from replab.data.sequences import adding_problem, delayed_recall, selective_copying, sequential_digits
from replab.nn.lru import lru_param_groups

ADDING_TOLERANCE = 0.04  # LSTM paper (Hochreiter & Schmidhuber 1997) §5.4: "correct" if |error| < 0.04


@dataclass
class Task:
    """A sequence task: how to draw a training batch, the fixed test set, the loss and the accuracy.

    `sample(rng, batch)` returns (x, y, lengths or None); `test` is a list of such batches.
    Outputs are read per sequence (pooling "mean"/"last") or at the last `n_out` steps (pooling "none").
    """

    name: str
    d_input: int
    d_output: int
    pooling: str
    sample: object
    test: list = field(default_factory=list)
    vocab_size: int | None = None
    n_out: int = 0
    regression: bool = False
    length: int = 0

    def outputs(self, model: nn.Module, x, lengths):
        out = model(x, lengths=lengths)
        return out[:, -self.n_out :] if self.n_out else out

    def loss(self, out, y):
        if self.regression:
            return F.mse_loss(out.squeeze(-1), y)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))

    def correct(self, out, y) -> torch.Tensor:
        """Per-prediction correctness (B,) or (B, n_out) as floats."""
        if self.regression:
            return ((out.squeeze(-1) - y).abs() < ADDING_TOLERANCE).float()
        return (out.argmax(-1) == y).float()


def _fixed(x, y, lengths=None):
    """A sampler that draws minibatches (with replacement) from a fixed training set."""

    def sample(rng: np.random.Generator, batch: int):
        idx = torch.from_numpy(rng.integers(0, len(x), size=batch))
        return x[idx], y[idx], (lengths[idx] if lengths is not None else None)

    return sample


def _chunks(x, y, lengths=None, size: int = 256) -> list:
    return [
        (x[i : i + size], y[i : i + size], None if lengths is None else lengths[i : i + size])
        for i in range(0, len(x), size)
    ]


def make_task(
    name: str,
    rng: np.random.Generator,
    *,
    length: int = 0,
    n_train: int = 0,
    n_test: int = 512,
    listops_depth: int = 6,
    listops_args: int = 5,
    recall_pattern: int = 10,
) -> Task:
    """Build task `name` ∈ {listops, digits, permuted_digits, delayed_recall, adding, selective_copy}.

    `length` is the ListOps maximum length, the recall delay, or the adding / selective-copy length.
    Data are drawn from `rng` (the run's "data" stream), the test set first and once.
    """
    if name == "listops":
        data = make_listops(
            n_train + n_test,
            rng,
            min_length=max(1, length // 10),
            max_length=length,
            max_depth=listops_depth,
            max_args=listops_args,
        )
        tr, te = slice(0, n_train), slice(n_train, None)
        return Task(
            name,
            0,
            10,
            "mean",
            _fixed(data.tokens[tr], data.labels[tr], data.lengths[tr]),
            _chunks(data.tokens[te], data.labels[te], data.lengths[te]),
            vocab_size=len(VOCAB),
            length=int(data.lengths.max()),
        )
    if name in ("digits", "permuted_digits"):
        split = sequential_digits(permuted=name == "permuted_digits", rng=rng)
        return Task(
            name,
            1,
            10,
            "mean",
            _fixed(split.x_train, split.y_train),
            _chunks(split.x_test, split.y_test),
            length=split.x_train.shape[1],
        )
    if name == "delayed_recall":
        p = recall_pattern

        def sample(r, batch):
            x, y = delayed_recall(r, batch, delay=length, pattern_length=p)
            return x, y, None

        return Task(
            name, 0, 8, "none", sample, [sample(rng, n_test)], vocab_size=10, n_out=p, length=length + 2 * p
        )
    if name == "adding":

        def sample(r, batch):
            x, y = adding_problem(r, batch, length)
            return x, y, None

        return Task(
            name, 2, 1, "last", sample, _chunks(*sample(rng, n_test)[:2]), regression=True, length=length
        )
    if name == "selective_copy":
        m = 8

        def sample(r, batch):
            x, y = selective_copying(r, batch, length, n_memorize=m, n_tokens=8)
            return x, y, None

        return Task(
            name,
            0,
            8,
            "none",
            sample,
            _chunks(*sample(rng, n_test)[:2]),
            vocab_size=10,
            n_out=m,
            length=length + m,
        )
    raise ValueError(f"unknown task '{name}'")


def cosine_with_warmup(step: int, total: int, warmup: int, min_factor: float = 1e-3) -> float:
    """LR multiplier: linear warm-up over `warmup` steps, then cosine decay to `min_factor` (LRU App. D)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def make_optimizer(model: nn.Module, lr: float, weight_decay: float, ssm_lr_factor: float):
    """AdamW over `lru_param_groups` (the reduced-lr, no-decay group is plain Adam: AdamW with wd 0)."""
    return torch.optim.AdamW(lru_param_groups(model, lr, weight_decay, ssm_lr_factor), lr=lr)


def _to(model: nn.Module, x, y, lengths):
    """Move a batch to the model's device (`--device cuda`); data are generated on the CPU."""
    device = next(model.parameters()).device
    return x.to(device), y.to(device), None if lengths is None else lengths.to(device)


@torch.no_grad()
def evaluate(model: nn.Module, task: Task) -> dict[str, float]:
    """Accuracy (and mean loss) over the task's test set, in eval mode; restores the previous mode."""
    was_training = model.training
    model.eval()
    correct, losses, n = 0.0, 0.0, 0
    for x, y, lengths in task.test:
        x, y, lengths = _to(model, x, y, lengths)
        out = task.outputs(model, x, lengths)
        correct += float(task.correct(out, y).sum())
        losses += float(task.loss(out, y)) * len(y)
        n += task.correct(out, y).numel()
    model.train(was_training)
    per_seq = n // sum(len(b[1]) for b in task.test)
    return {"accuracy": correct / n, "loss": losses / sum(len(b[1]) for b in task.test), "per_seq": per_seq}


class Readout(nn.Module):
    """The representation a sequence model's decoder reads (the last block's output, pooled as the model
    pools it; the last step's with per-step outputs), on inputs `x` with the fixed `lengths`: what the
    health monitor watches. Works for any model with a `decoder` called once per forward."""

    def __init__(self, model: nn.Module, lengths: torch.Tensor | None = None):
        super().__init__()
        self.model, self.lengths = model, lengths

    def forward(self, x):
        seen = []
        hook = self.model.decoder.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
        try:
            self.model(x, lengths=self.lengths)
        finally:
            hook.remove()
        h = seen[0]
        return h[:, -1] if h.dim() == 3 else h


def schedule_at(progress: float, warmup_frac: float, min_factor: float = 1e-3) -> float:
    """LR multiplier at a fraction `progress` ∈ [0, 1] of training: the same linear warm-up then cosine decay
    as `cosine_with_warmup`, laid out over time instead of steps (used when training is time-capped)."""
    if progress < warmup_frac:
        return max(progress / warmup_frac, min_factor)
    rest = min(1.0, (progress - warmup_frac) / max(1e-9, 1 - warmup_frac))
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * rest))


def train(
    model: nn.Module,
    task: Task,
    *,
    steps: int,
    batch: int,
    lr: float,
    weight_decay: float,
    ssm_lr_factor: float,
    warmup_frac: float,
    rng: np.random.Generator,
    log=None,
    eval_every: int = 0,
    on_step=None,
    max_seconds: float = 0.0,
    monitor=None,
):
    """Train `model` on `task` for `steps` minibatches; return the final test metrics and timing.

    `log(metrics, step)` receives train/eval metrics and `on_step(loss)` is called after every step (a
    progress bar); a non-finite loss stops training early (the divergence is reported, not hidden).
    `max_seconds` > 0 caps the training time in CPU seconds of this process (the same compute budget on a
    shared machine as on an idle one): training stops at `steps` steps or `max_seconds` CPU seconds,
    whichever comes first, and the warm-up + cosine schedule follows progress = max(step / steps,
    elapsed / max_seconds), so a time-capped run still gets its whole schedule.
    `monitor` (a health `Monitor`) is stepped after every update; its CPU time is left out of the
    cap and of `train_seconds`, so monitoring changes neither the schedule nor the measured speed.
    """
    opt = make_optimizer(model, lr, weight_decay, ssm_lr_factor)
    base = [g["lr"] for g in opt.param_groups]
    warmup = max(1, int(warmup_frac * steps))
    model.train()
    start, diverged, loss_value, done = time.process_time(), False, float("nan"), 0

    def probe_seconds() -> float:
        return monitor.cpu_seconds if monitor is not None else 0.0

    for step in range(steps):
        if max_seconds > 0:
            progress = max(step / steps, (time.process_time() - start - probe_seconds()) / max_seconds)
            if progress >= 1:
                break
            factor = schedule_at(progress, warmup_frac)
        else:
            factor = cosine_with_warmup(step, steps, warmup)
        for g, b in zip(opt.param_groups, base):
            g["lr"] = b * factor
        x, y, lengths = _to(model, *task.sample(rng, batch))
        loss = task.loss(task.outputs(model, x, lengths), y)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            diverged = True
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done += 1
        if monitor is not None:
            monitor.step(step + 1)
        if on_step is not None:
            on_step(loss_value)
        if log is not None and (step % 25 == 0 or step == steps - 1):
            log({"loss/train": loss_value}, step)
        if log is not None and eval_every and (step + 1) % eval_every == 0 and step + 1 < steps:
            log({"eval/accuracy": evaluate(model, task)["accuracy"]}, step + 1)
    train_seconds = time.process_time() - start - probe_seconds()  # CPU seconds: robust to a shared machine
    metrics = evaluate(model, task)  # also after a divergence: whatever the model predicts is its score
    return {
        "accuracy": metrics["accuracy"],
        "test_loss": metrics["loss"],
        "final_train_loss": loss_value,
        "diverged": diverged,
        "train_seconds": train_seconds,
        "steps": done,
        "seconds_per_step": train_seconds / max(1, done),
    }
