"""Independently controllable features: the selectivity objective (seed004 §S6, E. Bengio thesis ch. 6).

Selectivity of feature k for a transition (eq. 6.2), with ε in the denominator (§S6.7):

    sel(s, a, k) = E_{s′}[ (f_k(s′) − f_k(s)) / (Σ_k′ |f_k′(s′) − f_k′(s)| + ε) ]          (directed, signed)
    sel(s, a, k) = E_{s′}[ |f_k(s′) − f_k(s)| / (Σ_k′ |f_k′(s′) − f_k′(s)| + ε) ]          (undirected)

It is 0 when s′ = s. Joint objective (eq. 6.3): L = E_s ½‖s − g(f(s))‖² − λ Σ_k E_s Σ_a π_k(a|s) sel(s, a, k).
Algorithm 2: the reconstruction and the sampled selectivity train f and g (sel backpropagates through f(s)
and f(s′)); each policy π_k gets REINFORCE with a baseline (the batch mean) and no gradient through the
sampled action. The policies read the detached FC layer of f [ASSUMP: §S6.3 says π_k is "computed from the FC
ReLU (32) layer"; REINFORCE does not train the shared trunk here].

Continuous factors (§S6.2.2, eq. 6.4): a factor embedding φ = Φ(h, z) (z Gaussian noise), a policy π(a|h, φ)
and the Gaussian-kernel selector A(Δh, φ) = exp(−‖Δh − φ‖² / (2σ²)); sel(h, φ) = A(Δh, φ_b) / (1/n) Σ_i |A(Δh,
φ_i)| over n embeddings sampled at the state, the behaviour embedding φ_b one of them at random.
"""

from __future__ import annotations

import torch
from torch import nn

from replab.meta import gridworld

N_ACTIONS = len(gridworld.ACTION_NAMES)


def selectivity(
    h: torch.Tensor, h_next: torch.Tensor, eps: float = 1e-6, directed: bool = True
) -> torch.Tensor:
    """sel for every feature (eq. 6.2, one sample of s′): (n, K) from features before and after (n, K)."""
    if h.shape != h_next.shape:
        raise ValueError(
            f"h and h_next must have the same shape, got {tuple(h.shape)} and {tuple(h_next.shape)}"
        )
    if eps <= 0:
        raise ValueError(f"eps must be > 0 (§S6.7: it keeps sel = 0 when s′ = s), got {eps}")
    d = h_next - h
    num = d if directed else d.abs()
    return num / (d.abs().sum(-1, keepdim=True) + eps)


