"""Loss-sensitivity, a functional measure of memorization (seed004 §S1; Arpit et al. 2017, thesis §3.1).

Training with plain SGD on one example per step, θ_{t+1} = θ_t − α∇L(x_t; θ_t) (eq. 3.2), an example x_j
used at step j influences every later loss L_t = L(x_t; θ_t), t > j, through the updates. Its influence is
g^t_{x_j} = ‖∂L_t/∂x_j‖₁ (eq. 3.3), the L1 norm of the derivative with respect to the *input pixels*;
`loss_sensitivity` computes it over a window of K unrolled SGD steps, differentiating through the updates
(`create_graph=True`: a first-order unroll gives zero, §S1.7). Unrolling all T steps is out of reach, so a
truncated window is an approximation (§S1.6) and must be labelled as such. `SensitivityTracker` averages
g^t_x per example id over windows (ḡ_x, §S1.2 step 3); `gini` is eq. 3.4, `class_summary` the mean ḡ per
class of the example. (Eq. 3.5's class-by-class matrix, with the loss of each class i, is not implemented.)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from replab.probe.guard import preserved


def loss_sensitivity(
    model: nn.Module,
    xs: Tensor,
    ys: Tensor,
    lr: float,
    *,
    params: dict[str, Tensor] | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    """Unroll K = len(xs) SGD steps of batch size 1 from `params` (default: the model's) and return
    (S, the parameters after the K steps (detached), the K losses): S[t, j] = ‖∂L_t/∂x_j‖₁ for j < t
    (0 elsewhere), with L_t the loss of example t at θ_t, before its own update. The model is not changed."""
    if len(xs) != len(ys) or len(xs) < 1:
        raise ValueError(f"xs and ys must be non-empty and aligned, got {len(xs)} and {len(ys)}")
    base = params if params is not None else dict(model.named_parameters())
    p = {k: v.detach().clone().requires_grad_(True) for k, v in base.items()}
    buffers = dict(model.named_buffers())
    x = xs.detach().clone().requires_grad_(True)
    losses = []
    with torch.enable_grad():
        for t in range(len(x)):
            loss = loss_fn(functional_call(model, (p, buffers), (x[t : t + 1],)), ys[t : t + 1])
            losses.append(loss)
            grads = torch.autograd.grad(loss, list(p.values()), create_graph=True)
            p = {k: v - lr * g for (k, v), g in zip(p.items(), grads)}
        sens = torch.zeros(len(x), len(x), dtype=x.dtype)
        for t in range(1, len(x)):
            (gx,) = torch.autograd.grad(losses[t], x, retain_graph=t < len(x) - 1)
            sens[t, :t] = gx[:t].detach().abs().flatten(1).sum(1)
    return sens, {k: v.detach() for k, v in p.items()}, torch.stack([v.detach() for v in losses])


class SensitivityTracker:
    """Running mean ḡ_x of g^t_x per example id over windows (§S1.2 step 3)."""

    def __init__(self, n_examples: int):
        self.total = np.zeros(n_examples)
        self.count = np.zeros(n_examples, dtype=np.int64)

    def add(self, sens: Tensor, ids) -> None:
        """Add a window's S (from `loss_sensitivity`) whose step j used example `ids[j]`."""
        s, ids = sens.numpy(), np.asarray(ids)
        for j in range(len(ids) - 1):  # the last step influences nothing inside its window
            self.total[ids[j]] += s[j + 1 :, j].sum()
            self.count[ids[j]] += len(ids) - 1 - j

    def mean(self) -> np.ndarray:
        """ḡ_x per example (0 for an example never measured)."""
        return np.divide(self.total, self.count, out=np.zeros_like(self.total), where=self.count > 0)


def gini(values) -> float:
    """Gini coefficient (eq. 3.4) of nonnegative values: Σ_i Σ_j |p_i − p_j| / (2 N Σ_i p_i), all pairs;
    0 when all are equal, (N − 1)/N when one holds everything; NaN when they sum to 0."""
    p = np.asarray(values, dtype=np.float64).ravel()
    if (p < 0).any():
        raise ValueError("gini needs nonnegative values")
    if p.sum() == 0:
        return float("nan")
    return float(np.abs(p[:, None] - p[None, :]).sum() / (2 * len(p) * p.sum()))


def class_summary(values, labels, n_classes: int) -> np.ndarray:
    """Mean ḡ of the examples of each class (NaN for a class without examples)."""
    v, y = np.asarray(values, dtype=np.float64), np.asarray(labels)
    return np.array([v[y == c].mean() if (y == c).any() else np.nan for c in range(n_classes)])


def sensitivity_gini(
    model: nn.Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    y: Tensor,
    *,
    lr: float = 0.01,
    examples: int = 16,
) -> float:
    """The health Monitor's memorisation probe (issue 23): Gini (eq. 3.4) of ḡ_x over one window of
    `examples` unrolled SGD steps of batch 1 on the first examples of (x, y), from the model's current
    parameters in eval mode (model, mode, buffers and RNG unchanged). A truncated window (§S1.6): a
    trend to watch during training, not the thesis's full-run ḡ."""
    if examples < 2:
        raise ValueError(f"examples must be >= 2 (the first step influences the second), got {examples}")
    n = min(examples, len(x))
    with preserved(model, False):
        sens, _, _ = loss_sensitivity(model, x[:n], y[:n], lr, loss_fn=loss_fn)
    tracker = SensitivityTracker(n)
    tracker.add(sens, range(n))
    return gini(tracker.mean()[: n - 1])  # the last example influences nothing inside the window
