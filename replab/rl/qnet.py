"""Q-networks as `encoder + head` modules: conv stacks (Nature DQN, Data-Efficient Rainbow, MinAtar)
and a head that is optionally dueling, noisy and distributional.

The split is the boundary where representation probes (srank of the encoder's features) and
plasticity injection (a new head on the frozen-output encoder) attach: `QNetwork.features(obs)` is the
encoder's output, `QNetwork.head(z)` everything after it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class NoisyLinear(nn.Module):
    """Linear layer with factorised Gaussian noise (Fortunato et al. 2018, §3.1, eq. 10–11).

    y = (μ_w + σ_w ⊙ ε_w) x + μ_b + σ_b ⊙ ε_b with ε_w = f(ε_out) f(ε_in)ᵀ, f(x) = sgn(x)√|x|.
    Init (§3.2): μ ~ U[−1/√p, 1/√p], σ = σ0/√p, p = in_features. In eval mode the noise is off (μ only).
    """

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5):
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"features must be >= 1, got in={in_features}, out={out_features}")
        if sigma0 < 0:
            raise ValueError(f"sigma0 must be >= 0, got {sigma0}")
        self.in_features, self.out_features, self.sigma0 = in_features, out_features, sigma0
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features))
        self.weight_sigma = nn.Parameter(torch.empty(out_features, in_features))
        self.bias_mu = nn.Parameter(torch.empty(out_features))
        self.bias_sigma = nn.Parameter(torch.empty(out_features))
        self.register_buffer("eps_in", torch.zeros(in_features))
        self.register_buffer("eps_out", torch.zeros(out_features))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Fortunato et al. §3.2 init (from the global RNG); the noise buffers are zeroed. Lets `reset`
        re-initialise noisy heads (plasticity injection refuses them: see `replab.intervene.inject`)."""
        bound = 1 / math.sqrt(self.in_features)
        self.weight_mu.uniform_(-bound, bound)
        self.weight_sigma.fill_(self.sigma0 * bound)
        self.bias_mu.uniform_(-bound, bound)
        self.bias_sigma.fill_(self.sigma0 * bound)
        self.eps_in.zero_()
        self.eps_out.zero_()

    @staticmethod
    def _f(x: Tensor) -> Tensor:
        return x.sign() * x.abs().sqrt()

    @torch.no_grad()
    def reset_noise(self, generator: torch.Generator | None = None) -> None:
        dev = self.eps_in.device
        self.eps_in.copy_(self._f(torch.randn(self.in_features, generator=generator)).to(dev))
        self.eps_out.copy_(self._f(torch.randn(self.out_features, generator=generator)).to(dev))

    def forward(self, x: Tensor) -> Tensor:
        if not self.training:
            return F.linear(x, self.weight_mu, self.bias_mu)
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        return F.linear(x, weight, self.bias_mu + self.bias_sigma * self.eps_out)


def der_encoder(in_channels: int) -> nn.Sequential:
    """Data-Efficient Rainbow conv stack (van Hasselt et al. 2019; CURL §2.3): 84×84 → 64·3·3 = 576."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 5, stride=5),
        nn.ReLU(),
        nn.Conv2d(32, 64, 5, stride=5),
        nn.ReLU(),
        nn.Flatten(),
    )


def nature_encoder(in_channels: int) -> nn.Sequential:
    """Nature DQN conv stack (Mnih et al. 2015): 84×84 → 64·7·7 = 3136."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 8, stride=4),
        nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, stride=1),
        nn.ReLU(),
        nn.Flatten(),
    )


def minatar_encoder(in_channels: int, filters: int = 16) -> nn.Sequential:
    """MinAtar's conv net (Young & Tian 2019): one 3×3 conv, 10×10 → filters·8·8 (seed001 §2.7 Track B)."""
    return nn.Sequential(nn.Conv2d(in_channels, filters, 3, stride=1), nn.ReLU(), nn.Flatten())


