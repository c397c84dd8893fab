"""Keep a diagnostic from changing the model: its mode, its buffers and the global random state.

Model-level probes (curvature, gradients) must run forward passes, sometimes in training mode, which
would update BatchNorm running statistics and advance the global torch RNG (dropout). `preserved`
snapshots all three and restores them afterwards (DESIGN §2 'Diagnostics ... never change the model').
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

# (outputs, targets) -> scalar mean loss, the loss convention of every model-level probe.
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@contextmanager
def preserved(model: nn.Module, train: bool) -> Iterator[nn.Module]:
    """Put `model` in train (or eval) mode; afterwards restore its mode, its buffers and the RNG state."""
    modes = {m: m.training for m in model.modules()}
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    devices = sorted({p.device.index for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        try:
            model.train(train)
            yield model
        finally:
            with torch.no_grad():
                for b, saved in buffers:
                    b.copy_(saved)
            for m, mode in modes.items():
                m.training = mode


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters a probe differentiates: those with `requires_grad` (frozen ones are constants)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (all have requires_grad=False)")
    return params