class FactorNet(nn.Module):
    """f: two 16-channel 3×3 stride-2 ReLU convs → FC ReLU 32 → tanh K features; g: the transpose; K policy
    heads (softmax over 4 actions) on the FC layer (§S6.3)."""

    def __init__(self, k: int = 4):
        super().__init__()
        self.k = k
        self.trunk = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, stride=2, padding=1),
            nn.ReLU(), nn.Flatten(), nn.Linear(16 * 3 * 3, 32), nn.ReLU(),
        )  # fmt: skip
        self.features = nn.Sequential(nn.Linear(32, k), nn.Tanh())
        self.decoder = nn.Sequential(
            nn.Linear(k, 32), nn.ReLU(), nn.Linear(32, 16 * 3 * 3), nn.ReLU(), nn.Unflatten(1, (16, 3, 3)),
            nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
        )  # fmt: skip
        self.policies = nn.Linear(32, k * N_ACTIONS)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(features f(s) (n, K), FC layer (n, 32))."""
        z = self.trunk(x)
        return self.features(z), z

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    def policy_logits(self, fc: torch.Tensor) -> torch.Tensor:
        """(n, K, 4) logits of every π_k on the detached FC layer."""
        return self.policies(fc.detach()).reshape(len(fc), self.k, N_ACTIONS)


def train_step(net, opt, xy, *, lam=1.0, eps=1e-6, directed=True, recon=True, p=0.0, generator=None) -> dict:
    """One iteration of Algorithm 2 on a batch of positions xy (n, 2)."""
    s = gridworld.render(xy)
    h, fc = net.encode(s)
    rec = 0.5 * ((net.decoder(h) - s) ** 2).flatten(1).sum(1).mean()
    logits = net.policy_logits(fc)
    dist = torch.distributions.Categorical(logits=logits)  # (n, K)
    a = torch.multinomial(dist.probs.reshape(-1, N_ACTIONS), 1, generator=generator).reshape(len(xy), net.k)
    # a ~ π_k(·|s), s′ = P(s, a) for every k at once; sel_k backpropagates through f(s) and f(s′)
    xy_next = gridworld.step(xy.repeat(net.k, 1), a.T.reshape(-1), p, generator)
    h_next = net(gridworld.render(xy_next)).reshape(net.k, len(xy), net.k)
    sel = torch.stack([selectivity(h, h_next[k], eps, directed)[:, k] for k in range(net.k)], 1)
    reward = sel.detach()
    baseline = reward.mean(0, keepdim=True)  # b = the batch mean per policy (§S6.6)
    pg = -((reward - baseline) * dist.log_prob(a)).mean(0).sum()
    loss = (rec if recon else 0.0) - lam * sel.mean(0).sum() + pg
    opt.zero_grad()
    loss.backward()
    opt.step()
    return {"recon": float(rec.detach()), "sel": float(reward.mean()), "pg": float(pg.detach())}


@torch.no_grad()
def evaluate(net: FactorNet, eps: float = 1e-6, directed: bool = True) -> dict:
    """On all 121 positions: correlation (K, 2) of each f_k with (x, y), regression slopes (K, 2), the policy
    matrix E_s[π_k(a|s)] (K, 4), the selectivity matrix E_s[sel(s, a, k)] (K, 4) and the reconstruction MSE."""
    xy = gridworld.all_positions()
    s = gridworld.render(xy)
    h, fc = net.encode(s)
    coords = xy.float()
    hc, cc = h - h.mean(0), coords - coords.mean(0)
    cov = hc.T @ cc / len(xy)
    corr = cov / (hc.std(0, unbiased=False)[:, None] * cc.std(0, unbiased=False)[None] + 1e-12)
    slope = cov / cc.var(0, unbiased=False)[None]
    policy = net.policy_logits(fc).softmax(-1).mean(0)
    sel = torch.stack(
        [selectivity(h, net(gridworld.render(gridworld.step(xy, torch.full((len(xy),), a)))), eps, directed).mean(0)
         for a in range(N_ACTIONS)], 1,
    )  # fmt: skip
    mse = float(((net.decoder(h) - s) ** 2).mean())
    return {"corr": corr.tolist(), "slope": slope.tolist(), "policy": policy.tolist(), "selectivity": sel.tolist(),
            "recon_mse": mse}  # fmt: skip


def alignment(corr) -> float:
    """Mean over features of | |r_kx| − |r_ky| |: 1 when every feature follows exactly one coordinate, 0 when
    each mixes them equally (or follows neither)."""
    c = torch.as_tensor(corr, dtype=torch.float64).abs()
    return float((c[:, 0] - c[:, 1]).abs().mean())


def covered_directions(corr, threshold: float = 0.9) -> int:
    """How many of +x, −x, +y, −y some feature follows with r beyond `threshold` (§S6.6: all four)."""
    c = torch.as_tensor(corr, dtype=torch.float64)
    return int(sum(bool((sign * c[:, j] > threshold).any()) for j in (0, 1) for sign in (1, -1)))


def coordinate_isolation(corr) -> float:
    """min over the coordinates c ∈ {x, y} of max_k ( |r(f_k, c)| − |r(f_k, other)| ) ∈ [−1, 1]: 1 when some
    feature follows x alone and another y alone (Fig. 6.2's f₂, f₃ ↔ x and f₀, f₁ ↔ y), low when every
    feature follows the same coordinate (which `alignment` alone scores 1)."""
    c = torch.as_tensor(corr, dtype=torch.float64).abs()
    return float(torch.minimum((c[:, 0] - c[:, 1]).max(), (c[:, 1] - c[:, 0]).max()))


class ContinuousFactors(nn.Module):
    """The continuous-factor variant (§S6.2.2): encoder f (K features), decoder g, generator Φ(h, z) and
    policy π(a|h, φ) of two FC layers each (tanh on φ), Gaussian-kernel selector of width σ."""

    def __init__(self, k: int = 2, noise: int = 6, hidden: int = 32, sigma: float = 0.5):
        super().__init__()
        self.base = FactorNet(k)
        self.k, self.noise, self.sigma = k, noise, sigma
        self.generator = nn.Sequential(
            nn.Linear(k + noise, hidden), nn.ReLU(), nn.Linear(hidden, k), nn.Tanh()
        )
        self.policy = nn.Sequential(nn.Linear(2 * k, hidden), nn.ReLU(), nn.Linear(hidden, N_ACTIONS))

    def forward(self, x):
        return self.base(x)

    def kernel(self, dh: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        """A(Δh, φ) = exp(−‖Δh − φ‖² / (2σ²)); dh (n, K), phi (n, m, K) → (n, m)."""
        return torch.exp(-((dh[:, None] - phi) ** 2).sum(-1) / (2 * self.sigma**2))


def continuous_step(
    model: ContinuousFactors, opt, xy, *, lam=1.0, n_phi=16, recon=True, generator=None
) -> dict:
    """One step of the continuous variant: eq. 6.4 with n sampled embeddings; REINFORCE for π (baseline: the
    batch mean), the selectivity's gradient through f and Φ. The noise z is Gaussian (§S6.3 says both
    Gaussian and uniform; Gaussian chosen)."""
    s = gridworld.render(xy)
    h = model(s)
    rec = 0.5 * ((model.base.decoder(h) - s) ** 2).flatten(1).sum(1).mean()
    z = torch.randn(len(xy), n_phi, model.noise, generator=generator)
    phi = model.generator(torch.cat([h[:, None].expand(-1, n_phi, -1), z], -1))  # (n, m, K)
    b = torch.randint(0, n_phi, (len(xy),), generator=generator)
    phi_b = phi[torch.arange(len(xy)), b]
    logits = model.policy(torch.cat([h, phi_b], -1).detach())
    dist = torch.distributions.Categorical(logits=logits)
    a = torch.multinomial(dist.probs, 1, generator=generator)[:, 0]
    dh = model(gridworld.render(gridworld.step(xy, a))) - h
    kern = model.kernel(dh, phi)
    sel = kern[torch.arange(len(xy)), b] / (kern.abs().mean(1) + 1e-8)
    reward = sel.detach()
    pg = -((reward - reward.mean()) * dist.log_prob(a)).mean()
    loss = (rec if recon else 0.0) - lam * sel.mean() + pg
    opt.zero_grad()
    loss.backward()
    opt.step()
    return {"recon": float(rec.detach()), "sel": float(reward.mean()), "pg": float(pg.detach())}


@torch.no_grad()
def action_modes(model: nn.Module) -> dict:
    """Δh = f(s′) − f(s) for every position and action: the mean Δh per action (4, K) and the share of Δh's
    variance that the action explains (R², §S6.4: the Δh vectors cluster into ±x, ±y modes)."""
    xy = gridworld.all_positions()
    h = model(gridworld.render(xy))
    dhs = torch.stack(
        [model(gridworld.render(gridworld.step(xy, torch.full((len(xy),), a)))) - h for a in range(N_ACTIONS)]
    )  # fmt: skip  (4, n, K)
    means = dhs.mean(1)
    total = ((dhs - dhs.reshape(-1, dhs.shape[-1]).mean(0)) ** 2).sum()
    within = ((dhs - means[:, None]) ** 2).sum()
    return {"mean_dh": means.tolist(), "r2": float(1 - within / (total + 1e-12))}