ENCODERS = {"der": der_encoder, "nature": nature_encoder, "minatar": minatar_encoder}


class QHead(nn.Module):
    """Q-values from features: `(B, F) → (B, A)`, or `(B, A, atoms)` logits when `atoms > 1`.

    Dueling (Wang et al. 2016, eq. 9): Q = V + A − mean_a A, per atom for distributional heads.
    """

    def __init__(
        self,
        in_features: int,
        n_actions: int,
        *,
        hidden: int = 256,
        atoms: int = 1,
        dueling: bool = True,
        noisy: bool = True,
        sigma0: float = 0.1,
    ):
        super().__init__()
        if n_actions < 1 or hidden < 1 or atoms < 1:
            raise ValueError(f"n_actions, hidden, atoms must be >= 1, got {n_actions}, {hidden}, {atoms}")
        self.n_actions, self.atoms, self.dueling = n_actions, atoms, dueling
        self.in_features, self.hidden, self.noisy, self.sigma0 = in_features, hidden, noisy, sigma0

        def linear(i, o):
            return NoisyLinear(i, o, sigma0) if noisy else nn.Linear(i, o)

        self.advantage = nn.Sequential(
            linear(in_features, hidden), nn.ReLU(), linear(hidden, n_actions * atoms)
        )
        self.value = (
            nn.Sequential(linear(in_features, hidden), nn.ReLU(), linear(hidden, atoms)) if dueling else None
        )

    def forward(self, z: Tensor) -> Tensor:
        # plain Q-values (B, A): the view + squeeze below is the identity
        if self.atoms == 1 and self.value is None:
            return self.advantage(z)
        a = self.advantage(z).view(-1, self.n_actions, self.atoms)
        if self.value is not None:
            a = self.value(z).view(-1, 1, self.atoms) + a - a.mean(1, keepdim=True)
        return a if self.atoms > 1 else a.squeeze(-1)

    def widen(self, factor: float) -> QHead:
        """A freshly initialised `QHead` like this one with `hidden × factor` units (growth by plasticity
        injection, Nikishin et al. 2023 §2.2 'comparisons'); inputs, actions, atoms and flags are kept.
        On this head's device and dtype."""
        if factor <= 0:
            raise ValueError(f"factor must be > 0, got {factor}")
        head = QHead(
            self.in_features,
            self.n_actions,
            hidden=max(1, round(self.hidden * factor)),
            atoms=self.atoms,
            dueling=self.dueling,
            noisy=self.noisy,
            sigma0=self.sigma0,
        )
        ref = next(self.parameters())
        return head.to(device=ref.device, dtype=ref.dtype)


class Scale(nn.Module):
    """`x.float() · scale`: stored uint8 observations to network inputs (first layer of an encoder)."""

    def __init__(self, scale: float):
        super().__init__()
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        x = x.float()
        return x if self.scale == 1.0 else x * self.scale  # × 1.0 is exact: skipped (MinAtar's 0/1 input)


class QNetwork(nn.Module):
    """`head(encoder(obs))` for uint8 observations `(B, C, H, W)`; the encoder starts with its `Scale`."""

    def __init__(self, encoder: nn.Module, head: QHead):
        super().__init__()
        self.encoder, self.head = encoder, head

    def features(self, obs: Tensor) -> Tensor:
        """The encoder's output `(B, F)`."""
        return self.encoder(obs)

    def forward(self, obs: Tensor) -> Tensor:
        return self.head(self.features(obs))

    def reset_noise(self, generator: torch.Generator | None = None) -> None:
        for m in self.modules():
            if isinstance(m, NoisyLinear):
                m.reset_noise(generator)


def feature_dim(encoder: nn.Module, obs_shape: tuple[int, ...]) -> int:
    """Output width of `encoder` for one observation of `obs_shape`."""
    with torch.no_grad():
        return int(encoder(torch.zeros(1, *obs_shape)).shape[1])
