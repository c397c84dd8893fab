"""ReDo: recycle dormant units (Sokar et al. 2023, "The dormant neuron phenomenon in deep RL", ICML).

A unit i of a layer is τ-dormant when its normalised score s_i = E_x|h_i(x)| / mean_k E_x|h_k(x)| ≤ τ
(eq. 1; `replab.probe.unit_scores`; a conv channel is one unit). ReDo re-initialises the unit's incoming
weights from the initialiser, sets its bias to 0 and zeroes its outgoing weights, so the network's output
is unchanged by a recycled dead unit (τ = 0; a τ-dormant unit with τ > 0 loses its small contribution); the optimiser moments of the recycled weights are zeroed (dopamine
`labs/redo/weight_recyclers.py`, `NeuronRecycler`; anchors §1.8).

Outgoing weights are found by data flow, not by the order of the layers: a unit's activation can feed
several weight layers (a dueling head's value and advantage streams; SAC's tied convs, read by the
critic's and the actor's heads) through reshapes (flatten, channels-last permutes, concatenation). Two
extra forward passes replace the activation by its unit indices (and the indices + K) and read which input
columns of which weight layers carry them; every weight layer's output is replayed from the clean pass, so
only direct paths count. A path through anything else (a normalisation after the activation) is refused.
Noisy linear layers (a mean and a noise scale per weight) are recycled in both.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from replab.intervene.layernorm import ACTIVATIONS
from replab.intervene.optim_state import zero_state_where
from replab.intervene.reset import reinitialize
from replab.probe.units import unit_scores

WEIGHT_LAYERS = (nn.Linear, nn.Conv2d)


def _noisy(m: nn.Module) -> bool:
    """A noisy linear layer (Fortunato et al. 2018; `replab.rl.qnet.NoisyLinear`), recognised by its
    parameters: weight_mu/weight_sigma (out, in), bias_mu/bias_sigma (out,)."""
    return hasattr(m, "weight_mu") and hasattr(m, "weight_sigma")


def is_weight_layer(m: nn.Module) -> bool:
    return isinstance(m, WEIGHT_LAYERS) or _noisy(m)


def _weights(m: nn.Module) -> list[torch.Tensor]:
    """The (out, in, ...) weight tensors of a layer: a noisy layer's mean and its noise scale."""
    return [m.weight_mu, m.weight_sigma] if _noisy(m) else [m.weight]


_CODE_OFFSET = 1024.0  # the second coded pass adds this: columns that moved by exactly it carry the code


@dataclass
class Recyclable:
    """A weight layer whose units can be recycled: its activations on the scoring inputs, and for each
    consumer (a weight layer reading those activations) the unit behind each of its input columns
    (conv consumers: input channels), -1 where a column does not come from this layer."""

    name: str
    activations: torch.Tensor
    consumers: dict[str, torch.Tensor]


def _forward(model: nn.Module, x) -> None:
    """`model(x)` (`model(*x)` for a tuple), or `x()` when x is a callable that runs the forward itself
    (an agent's passes over a batch)."""
    if callable(x) and not isinstance(x, torch.Tensor):
        x()
    elif isinstance(x, tuple):
        model(*x)
    else:
        model(x)


def _passes(model: nn.Module, x, replace: Callable | None = None):
    """One eval-mode, no-grad forward with hooks on every leaf module (mode and RNG state restored).

    Returns [(name, module, input, output)] per call, in call order. `replace(index, module, output)`
    may return a tensor that replaces a call's output."""
    calls: list = []
    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]

    def hook(mod, inputs, output, name):
        new = replace(len(calls), mod, output) if replace is not None else None
        inp = inputs[0].detach().clone() if inputs and torch.is_tensor(inputs[0]) else None
        calls.append((name, mod, inp, (output if new is None else new).detach().clone()))
        return new

    handles = [m.register_forward_hook(lambda mod, i, o, n=n: hook(mod, i, o, n)) for n, m in leaves]
    modes = {m: m.training for m in model.modules()}
    model.eval()
    devices = sorted({p.device.index for p in model.parameters() if p.device.type == "cuda"})
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            _forward(model, x)
    finally:
        for h in handles:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    return calls


