"""ρ′ under momentum SGD (eq. 3.27–3.30): eq. 3.30 and the momentum-step form against central differences
of eq. 3.29 along their own directions (float64), and their reduction to eq. 3.23 at β = 0."""

import pytest
import torch
import torch.nn.functional as F
from _bootstrapping_helpers import float64_mlp
from torch.func import functional_call

from replab.probe.rho_evolution import rho_prime_autodiff, rho_prime_momentum

N, D, OUT = 5, 3, 4


def _net():
    return float64_mlp(D, OUT)


def _data():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N, D, generator=g, dtype=torch.float64)
    y = torch.randint(0, OUT, (N,), generator=g)
    n_params = sum(p.numel() for p in _net().parameters())
    mu = torch.randn(n_params, generator=g, dtype=torch.float64) * 0.3
    return x, y, mu


def _grads(net, p, x, y):
    """(N, P): ∇J_i at parameters p, one example at a time (plain autograd)."""
    rows = []
    for i in range(N):
        loss = F.cross_entropy(functional_call(net, p, (x[i : i + 1],)), y[i : i + 1])
        rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(p.values()))]))
    return torch.stack(rows)


def _shift(p0, v, step):
    p, i = {}, 0
    for k, t in p0.items():
        p[k] = (t - step * v[i : i + t.numel()].reshape(t.shape)).detach().requires_grad_(True)
        i += t.numel()
    return p


def _measured(net, x, y, mu, beta, direction):
    """d/dα ρ_μ;AB(θ − α d_B) at α = 0 by central differences (step 1e-5), ρ_μ of eq. 3.29 with ∇J_B at θ′."""
    p0 = {k: v.detach().clone() for k, v in net.named_parameters()}
    g0 = _grads(net, {k: v.clone().requires_grad_(True) for k, v in p0.items()}, x, y)
    alpha, out = 1e-5, torch.zeros(N, N, dtype=torch.float64)
    for b in range(N):
        d = g0[b] if direction == "gradient" else (1 - beta) * g0[b] + beta * mu
        vals = []
        for step in (alpha, -alpha):
            g = _grads(net, _shift(p0, d, step), x, y)
            vals.append((1 - beta) * g @ g[b] + beta * g @ mu)  # column B of ρ_μ at θ − step·d
        out[:, b] = (vals[0] - vals[1]) / (2 * alpha)
    return out


@pytest.mark.parametrize("beta", [0.5, 0.9])
def test_eq_3_30_and_the_momentum_step_form_equal_their_finite_differences(beta):
    net = _net()
    x, y, mu = _data()
    r = rho_prime_momentum(net, F.cross_entropy, x, y, mu, beta)
    for key, direction in (("rho_prime_mu", "gradient"), ("rho_prime_mu_step", "momentum")):
        want = _measured(net, x, y, mu, beta, direction)
        assert want.abs().max() > 0
        torch.testing.assert_close(r[key], want, rtol=1e-6, atol=1e-9 * want.abs().max(), msg=key)
    # eq. 3.30 is not the derivative along the momentum step of eq. 3.28: the two differ here
    gap = (r["rho_prime_mu"] - r["rho_prime_mu_step"]).abs().max()
    assert gap > 1e-2 * r["rho_prime_mu_step"].abs().max()
    g = _grads(net, {k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters()}, x, y)
    torch.testing.assert_close(r["rho_mu"], (1 - beta) * g @ g.T + beta * (g @ mu)[:, None].expand(N, N))


def test_beta_zero_reduces_to_eq_3_23_and_per_parameter_momentum_equals_flat():
    net = _net()
    x, y, mu = _data()
    a = rho_prime_autodiff(net, F.cross_entropy, x, y)
    r = rho_prime_momentum(net, F.cross_entropy, x, y, mu, 0.0)
    for key in ("rho_prime", "rho_prime_mu", "rho_prime_mu_step"):
        torch.testing.assert_close(r[key], a["rho_prime"], rtol=1e-9, atol=1e-12, msg=key)
    torch.testing.assert_close(r["rho_mu"], a["rho"], rtol=1e-9, atol=1e-12)
    parts, i = [], 0
    for p in net.parameters():
        parts.append(mu[i : i + p.numel()].reshape(p.shape))
        i += p.numel()
    flat = rho_prime_momentum(net, F.cross_entropy, x, y, mu, 0.9)
    split = rho_prime_momentum(net, F.cross_entropy, x, y, parts, 0.9)
    for key in flat:
        torch.testing.assert_close(split[key], flat[key], rtol=1e-12, atol=0.0, msg=key)


def test_bad_momentum_and_beta_are_named():
    net = _net()
    x, y, mu = _data()
    with pytest.raises(ValueError, match="beta must be in"):
        rho_prime_momentum(net, F.cross_entropy, x, y, mu, 1.0)
    with pytest.raises(ValueError, match="flat tensor of"):
        rho_prime_momentum(net, F.cross_entropy, x, y, mu[:-1], 0.9)
    with pytest.raises(ValueError, match="one tensor per trainable parameter"):
        rho_prime_momentum(net, F.cross_entropy, x, y, [mu], 0.9)
