"""Seeded initialisation: PyTorch's default Linear and Conv2d draw from a generator the caller owns."""

from __future__ import annotations

import torch
from torch import nn


def uniform_fan_in_(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Every Linear and Conv2d of `net` (module order; weight, then bias) drawn from U(±1/√fan_in) with
    `generator`, fan_in = in_features (Linear) or in_channels/groups · kh · kw (Conv2d): PyTorch's default
    distribution of both (kaiming_uniform(a=√5) is that bound), reproducible from a per-seed generator."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Linear):
                bound = 1 / m.in_features**0.5
            elif isinstance(m, nn.Conv2d):
                bound = 1 / (m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]) ** 0.5
            else:
                continue
            m.weight.uniform_(-bound, bound, generator=generator)
            if m.bias is not None:
                m.bias.uniform_(-bound, bound, generator=generator)
    return net