def _column_units(layer: nn.Module, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor | None:
    """Unit index behind each input column (Linear) or channel (Conv2d) of `layer` from its inputs in the
    two coded passes; None when no column carries the code. Raises if a column carries it inexactly."""
    a, b = x0[0], x1[0]  # every example carries the same code
    if isinstance(layer, nn.Conv2d):  # (C, H, W): one unit per input channel, the same over space
        a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        if not (torch.equal(a, a[:, :1].expand_as(a)) and torch.equal(b, b[:, :1].expand_as(b))):
            return None if torch.equal(a, b) else _refuse()
        a, b = a[:, 0], b[:, 0]
    diff = b - a
    coded = diff == _CODE_OFFSET
    if not coded.any():
        return None
    if not torch.all(coded | (diff == 0)):
        _refuse()
    units = torch.full(a.shape, -1, dtype=torch.long, device=a.device)
    units[coded] = (a[coded] - 1).round().long()
    return units


def _refuse():
    raise ValueError(
        "redo found a unit's activation reaching a weight layer through more than reshapes (a normalisation "
        "or arithmetic after the activation): zeroing its outgoing weights would not keep the function"
    )


def recyclable_layers(model: nn.Module, x) -> list[Recyclable]:
    """Every weight layer of `model` whose units pass through an activation (directly, with no
    normalisation in between) and reach at least one other weight layer, with their consumers.

    `x`: the inputs to score the units on (`model(x)`; a tuple is unpacked), or a callable that runs the
    forward passes itself (e.g. an agent's critic and actor on one batch). The output layer has no
    consumers and is never recycled; frozen layers are not recycled, but their inputs count as consumers
    (an injected head's frozen old head and copy read the encoder's units)."""
    calls = _passes(model, x)
    # each weight-layer call → the first activation call before the next weight-layer call
    acts: dict[str, list[int]] = {}
    weight_calls = [i for i, c in enumerate(calls) if is_weight_layer(c[1])]
    for a, b in zip(weight_calls, weight_calls[1:] + [len(calls)]):
        if not _weights(calls[a][1])[0].requires_grad:
            continue  # a frozen layer (an injected network's old head or its copy) cannot relearn a unit
        between = calls[a + 1 : b]
        first = next((j for j, c in enumerate(between) if isinstance(c[1], ACTIVATIONS)), None)
        if first is None or any(_is_norm(c[1]) for c in between[:first]):
            continue  # no activation, or normalised before it: recycling would move its siblings
        acts.setdefault(calls[a][0], []).append(a + 1 + first)
    clean = {i: c[3] for i, c in enumerate(calls) if is_weight_layer(c[1])}
    out = []
    for name, indices in acts.items():
        coded = [_passes(model, x, _coder(set(indices), clean, offset)) for offset in (0.0, _CODE_OFFSET)]
        consumers: dict[str, torch.Tensor] = {}
        for (n, mod, x0, _), (_, _, x1, _) in zip(*coded):
            if not is_weight_layer(mod) or x0 is None:
                continue
            units = _column_units(mod, x0, x1)
            if units is not None:
                consumers.setdefault(n, units)
        if consumers:
            out.append(Recyclable(name, calls[indices[0]][3], consumers))
    return out


def _is_norm(m: nn.Module) -> bool:
    return isinstance(m, nn.LayerNorm | nn.GroupNorm | nn.modules.batchnorm._BatchNorm)


def _coder(indices: set[int], clean: dict[int, torch.Tensor], offset: float):
    """Replace the activation calls `indices` by unit codes (unit + 1 + offset) and every weight layer's
    output by its clean output (so codes travel only along direct paths)."""

    def replace(i, mod, output):
        if i in indices:
            shape = [1, output.shape[1]] + [1] * (output.dim() - 2)
            code = torch.arange(output.shape[1], dtype=output.dtype, device=output.device).view(shape)
            return (code + 1 + offset).expand_as(output).clone()
        if i in clean:
            return clean[i].clone()
        return None

    return replace


def _incoming_mask(weight: torch.Tensor, dead: torch.Tensor) -> torch.Tensor:
    """Boolean mask (weight's shape) of the rows of the dead units."""
    return dead.view(-1, *([1] * (weight.dim() - 1))).expand_as(weight)


def _outgoing_mask(weight: torch.Tensor, units: torch.Tensor, dead: torch.Tensor) -> torch.Tensor:
    """Boolean mask (weight's shape) of the input columns (channels) that carry a dead unit."""
    if units.numel() != weight.shape[1]:
        raise ValueError(f"a consumer has {weight.shape[1]} inputs but {units.numel()} were traced")
    cols = (units >= 0) & dead[units.clamp(min=0)]
    return cols.view(1, -1, *([1] * (weight.dim() - 2))).expand_as(weight)


def redo(
    model: nn.Module,
    x,
    tau: float = 0.1,
    *,
    layers: list[str] | None = None,
    optimizer=None,
    reset_optimizer_state: bool = True,
    generator: torch.Generator | None = None,
    init: Callable[[nn.Module], None] | None = None,
) -> dict[str, int]:
    """Recycle the τ-dormant units of `model`, measured on inputs `x`, in place; return {layer: number of
    units recycled}.

    `x` (B, ...) is passed to `model` (a tuple is unpacked), or is a callable running the forward passes
    (an agent's networks on one batch: shared layers then have every consumer found). τ defaults to 0.1,
    the paper's value for DQN on Atari [K: Sokar et al. 2023 §4; make sure for other agents]. `layers`
    restricts recycling to these weight layers (default: all with consumers). Units are scored on one
    eval-mode forward pass. Incoming weights come from the layer's default initialiser, or `init` (an
    agent's own; dopamine uses its networks' xavier-uniform initialiser), drawn from `generator`. With
    `optimizer` (one or several) and `reset_optimizer_state=True` (default, as dopamine) the moments of the
    recycled incoming and outgoing weights are zeroed (step counts and bias moments kept, as dopamine).
    """
    if tau < 0:
        raise ValueError(f"tau must be >= 0, got {tau}")
    found = recyclable_layers(model, x)
    if layers is not None:
        unknown = sorted(set(layers) - {r.name for r in found})
        if unknown:
            raise ValueError(f"layers {unknown} cannot be recycled; choose from {[r.name for r in found]}")
        found = [r for r in found if r.name in layers]
    counts, plan = {}, []
    for r in found:
        layer = model.get_submodule(r.name)
        units = _weights(layer)[0].shape[0]
        dead = (unit_scores(r.activations) <= tau).to(_weights(layer)[0].device)
        if dead.numel() != units:
            raise ValueError(f"{r.name} has {units} units but its activation has {dead.numel()}")
        counts[r.name] = int(dead.sum())
        if counts[r.name]:
            plan.append((layer, r, dead))
    # All incoming re-initialisations first, then all outgoing zeroings (dopamine's order), so a weight
    # between two recycled units ends at 0 and the network's function is unchanged. A noisy layer's
    # incoming rows re-draw both its mean and its noise scale, its mean bias is 0 and its bias noise scale
    # fresh; its outgoing columns are zeroed in both (the noise term then carries nothing either).
    with torch.no_grad():
        for layer, _, dead in plan:
            fresh = reinitialize(copy.deepcopy(layer), generator, init)
            for w, w_fresh in zip(_weights(layer), _weights(fresh)):
                mask = _incoming_mask(w, dead)
                w[mask] = w_fresh[mask]
                if reset_optimizer_state:
                    zero_state_where(optimizer, w, mask)
            if _noisy(layer):
                layer.bias_mu[dead] = 0
                layer.bias_sigma[dead] = fresh.bias_sigma[dead]
            elif layer.bias is not None:
                layer.bias[dead] = 0
        for _, r, dead in plan:
            for consumer, units in r.consumers.items():
                for w in _weights(model.get_submodule(consumer)):
                    mask = _outgoing_mask(w, units.to(dead.device), dead)
                    w[mask] = 0
                    if reset_optimizer_state:
                        zero_state_where(optimizer, w, mask)
    return counts
