"""Parameter and multiply-add counts of any model, without running it for real.

Convention (seed001 §4.3, reproducing BoTNet Table 5.1): count the multiply-adds of convolutions and
linear layers (the classifier included) and of any module defining `macs(input) -> int` (MHSA: q kᵀ,
attn·v and the position logits); batch norm, activations and pooling are free. The forward pass runs
on PyTorch's `meta` device, so a ResNet-152 at 1024×1024 is counted in well under a second.

FLOPs (seed002 §3.6, §7.2: NEVIS's `ResourceUsage.floating_point_operations`) are 2 per multiply-add —
conv: 2·k²·C_in·C_out·H_out·W_out, linear: 2·C_in·C_out — the convention of `torch.utils.flop_counter`,
which `tests/continual/test_flop_count.py` checks this counter against. A training step costs about 3× its
forward FLOPs per example (forward + backward, PRUNE §3.2 [K]): `train_flops`.
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

    @property
    def flops(self) -> int:
        """Forward FLOPs for one sample: 2 per multiply-add."""
        return 2 * self.macs


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def position_params(model: nn.Module) -> int:
    """Parameters of MHSA position tables (names rel_h, rel_w, emb_h, emb_w)."""
    names = ("rel_h", "rel_w", "emb_h", "emb_w")
    return sum(p.numel() for n, p in model.named_parameters() if n.rsplit(".", 1)[-1] in names)


def count(model: nn.Module, input_shape: tuple[int, ...]) -> Counts:
    """Counts of `model` for one input of `input_shape` (C, H, W) (no batch dimension).

    The model is not changed: a meta-device copy runs the forward (a model already on `meta` is used as is;
    one that cannot be copied, e.g. with pruning masks, runs one eval-mode forward on zeros, mode restored).
    """
    meta = model if _is_meta(model) else _meta_copy(model)
    device = "meta"
    if meta is None:  # a model that cannot be copied runs itself once, in eval mode, on zeros
        meta, device = model, next(iter(model.parameters())).device
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
            meta(torch.zeros((1, *input_shape), device=device))
    finally:
        for h in handles:
            h.remove()
        meta.train(was_training)
    return Counts(count_params(model), sum(by_kind.values()), by_kind, position_params(model))


def _meta_copy(model: nn.Module) -> nn.Module | None:
    """A meta-device copy, or None when the model cannot be deep-copied (`torch.nn.utils.prune` masks: the
    masked weight is a computed tensor, which `deepcopy` refuses)."""
    try:
        return copy.deepcopy(model).to("meta")
    except RuntimeError:
        return None


def _is_meta(model: nn.Module) -> bool:
    p = next(iter(model.parameters()), None)
    return p is not None and p.device.type == "meta"


TRAIN_FACTOR = 3
"""Training FLOPs per example = TRAIN_FACTOR × forward FLOPs (forward + backward ≈ 2× forward; PRUNE §3.2 [K])."""


def conv2d_flops(
    c_in: int, c_out: int, kernel: int | tuple[int, int], out_hw: tuple[int, int], groups: int = 1
) -> int:
    """Hand formula of a conv's forward FLOPs (bias adds not counted): 2·k_h·k_w·(C_in/groups)·C_out·H_out·W_out."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return 2 * kh * kw * (c_in // groups) * c_out * out_hw[0] * out_hw[1]


def linear_flops(c_in: int, c_out: int) -> int:
    """Hand formula of a linear layer's forward FLOPs (bias adds not counted): 2·C_in·C_out."""
    return 2 * c_in * c_out


def flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs of `model` for one input of `input_shape` (C, H, W): 2 × `count(...).macs`."""
    return count(model, input_shape).flops


def train_flops(model: nn.Module, input_shape: tuple[int, ...], examples: int) -> int:
    """FLOPs of training on `examples` examples (forward + backward): TRAIN_FACTOR × forward FLOPs each."""
    if examples < 0:
        raise ValueError(f"examples must be >= 0, got {examples}")
    return TRAIN_FACTOR * flops(model, input_shape) * int(examples)
