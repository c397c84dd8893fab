"""Layer normalisation insertion — the best intervention of Lyle et al. 2023 (seed002 §5.2, §5.4).

Every weight layer followed directly by an activation inside an `nn.Sequential` gets a normalisation of
its pre-activations: Linear → LayerNorm(out_features) → act; Conv2d → GroupNorm(1, C) → act, which is
layer norm over (C, H, W) with a per-channel gain and bias. The output layer (not followed by an
activation) is left alone.
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from torch import nn

ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Mish, nn.Softplus)


def _norm_for(layer: nn.Module, eps: float) -> nn.Module:
    w = layer.weight
    if isinstance(layer, nn.Linear):
        return nn.LayerNorm(layer.out_features, eps=eps, device=w.device, dtype=w.dtype)
    return nn.GroupNorm(1, layer.out_channels, eps=eps, device=w.device, dtype=w.dtype)


def _insert(seq: nn.Sequential, eps: float) -> int:
    items = list(seq._modules.items())
    numbered = all(k.isdigit() for k, _ in items)
    out, added = [], 0
    for i, (name, m) in enumerate(items):
        out.append((name, m))
        nxt = items[i + 1][1] if i + 1 < len(items) else None
        if isinstance(m, nn.Linear | nn.Conv2d) and isinstance(nxt, ACTIVATIONS):
            out.append((f"{name}_norm", _norm_for(m, eps)))
            added += 1
    if added:
        seq._modules = (
            OrderedDict((str(i), m) for i, (_, m) in enumerate(out)) if numbered else OrderedDict(out)
        )
    return added


def add_layernorm(model: nn.Module, *, inplace: bool = False, eps: float = 1e-5) -> nn.Module:
    """Return `model` with a layer norm inserted before every hidden activation (see module docstring).

    With `inplace=False` (default) a deep copy is changed and returned and `model` is untouched; with
    True `model` itself is changed. The network computes a different function afterwards (this is an
    architecture choice, not a function-preserving intervention) and has new parameters, so build the
    optimiser after calling it. Numbered `nn.Sequential`s are renumbered; named ones get `<name>_norm`.
    Raises ValueError if no weight layer followed by an activation is found inside an `nn.Sequential`.
    """
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    target = model if inplace else copy.deepcopy(model)
    added = sum(_insert(m, eps) for m in list(target.modules()) if isinstance(m, nn.Sequential))
    if not added:
        raise ValueError(
            "add_layernorm found no nn.Linear/nn.Conv2d followed directly by an activation inside an "
            "nn.Sequential; insert the normalisation by hand for this architecture"
        )
    return target
