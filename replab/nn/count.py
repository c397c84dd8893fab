"""Parameter and multiply-add counts of any model, without running it for real.

Convention (seed001 §4.3, reproducing BoTNet Table 5.1): count the multiply-adds of convolutions and
linear layers (the classifier included) and of any module defining `macs(input) -> int` (MHSA: q kᵀ,
attn·v and the position logits); batch norm, activations and pooling are free. The forward pass runs
on PyTorch's `meta` device, so a ResNet-152 at 1024×1024 is counted in well under a second.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Counts:
    """params: all parameters; macs: multiply-adds for one sample; by_kind: macs per module type;
    position_params: parameters of BoT relative/absolute position tables (included in params)."""

    params: int
    macs: int
    by_kind: dict[str, int] = field(default_factory=dict)
    position_params: int = 0


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def position_params(model: nn.Module) -> int:
    """Parameters of MHSA position tables (names rel_h, rel_w, emb_h, emb_w)."""
    names = ("rel_h", "rel_w", "emb_h", "emb_w")
    return sum(p.numel() for n, p in model.named_parameters() if n.rsplit(".", 1)[-1] in names)


def count(model: nn.Module, input_shape: tuple[int, ...]) -> Counts:
    """Counts of `model` for one input of `input_shape` (C, H, W) (no batch dimension).

    The model is not changed: a meta-device copy runs the forward (a model already on `meta` is used as is).
    """
    meta = model if _is_meta(model) else copy.deepcopy(model).to("meta")
    by_kind: dict[str, int] = {}

    def add(kind: str, n: int) -> None:
        by_kind[kind] = by_kind.get(kind, 0) + int(n)

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            add("conv", output[0].numel() * (module.in_channels // module.groups) * kh * kw)
        elif isinstance(module, nn.Linear):
            add("linear", output[0].numel() * module.in_features)
        if callable(getattr(module, "macs", None)):
            add(type(module).__name__.lower(), module.macs(inputs[0]))

    handles = [m.register_forward_hook(hook) for m in meta.modules()]
    was_training = meta.training
    try:
        meta.eval()
        with torch.no_grad():
            meta(torch.empty((1, *input_shape), device="meta"))
    finally:
        for h in handles:
            h.remove()
        meta.train(was_training)
    return Counts(count_params(model), sum(by_kind.values()), by_kind, position_params(model))


def _is_meta(model: nn.Module) -> bool:
    p = next(iter(model.parameters()), None)
    return p is not None and p.device.type == "meta"
