"""Keeping a torch optimiser consistent when an intervention replaces or re-initialises parameters.

Per-parameter state (Adam's `exp_avg`, `exp_avg_sq`, `step`; SGD's `momentum_buffer`) describes the old
values of a parameter; after a reset it can be kept (a flag of each intervention) or forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def forget_state(optimizer: torch.optim.Optimizer | None, params: Iterable[nn.Parameter]) -> None:
    """Drop all optimiser state of `params` (they restart like new parameters: Adam's step count at 0)."""
    if optimizer is None:
        return
    for p in params:
        optimizer.state.pop(p, None)


def forget_all_state(optimizer: torch.optim.Optimizer | None) -> None:
    if optimizer is not None:
        optimizer.state.clear()


def replace_params(
    optimizer: torch.optim.Optimizer | None, old: list[nn.Parameter], new: list[nn.Parameter]
) -> None:
    """Swap `old` for `new` parameters in `optimizer`: the new ones join the param group that held the
    first of the old ones (same learning rate etc.) with no state; the old ones leave with their state."""
    if optimizer is None:
        return
    old_ids = {id(p) for p in old}
    home = None
    for group in optimizer.param_groups:
        kept = [p for p in group["params"] if id(p) not in old_ids]
        if len(kept) != len(group["params"]) and home is None:
            home = group
        group["params"] = kept
    if home is None:
        raise ValueError("none of the replaced parameters is in the optimizer; pass the model's optimizer")
    home["params"].extend(new)
    forget_state(optimizer, old)


def zero_state_where(
    optimizer: torch.optim.Optimizer | None, param: nn.Parameter, mask: torch.Tensor
) -> None:
    """Zero the entries selected by boolean `mask` (param's shape) in every state tensor of `param` that
    has the parameter's shape (Adam's moments, SGD's momentum); scalar state such as Adam's step count is
    kept (as dopamine's ReDo keeps the optimiser's count)."""
    if optimizer is None or param not in optimizer.state:
        return
    for value in optimizer.state[param].values():
        if torch.is_tensor(value) and value.shape == param.shape:
            value.masked_fill_(mask.to(value.device), 0)
