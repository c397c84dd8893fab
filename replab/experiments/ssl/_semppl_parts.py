"""Networks and augmentations of the SemPPL experiment (seed002 §6.6): a small CNN encoder, BYOL-style
projector/predictor MLPs, an EMA target network, and the digit augmentations."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from replab.augment import random_cutout, random_shift


class SmallCNN(nn.Module):
    """2 convs + MLP (seed002 §6.6): conv3×3(C→32) → ReLU → conv3×3 stride 2 (32→64) → ReLU → flatten →
    Linear(→`dim`) → ReLU. (B, C, S, S) → (B, dim)."""

    def __init__(self, channels: int, size: int, dim: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * ((size + 1) // 2) ** 2, dim),
            nn.ReLU(),
        )
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """BYOL's projector/predictor: Linear → BatchNorm → ReLU → Linear."""
    return nn.Sequential(nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, d_out))


class SemPPLNet(nn.Module):
    """Online encoder f, projector g, predictor q, and the target network (f_ξ, g_ξ), an EMA of (f, g)."""

    def __init__(self, channels: int, size: int, dim: int = 128, proj: int = 64, hidden: int = 256):
        super().__init__()
        self.encoder = SmallCNN(channels, size, dim)
        self.projector = mlp(dim, hidden, proj)
        self.predictor = mlp(proj, hidden, proj)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        self.target_projector = copy.deepcopy(self.projector).requires_grad_(False)

    def online(self, x: Tensor) -> Tensor:
        """q(g(f(x))) (B, proj)."""
        return self.predictor(self.projector(self.encoder(x)))

    @torch.no_grad()
    def target(self, x: Tensor) -> Tensor:
        """g_ξ(f_ξ(x)) (B, proj), without gradients (the target network is only averaged)."""
        return self.target_projector(self.target_encoder(x))

    @torch.no_grad()
    def update_target(self, decay: float) -> None:
        for online, target in ((self.encoder, self.target_encoder), (self.projector, self.target_projector)):
            for po, pt in zip(online.state_dict().values(), target.state_dict().values()):
                if pt.dtype.is_floating_point:
                    pt.mul_(decay).add_(po, alpha=1 - decay)
                else:
                    pt.copy_(po)


AUGMENTATION_NOTE = "random ±1 px shift, 2×2 random erasing, intensity scaling and Gaussian noise"


def augment(x: Tensor, generator: torch.Generator, noise: float = 0.1) -> Tensor:
    """seed002 §6.6's digit augmentations, one draw per image: random shift ±1 px (replicate pad), random
    erasing of a 2×2 square (set to 0, the mean of the standardised pixels), intensity scaling in
    [0.8, 1.2] and Gaussian noise σ = `noise`."""
    x = random_shift(x, 1, generator=generator)
    x = random_cutout(x, 2, 2, generator=generator)
    scale = 0.8 + 0.4 * torch.rand(x.shape[0], 1, 1, 1, generator=generator)
    return x * scale + noise * torch.randn(x.shape, generator=generator)
