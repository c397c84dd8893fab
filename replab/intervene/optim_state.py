"""Keeping torch optimisers consistent when an intervention replaces or re-initialises parameters.

Per-parameter state (Adam's `exp_avg`, `exp_avg_sq`, `step`; SGD's `momentum_buffer`) describes the old
values of a parameter; after a reset it can be kept (a flag of each intervention) or forgotten. Every
function takes one optimiser, a sequence of them (an agent's: SAC steps its critic encoder with two), or
None (nothing to do).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

Optimizers = torch.optim.Optimizer | Sequence[torch.optim.Optimizer] | None


def as_list(optimizer: Optimizers) -> list[torch.optim.Optimizer]:
    if optimizer is None:
        return []
    return [optimizer] if isinstance(optimizer, torch.optim.Optimizer) else list(optimizer)


def forget_state(optimizer: Optimizers, params: Iterable[nn.Parameter]) -> None:
    """Drop all optimiser state of `params` (they restart like new parameters: Adam's step count at 0)."""
    params = list(params)
    for opt in as_list(optimizer):
        for p in params:
            opt.state.pop(p, None)


def forget_all_state(optimizer: Optimizers) -> None:
    for opt in as_list(optimizer):
        opt.state.clear()


def replace_params(optimizer: Optimizers, old: list[nn.Parameter], new: list[nn.Parameter]) -> None:
    """Swap `old` for `new` parameters in each optimiser that holds any of `old`: the new ones join the
    param group that held the first of the old ones (same learning rate etc.) with no state; the old ones
    leave with their state."""
    opts = as_list(optimizer)
    if not opts:
        return
    old_ids, homes = {id(p) for p in old}, 0
    for opt in opts:
        home = None
        for group in opt.param_groups:
            kept = [p for p in group["params"] if id(p) not in old_ids]
            if len(kept) != len(group["params"]) and home is None:
                home = group
            group["params"] = kept
        if home is not None:
            home["params"].extend(new)
            homes += 1
        forget_state(opt, old)
    if not homes:
        raise ValueError("none of the replaced parameters is in the optimizer; pass the model's optimizer")


def set_params(optimizer: torch.optim.Optimizer, params: list[nn.Parameter]) -> None:
    """Make `optimizer` step exactly `params`: parameters it already holds stay in their param group with
    their state, new ones join the first group with no state, the others leave with their state."""
    want = {id(p): p for p in params}
    held = set()
    for group in optimizer.param_groups:
        group["params"] = [p for p in group["params"] if id(p) in want]
        held.update(id(p) for p in group["params"])
    optimizer.param_groups[0]["params"].extend(p for p in params if id(p) not in held)
    for p in [p for p in optimizer.state if id(p) not in want]:
        del optimizer.state[p]


def zero_state_where(optimizer: Optimizers, param: nn.Parameter, mask: torch.Tensor) -> None:
    """Zero the entries selected by boolean `mask` (param's shape) in every state tensor of `param` that
    has the parameter's shape (Adam's moments, SGD's momentum); scalar state such as Adam's step count is
    kept (as dopamine's ReDo keeps the optimiser's count)."""
    for opt in as_list(optimizer):
        if param not in opt.state:
            continue
        for value in opt.state[param].values():
            if torch.is_tensor(value) and value.shape == param.shape:
                value.masked_fill_(mask.to(value.device), 0)
