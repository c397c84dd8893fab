"""ReDo: recycle dormant units (Sokar et al. 2023, "The dormant neuron phenomenon in deep RL", ICML).

A unit i of a layer is τ-dormant when its normalised score s_i = E_x|h_i(x)| / mean_k E_x|h_k(x)| ≤ τ
(eq. 1; `replab.probe.unit_scores`; a conv channel is one unit). ReDo re-initialises the unit's incoming
weights from the initialiser, sets its bias to 0 and zeroes its outgoing weights, so the network's output
is unchanged by the recycled unit; the optimiser moments of the recycled weights are zeroed (dopamine
`labs/redo/weight_recyclers.py`, `NeuronRecycler`; anchors §1.8).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from replab.intervene.inject import InjectedHead
from replab.intervene.layernorm import ACTIVATIONS
from replab.intervene.optim_state import zero_state_where
from replab.intervene.reset import reinitialize
from replab.probe.units import unit_scores

WEIGHT_LAYERS = (nn.Linear, nn.Conv2d)


def _trace(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Leaf modules in call order with their outputs, from one eval-mode forward pass (mode restored)."""
    calls = []
    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    hooks = [
        m.register_forward_hook(lambda mod, i, o, n=n: calls.append((n, mod, o.detach()))) for n, m in leaves
    ]
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return calls


def recyclable_layers(model: nn.Module, x: torch.Tensor) -> list[tuple[str, str, torch.Tensor]]:
    """(layer, next layer, activations) for each weight layer whose activation feeds the next weight
    layer in call order; the last weight layer (the output) has no outgoing weights and is never recycled."""
    if any(isinstance(m, InjectedHead) for m in model.modules()):
        raise ValueError("redo does not support injected heads (their units feed three heads)")
    calls = _trace(model, x)
    names = [n for n, _, _ in calls]
    if len(set(names)) != len(names):
        raise ValueError("redo needs a feed-forward network in which every module is called once")
    out = []
    weight_idx = [i for i, (_, m, _) in enumerate(calls) if isinstance(m, WEIGHT_LAYERS)]
    for a, b in zip(weight_idx[:-1], weight_idx[1:]):
        acts = [o for _, m, o in calls[a + 1 : b] if isinstance(m, ACTIVATIONS)]
        if acts:
            out.append((calls[a][0], calls[b][0], acts[0]))
    return out


def _unit_mask(weight: torch.Tensor, dead: torch.Tensor, incoming: bool) -> torch.Tensor:
    """Boolean mask (weight's shape) of the rows (incoming) or columns (outgoing) of the dead units.

    An outgoing Linear after a flattened conv has C·k inputs; PyTorch flattens (C, H, W) channel-major,
    so unit c owns the contiguous columns c·k … (c+1)·k − 1 (dopamine repeats the mask the same way)."""
    if incoming:
        return dead.view(-1, *([1] * (weight.dim() - 1))).expand_as(weight)
    per_unit = weight.shape[1] // dead.numel()
    if per_unit * dead.numel() != weight.shape[1]:
        raise ValueError(
            f"outgoing layer has {weight.shape[1]} inputs, not a multiple of {dead.numel()} units"
        )
    cols = dead.repeat_interleave(per_unit)
    return cols.view(1, -1, *([1] * (weight.dim() - 2))).expand_as(weight)


def redo(
    model: nn.Module,
    x: torch.Tensor,
    tau: float = 0.1,
    *,
    layers: list[str] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    reset_optimizer_state: bool = True,
    generator: torch.Generator | None = None,
) -> dict[str, int]:
    """Recycle the τ-dormant units of `model`, measured on inputs `x` (B, ...), in place; return
    {layer: number of units recycled}.

    τ defaults to 0.1, the paper's value for DQN on Atari [K: Sokar et al. 2023 §4; make sure for other
    agents]. `layers` restricts recycling to these weight layers (default: all but the output layer).
    Units are scored on one eval-mode forward pass of `x`. Incoming weights come from the layer's own
    default initialiser (dopamine uses its networks' xavier-uniform initialiser) drawn from `generator`.
    With `optimizer` and `reset_optimizer_state=True` (default, as dopamine) the moments of the
    recycled incoming and outgoing weights are zeroed (step counts and bias moments kept, as dopamine).
    Supports feed-forward chains (MLPs, CNNs, a Q-network's encoder + head) of Linear/Conv2d layers whose
    units reach the next weight layer through element-wise ops, norms, pooling or flatten.
    """
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    found = recyclable_layers(model, x)
    if layers is not None:
        unknown = sorted(set(layers) - {a for a, _, _ in found})
        if unknown:
            raise ValueError(f"layers {unknown} cannot be recycled; choose from {[a for a, _, _ in found]}")
        found = [f for f in found if f[0] in layers]
    counts, plan = {}, []
    for name, next_name, acts in found:
        layer, nxt = model.get_submodule(name), model.get_submodule(next_name)
        dead = (unit_scores(acts) <= tau).to(layer.weight.device)
        if dead.numel() != layer.weight.shape[0]:
            raise ValueError(
                f"{name} has {layer.weight.shape[0]} units but its activation has {dead.numel()}"
            )
        counts[name] = int(dead.sum())
        if counts[name]:
            plan.append((layer, nxt, dead))
    # All incoming re-initialisations first, then all outgoing zeroings (dopamine's order), so a weight
    # between two recycled units ends at 0 and the network's function is unchanged.
    with torch.no_grad():
        for layer, _, dead in plan:
            fresh = reinitialize(copy.deepcopy(layer), generator)
            mask = _unit_mask(layer.weight, dead, True)
            layer.weight[mask] = fresh.weight[mask]
            if layer.bias is not None:
                layer.bias[dead] = 0
            if reset_optimizer_state:
                zero_state_where(optimizer, layer.weight, mask)
        for _, nxt, dead in plan:
            mask = _unit_mask(nxt.weight, dead, False)
            nxt.weight[mask] = 0
            if reset_optimizer_state:
                zero_state_where(optimizer, nxt.weight, mask)
    return counts
