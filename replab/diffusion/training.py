"""ε-prediction training with latent self-conditioning (seed003 A.2.2, Algorithm 1) and an EMA of weights.

The denoiser is any module `model(x_t, t, y, prev_latents=None, latents_only=False) -> (eps_pred, latents)`
with a `latent_shape` attribute (`replab.nn.rin.RIN`; `latents_only` lets it skip what only eps_pred needs;
the bootstrap pass gives `prev_latents` as zeros of (1, 1, dim), which the model broadcasts over examples
and latents; a model with `embed(x_t, t, y)` and `forward(..., embedded=)` gets its input tokens computed
once for both passes).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from replab.diffusion.schedules import Schedule, noisy


def diffusion_loss(
    model: nn.Module,
    x0: torch.Tensor,
    y: torch.Tensor | None,
    *,
    gamma: Schedule,
    self_cond_rate: float = 0.9,
    input_scale: float = 1.0,
    generator: torch.Generator | None = None,
    context_frames: int = 0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The ℓ2 ε-prediction loss of seed003 A.2.2 (Alg. 1) on a batch x0 (B, C, H, W) in [−1, 1].

    t ~ U(0, 1) and ε ~ N(0, I) per example. With `self_cond_rate` > 0, a per-example coin (A.8: per
    example, not per batch) picks the examples whose latents come from a bootstrap pass under no_grad with
    zero previous latents; the others get zeros. Rate 0: the network is called with `prev_latents=None`
    (A.2.2: no self-conditioning at training or inference). Returns (loss, metrics).

    `context_frames` k > 0: conditional video prediction on x0 (B, T, C, H, W) (seed003 A.2.6): the first
    k frames enter the network without noise, and the loss is the mean over the T − k future frames only
    [ASSUMP, A.2.6] (the network's ε̂ on the context frames gets no gradient).
    """
    if not 0.0 <= self_cond_rate <= 1.0:
        raise ValueError(f"self_cond_rate must be in [0, 1], got {self_cond_rate}")
    if context_frames and (x0.ndim != 5 or not 0 < context_frames < x0.shape[1]):
        raise ValueError(
            f"context_frames={context_frames} needs a video batch (B, T, C, H, W) with T > context_frames, "
            f"got shape {tuple(x0.shape)}"
        )
    b, dev = x0.shape[0], x0.device
    t = torch.rand(b, generator=generator, device=dev)
    eps = torch.randn(x0.shape, generator=generator, device=dev)
    x_t = noisy(x0, eps, gamma(t).view(b, *[1] * (x0.ndim - 1)), input_scale)
    k = context_frames
    if k:  # A.2.6: the context frames are part of the input without noise
        x_t = torch.cat([x0[:, :k], x_t[:, k:]], dim=1)
    prev = None
    used = 0
    shared = {}  # a model with `embed` (the RIN): the input tokens of both passes, computed once
    if self_cond_rate > 0:
        coin = torch.rand(b, generator=generator, device=dev) < self_cond_rate
        prev = torch.zeros(b, *model.latent_shape, device=dev)
        used = int(coin.sum())
        if used and hasattr(model, "embed"):
            shared = {"embedded": model.embed(x_t, t, y)}  # with grad: the training pass uses it
        if used:
            with torch.no_grad():  # the bootstrap pass: no gradient, no backprop through time (A.2.2)
                idx = coin.nonzero()[:, 0]  # only the examples that use it: the others would be zeroed
                # its previous latents are zeros: one row broadcast over examples and latents, so the
                # self-conditioning MLP and LayerNorm run once, not per row (same values)
                zeros = prev.new_zeros(1, 1, prev.shape[-1])
                rows = {k: tuple(e[idx].detach() for e in v) for k, v in shared.items()}
                _, lat = model(
                    x_t[idx], t[idx], None if y is None else y[idx], prev_latents=zeros, latents_only=True,
                    **rows,
                )  # fmt: skip
            prev = prev.index_copy(0, idx, lat.detach())
    eps_pred, _ = model(x_t, t, y, prev_latents=prev, **shared)
    loss = F.mse_loss(eps_pred[:, k:], eps[:, k:])  # k = 0: every element
    return loss, {"loss/eps_mse": float(loss.detach()), "train/self_cond_fraction": used / b}


def step_cost(self_cond_rate: float) -> float:
    """Forward-pass equivalents of one training step per example: forward + backward (≈ 2 forwards) = 3,
    plus the bootstrap forward for a fraction `self_cond_rate` of the examples (A.2.2: < 25% extra time)."""
    return 3.0 + self_cond_rate


class EMA:
    """An exponential moving average of a model's floating-point parameters and buffers (seed003 A.4:
    EMA β 0.9999 for images; A.7: 0.999 for short CPU runs). `warmup` uses β_n = min(β, (1 + n)/(10 + n))
    at update n, so a short run's average is not dominated by the initial weights [ASSUMP; the thesis
    states a constant β]."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = False):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay, self.warmup, self.updates = decay, warmup, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def beta(self) -> float:
        if self.warmup:
            return min(self.decay, (1 + self.updates) / (10 + self.updates))
        return self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        beta = self.beta()
        ema = [t for t in self._tensors(self.model)]
        new = [t for t in self._tensors(model)]
        torch._foreach_lerp_(ema, new, 1.0 - beta)
        self.updates += 1

    @staticmethod
    def _tensors(model: nn.Module) -> list[torch.Tensor]:
        out = [p.data for p in model.parameters()]
        return out + [b for b in model.buffers() if b.is_floating_point()]

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.updates = int(state["updates"])
