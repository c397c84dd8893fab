"""Seeded initialisation: PyTorch's default Linear draw from a generator the caller owns."""

from __future__ import annotations

import torch
from torch import nn


def uniform_fan_in_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Every Linear of `net` (module order; weight, then bias) drawn from U(±1/√fan_in) with `generator`:
    PyTorch's default Linear distribution, reproducible from a per-seed generator."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                bound = 1 / m.in_features**0.5
                m.weight.uniform_(-bound, bound, generator=generator)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound, generator=generator)
    return net
