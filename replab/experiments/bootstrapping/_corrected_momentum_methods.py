"""The methods of `corrected-momentum` (seed004 §S3): their names, each setting's model and each method's
optimizer (`replab.optim`: SGD, dampened momentum μ, μ̂ full/diag, the Adam-like variants, the oracle μ*,
Adam, and the per-layer correction of Fig 4.15). `cfg` is the experiment's resolved `Config`."""

from __future__ import annotations

import torch
from torch import nn

from replab.experiments.bootstrapping import _corrected_momentum_minatar as MA
from replab.experiments.bootstrapping import _corrected_momentum_tasks as T
from replab.optim import CorrectedMomentum, OracleMomentum
from replab.optim.corrected_momentum import layer_groups

LAYER_METHODS = ("bottom", "top", "ends")
"""Per-layer correction (Fig 4.15): the full μ̂ on the bottom `corrected_layers` Linear layers, the top
ones, or ⌈k/2⌉ bottom and ⌊k/2⌋ top layers ("both ends"); the other layers use `layer_rest`."""
METHODS = (
    "sgd",
    "momentum",
    "corrected",
    "corrected_diag",
    "oracle",
    "adam",
    "adaptive_diag",
    "adaptive_full",
    *LAYER_METHODS,
)
CORRECTED = ("corrected", "corrected_diag", "adaptive_diag", "adaptive_full", *LAYER_METHODS)


def value_net(cfg, seed: int, d_in: int = 2) -> nn.Sequential:
    """The MLP d_in → hidden × depth → 1 with LeakyReLU (§S3.3), PyTorch's default initialisation from `seed`."""
    return T.mlp(d_in, cfg.hidden, cfg.resolved().depth, seed)


def corrected_layer_set(method: str, k: int, n_layers: int) -> set[int]:
    """The Linear layers (0 = next to the input) a per-layer method corrects (Fig 4.15)."""
    if method == "bottom":
        return set(range(k))
    if method == "top":
        return set(range(n_layers - k, n_layers))
    if method == "ends":
        return set(range((k + 1) // 2)) | set(range(n_layers - k // 2, n_layers))
    raise ValueError(f"not a per-layer method: {method!r}, choose from {LAYER_METHODS}")


def model(cfg, seed: int, sigma2: float | None) -> tuple[nn.Module, str]:
    """The setting's model and the layer the health monitor reads."""
    if cfg.setting == "rbf":  # linear on fixed RBF features (thesis §4.3.3.5)
        net = nn.Sequential(T.RBFGrid(cfg.rbf_grid, sigma2), nn.Linear(cfg.rbf_grid**2, 1))
        return T.init_uniform(net, seed), "0"
    if cfg.setting == "minatar":  # the thesis's small conv model, scaled to 10 × 10 (§4.3.3.8)
        return MA.conv_value_net(MA.CHANNELS, cfg.hidden, cfg.depth, seed), str(2 * cfg.depth - 1)
    return value_net(cfg, seed, d_in=1 if cfg.setting == "sine" else 2), str(2 * cfg.depth - 1)


def optimizer(cfg, method: str, net: nn.Module):
    """The method's optimizer on `net` (the per-layer methods: one param group per Linear layer, in order)."""
    params = net.parameters()
    if method in LAYER_METHODS:  # one param group per Linear layer, in the model's order
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        chosen = corrected_layer_set(method, cfg.corrected_layers, len(linears))
        groups = layer_groups(linears, chosen, rest=cfg.layer_rest)
        return CorrectedMomentum(groups, cfg.lr, cfg.beta)
    if method == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr)
    if method == "adam":
        return torch.optim.Adam(params, lr=cfg.adam_lr, betas=(cfg.beta, 0.999))
    if method == "oracle":
        return OracleMomentum(params, cfg.lr, cfg.beta)
    correction = {"momentum": "none", "corrected": "full", "adaptive_full": "full"}.get(method, "diag")
    adaptive = method in ("adaptive_diag", "adaptive_full")
    lr = cfg.adam_lr if adaptive else cfg.lr
    return CorrectedMomentum(params, lr, cfg.beta, correction=correction, adaptive=adaptive)
