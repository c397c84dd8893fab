"""Plasticity injection (Nikishin et al. 2023, "Deep RL with plasticity injection"; seed002 §2.2).

A network φ → h_θ becomes  Q(x) = h_θ(φ(x)) + h_θ'₁(φ(x)) − h_θ'₂(φ(x))  with θ frozen, θ'₁ = θ'₂ = θ' a
fresh initialisation, θ'₁ trained and θ'₂ frozen. The encoder φ keeps learning through all three heads.
At injection h_θ'₁ − h_θ'₂ ≡ 0, so predictions are unchanged, and the trainable parameter count stays
|φ| + |θ| (unless the fresh head is wider: "growth", §2.2 comparisons).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from replab.intervene.optim_state import forget_all_state, replace_params
from replab.intervene.reset import reinitialize


def freeze(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class InjectedHead(nn.Module):
    """h_θ(z) + (h_θ'₁(z) − h_θ'₂(z)) with `old` = h_θ and `fresh_copy` = h_θ'₂ frozen, `fresh` = h_θ'₁ trained.

    The fresh difference is computed first and then added: two identical deterministic forward passes give
    exactly 0, so the output equals `old(z)` bit for bit at injection (the other order, (a + b) − b, would
    round). Input z (B, ...) → output of the old head's shape.
    """

    def __init__(self, old: nn.Module, fresh: nn.Module):
        super().__init__()
        self.old = freeze(old)
        self.fresh = fresh
        self.fresh_copy = freeze(copy.deepcopy(fresh))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.old(z) + (self.fresh(z) - self.fresh_copy(z))


def get_submodule_parent(model: nn.Module, path: str) -> tuple[nn.Module, str]:
    """(parent, attribute) of the dotted submodule `path` of `model` ('head', 'q.head')."""
    names = dict(model.named_modules())
    if path not in names or path == "":
        heads = [n for n in names if n and "." not in n]
        raise ValueError(f"model has no submodule {path!r}; its top-level submodules are {heads}")
    parent_path, _, attr = path.rpartition(".")
    return model.get_submodule(parent_path) if parent_path else model, attr


def widen(head: nn.Module, factor: float) -> nn.Module:
    """A new, freshly initialised copy of an MLP head (nn.Sequential of nn.Linear and parameter-free
    modules) whose hidden widths are multiplied by `factor`; input and output sizes are kept."""
    if factor <= 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    children = list(head.children()) if isinstance(head, nn.Sequential) else [head]
    linears = [m for m in children if isinstance(m, nn.Linear)]
    others = [m for m in children if not isinstance(m, nn.Linear) and any(True for _ in m.parameters())]
    if len(linears) < 2 or others:
        raise ValueError(
            "widen needs an nn.Sequential head with >= 2 nn.Linear layers and only parameter-free modules "
            f"besides (got {type(head).__name__}); pass fresh=... to inject_plasticity instead"
        )
    layers, last, width_in = [], linears[-1], None
    for m in children:
        if isinstance(m, nn.Linear):
            d_in = m.in_features if width_in is None else width_in
            d_out = m.out_features if m is last else max(1, round(m.out_features * factor))
            w = m.weight
            layers.append(nn.Linear(d_in, d_out, bias=m.bias is not None, device=w.device, dtype=w.dtype))
            width_in = d_out
        else:
            layers.append(copy.deepcopy(m))
    return nn.Sequential(*layers)


def inject_plasticity(
    model: nn.Module,
    head: str = "head",
    *,
    grow: float = 1.0,
    fresh: nn.Module | Callable[[], nn.Module] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    reset_optimizer_state: bool = False,
    generator: torch.Generator | None = None,
    init: Callable[[nn.Module], None] | None = None,
) -> nn.Module:
    """Inject plasticity into `model.<head>` in place and return `model` (Nikishin et al. 2023 §3).

    The submodule at `head` (dotted path; a Q-network `encoder + head` passes "head") is replaced by an
    `InjectedHead`: the old head frozen, plus a fresh head θ'₁ (trained) minus its frozen copy θ'₂.
    The fresh head is the old head's architecture re-initialised from `generator` (`grow=1`), the same
    MLP with hidden widths × `grow` (growth: `widen`, or the head's own `widen(factor)` method when it
    has one), or `fresh` (a module or a factory); re-drawn with `init` (an agent's own initialiser)
    when given. Injecting into an
    already injected head uses its fresh head's architecture.

    Optimiser (`optimizer` given): the old head's parameters leave it (they are frozen) and θ'₁'s join
    the same param group with empty state, like new parameters; the encoder's moments are kept — the
    default of the PyTorch port, which reports that the paper found resetting optimiser state hurts
    (seed002 §2.2) — or all dropped with `reset_optimizer_state=True`. Without `optimizer`, add
    `model.<head>.fresh.parameters()` to yours. Heads with noisy layers (anything with `reset_noise`) are
    refused: the fresh head and its frozen copy would draw different noise. Target networks must be re-synced after injection
    (`replab.intervene.mirror`), since their structure changes.
    """
    parent, attr = get_submodule_parent(model, head)
    old = getattr(parent, attr)
    old_trainable = [p for p in old.parameters() if p.requires_grad]
    template = old.fresh if isinstance(old, InjectedHead) else old
    noisy = [n or type(m).__name__ for n, m in template.named_modules() if hasattr(m, "reset_noise")]
    if noisy and fresh is None:
        # h_θ'₁ and its copy h_θ'₂ would draw different noise: Q changes at injection in training mode
        raise ValueError(
            f"cannot inject into a head with noisy layers {noisy}: the fresh head and its frozen copy would "
            "sample different noise, so outputs would change; use a head without noisy layers (Double DQN, "
            "seed002 §2.6) or pass fresh=... explicitly"
        )
    if fresh is not None:
        new = fresh() if callable(fresh) and not isinstance(fresh, nn.Module) else fresh
        if grow != 1.0:
            raise ValueError(f"pass either fresh or grow, not both (grow={grow})")
    elif grow != 1.0:
        # a head class may know how to widen itself (e.g. a dueling Q head): `head.widen(factor)`
        wide = template.widen(grow) if hasattr(template, "widen") else widen(template, grow)
        new = reinitialize(wide, generator, init)
    else:
        new = reinitialize(copy.deepcopy(template), generator, init)
        for p in new.parameters():
            p.requires_grad_(True)
    ref = next(template.parameters(), None)
    if ref is not None:  # a widened or user-built head lives where the old one does
        new = new.to(device=ref.device, dtype=ref.dtype)
    injected = InjectedHead(old, new)
    injected.train(old.training)
    setattr(parent, attr, injected)
    if optimizer is not None:
        replace_params(optimizer, old_trainable, list(new.parameters()))
        if reset_optimizer_state:
            forget_all_state(optimizer)
    return model
