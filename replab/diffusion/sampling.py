"""Reverse-process sampling: DDIM and DDPM steps (seed003 A.2.5, Algorithm 5) driven by Algorithm 2.

The network predicts ε; each step converts it to x̂₀, clips x̂₀ to [−scale, scale] and recomputes ε from
the clipped x̂₀ (A.8: essential at t ≈ 1, where sqrt(γ) ≈ 1e-4 blows x̂₀ up).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from replab.diffusion.schedules import Schedule

SAMPLERS = ("ddpm", "ddim")


def x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, gamma_now: torch.Tensor) -> torch.Tensor:
    """x̂₀ = (x_t − sqrt(1 − γ) ε) / sqrt(γ) (seed003 A.2.3)."""
    return (x_t - (1 - gamma_now).sqrt() * eps) / gamma_now.sqrt()


def ddim_step(x_t, x_pred, gamma_now, gamma_next, scale: float = 1.0):
    """seed003 A.2.5 (Alg. 5): clip x̂₀, recompute ε, move deterministically to γ_next."""
    x_pred = x_pred.clamp(-scale, scale)
    eps = (x_t - gamma_now.sqrt() * x_pred) / (1 - gamma_now).sqrt()
    return gamma_next.sqrt() * x_pred + (1 - gamma_next).sqrt() * eps


def ddpm_step(x_t, x_pred, gamma_now, gamma_next, scale: float = 1.0, generator=None):
    """seed003 A.2.5 (Alg. 5, OCR repaired): α = γ_now / γ_next, σ = sqrt(1 − α), ancestral noise."""
    alpha = gamma_now / gamma_next
    sigma = (1 - alpha).sqrt()
    z = torch.randn(x_t.shape, generator=generator, device=x_t.device)
    x_pred = x_pred.clamp(-scale, scale)
    eps = (x_t - gamma_now.sqrt() * x_pred) / (1 - gamma_now).sqrt()
    return (x_t - (1 - alpha) / (1 - gamma_now).sqrt() * eps) / alpha.sqrt() + sigma * z


@torch.no_grad()
def sample(
    model: nn.Module,
    n: int,
    *,
    gamma: Schedule,
    steps: int = 100,
    sampler: str = "ddpm",
    y: torch.Tensor | None = None,
    self_condition: bool = True,
    scale: float = 1.0,
    input_scale: float = 1.0,
    generator: torch.Generator | None = None,
    device: str | torch.device | None = None,
    context: torch.Tensor | None = None,
    on_step: Callable[[int, float, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Draw n samples (n, C, H, W) by Algorithm 2 (seed003 A.2.3) with `steps` reverse steps.

    `self_condition`: carry the latents over from step to step, starting from zeros (a model trained with
    rate > 0); False calls the network with `prev_latents=None` (a rate-0 model; A.8: zeros ≠ None).
    `scale`: the x̂₀ clip range (1 for data in [−1, 1]). `input_scale` b: the chain runs on b·x0 and the
    network sees x_t / sqrt(b²γ + 1 − γ) (A.2.1); the result is divided by b. `on_step(step, t, x_t)` is
    called after each network evaluation (e.g. to read `model.read_attention`). `device`: where x_t is drawn
    (None: the device of the model's parameters, the CPU for a model without any; `generator` must live
    there too).

    `context` (n, k, C, H, W): conditional video prediction (seed003 A.2.6) for a video model
    (`model.data_shape` = (T, C, H, W)): the first k frames are the given clean frames, overwritten with
    them before every network evaluation (the network sees them un-noised, as in training) and in the
    result, so only the T − k future frames are generated [ASSUMP, A.2.6].
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler '{sampler}', choose from {SAMPLERS}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if device is None:  # where the model lives (a CUDA model samples on CUDA without being told)
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    shape = (n, *model.data_shape)
    x_t = torch.randn(shape, generator=generator, device=device)
    k = 0
    if context is not None:
        k = context.shape[1] if context.ndim == 5 else -1
        if len(shape) != 5 or k < 1 or k >= shape[1] or tuple(context.shape) != (n, k, *shape[2:]):
            raise ValueError(
                f"context must be (n, k, C, H, W) = ({n}, k < {shape[1] if len(shape) == 5 else '?'}, "
                f"{', '.join(map(str, shape[2:]))}) for a video model, got {tuple(context.shape)}"
            )
        context = context.to(device)
        x_t[:, :k] = context * input_scale  # the chain runs on b · x0 (A.2.1)
    latents = torch.zeros(n, *model.latent_shape, device=device) if self_condition else None
    for step in range(steps):
        t = 1 - step / steps
        t_next = max(1 - (step + 1) / steps, 0.0)
        g_now = gamma(torch.tensor(t, device=device))
        g_next = gamma(torch.tensor(t_next, device=device))
        inp = x_t if input_scale == 1.0 else x_t / (input_scale**2 * g_now + 1 - g_now).sqrt()
        if k:  # A.2.6: the context is held fixed and clean (the network's input scale of clean data is x0)
            inp = inp.clone()
            inp[:, :k] = context
        eps, new_latents = model(inp, torch.full((n,), t, device=device), y, prev_latents=latents)
        if self_condition:
            latents = new_latents
        if on_step is not None:
            on_step(step, t, x_t)
        x_pred = x0_from_eps(x_t, eps, g_now)
        if sampler == "ddim":
            x_t = ddim_step(x_t, x_pred, g_now, g_next, scale * input_scale)
        else:
            x_t = ddpm_step(x_t, x_pred, g_now, g_next, scale * input_scale, generator)
        if k:
            x_t[:, :k] = context * input_scale
    out = x_t / input_scale
    if k:  # exactly the given frames, not (context · b) / b
        out[:, :k] = context
    return out  # seed003 A.2.3 [FIX]: return after the loop
