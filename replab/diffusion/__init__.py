"""Diffusion (seed003 Part A): noise schedules, ε-prediction training with latent self-conditioning,
DDPM/DDIM sampling, an EMA of weights, and sample metrics without Inception weights. The denoiser is
`replab.nn.rin.RIN`."""

from replab.diffusion.sampling import ddim_step, ddpm_step, sample, x0_from_eps
from replab.diffusion.schedules import gamma_cosine, gamma_linear, gamma_sigmoid, make_schedule, noisy
from replab.diffusion.training import EMA, diffusion_loss, step_cost

__all__ = [
    "EMA",
    "ddim_step",
    "ddpm_step",
    "diffusion_loss",
    "gamma_cosine",
    "gamma_linear",
    "gamma_sigmoid",
    "make_schedule",
    "noisy",
    "sample",
    "step_cost",
    "x0_from_eps",
]
