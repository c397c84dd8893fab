"""Resets and shrink-and-perturb: re-initialising parameters, wholly or partly.

- `reset(module)`: every parameter of `module` re-drawn from its default initialiser — the head reset of
  Nikishin et al. 2022 ("The primacy bias in deep RL"), a comparison of plasticity injection (seed002 §2.2)
  and the "reset the last layer" intervention of Lyle et al. 2023 (§5.2).
- `shrink_perturb(model, shrink, noise)`: θ ← shrink·θ + noise·θ_fresh (Ash & Adams 2020, "On warm-starting
  neural network training"), one of the interventions compared by Lyle et al. 2023.
Both change the model in place and return it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from replab.intervene.optim_state import forget_all_state, forget_state

NOISE_SOURCES = ("init", "gaussian")


@contextmanager
def seeded(module: nn.Module, generator: torch.Generator | None) -> Iterator[None]:
    """Draw initialisations from `generator` (not the global RNG, which is restored) when one is given."""
    if generator is None:
        yield
        return
    devices = sorted({p.device.index for p in module.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
        yield


def reinitialize(
    module: nn.Module,
    generator: torch.Generator | None = None,
    init: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """Re-draw every parameter of `module` in place from its initialiser, drawing from `generator`.

    Each submodule's `reset_parameters()` runs first; then `init(submodule)` when given: the agent's or
    network's own initialiser (SAC's orthogonal / delta-orthogonal `weight_init`), which overrides the
    default for the layer types it knows and leaves the others (LayerNorm) at their default.
    Raises ValueError if a submodule owns parameters but has no `reset_parameters` (it could not be reset).
    """
    stuck = [
        name or type(m).__name__
        for name, m in module.named_modules()
        if any(True for _ in m.parameters(recurse=False)) and not hasattr(m, "reset_parameters")
    ]
    if stuck:
        raise ValueError(f"cannot re-initialise submodules without reset_parameters(): {stuck}")
    with seeded(module, generator), torch.no_grad():
        for m in module.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
            if init is not None:
                init(m)
    return module


def reset(
    module: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    reset_optimizer_state: bool = True,
    generator: torch.Generator | None = None,
    init: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """Re-initialise every parameter of `module` in place with its initialiser (`reinitialize`: the
    default one, or `init` — an agent's own); return it.

    Pass the sub-module to reset (`reset(qnet.head)`, `reset(model.head)`). Buffers with a reset (BatchNorm
    statistics) are reset too. With `optimizer` and `reset_optimizer_state=True` (default, as dopamine's
    `LayerReset` zeroes the Adam moments of reset layers) the state of the reset parameters is dropped;
    with False their moments are kept. The parameter tensors stay the same objects, so the optimiser keeps
    stepping them.
    """
    reinitialize(module, generator, init)
    if reset_optimizer_state:
        forget_state(optimizer, module.parameters())
    return module


def shrink_perturb(
    model: nn.Module,
    shrink: float,
    noise: float,
    *,
    noise_source: str = "init",
    optimizer: torch.optim.Optimizer | None = None,
    reset_optimizer_state: bool = False,
    generator: torch.Generator | None = None,
    init: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """θ ← shrink·θ + noise·ε for every trainable parameter, in place (Ash & Adams 2020); return `model`.

    `noise_source="init"` (default, Ash & Adams' code): ε is a fresh draw of the model's own initialiser,
    so the perturbation has each layer's initial scale (`init`: the agent's own initialiser); `"gaussian"`: ε ~ N(0, 1). Frozen parameters
    (`requires_grad=False`, e.g. an injected network's old head) are left alone. The optimiser state is
    kept by default (the parameters are moved, not replaced); `reset_optimizer_state=True` drops it all.
    """
    if not 0 <= shrink <= 1:
        raise ValueError(f"shrink must be in [0, 1], got {shrink}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    if noise_source not in NOISE_SOURCES:
        raise ValueError(f"noise_source must be one of {NOISE_SOURCES}, got {noise_source!r}")
    if noise_source == "init":
        fresh = reinitialize(copy.deepcopy(model), generator, init)
        eps = dict(fresh.named_parameters())
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if noise_source == "init":
                e = eps[name]
            else:
                e = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
            p.mul_(shrink).add_(noise * e)
    if reset_optimizer_state:
        forget_all_state(optimizer)
    return model
