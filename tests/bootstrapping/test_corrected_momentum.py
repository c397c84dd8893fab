"""Staleness-corrected momentum (seed004 §S3.2): per-example terms, reductions, a hand-written recursion.

Tolerances: the optimizer runs float32 torch kernels (vmap'd matmuls, whose reduction order depends on the
CPU and thread count) against float64 numpy or a differently ordered float32 computation, so values are
compared with rtol 1e-5 / atol 1e-6 (float32 carries ~7 digits; the recursions here are a few steps long).
"""

import numpy as np
import pytest
import torch
from torch import nn

from replab.optim import (
    CorrectedMomentum,
    DampenedMomentum,
    OracleMomentum,
    TDTerms,
    regression_terms,
    td_terms,
)

TOL = dict(rtol=1e-5, atol=1e-6)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 5), nn.LeakyReLU(), nn.Linear(5, 1))


def _batch(seed, m=4, dim=2):
    g = torch.Generator().manual_seed(seed)
    s, s2 = torch.randn(m, dim, generator=g), torch.randn(m, dim, generator=g)
    r = torch.randn(m, generator=g)
    discount = 0.9 * (torch.rand(m, generator=g) > 0.25).float()  # some terminal transitions
    return s, r, s2, discount


def _flat_grad(net, out):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(out, list(net.parameters()))])


def test_td_terms_match_per_example_autograd():
    net = _mlp()
    s, r, s2, disc = _batch(1)
    terms = td_terms(net, s, r, s2, disc)
    for i in range(len(s)):
        b = _flat_grad(net, net(s[i : i + 1]).sum())
        bp = _flat_grad(net, net(s2[i : i + 1]).sum())
        torch.testing.assert_close(terms.b[i], b, **TOL)
        torch.testing.assert_close(terms.a[i], b - disc[i] * bp, **TOL)  # through V(s′), masked at terminals
    # .grad is the semi-gradient of mean ½δ² with the target detached
    net2 = _mlp()
    target = (r + disc * net2(s2).squeeze(1)).detach()
    (0.5 * (net2(s).squeeze(1) - target).pow(2).mean()).backward()
    for p, q in zip(net.parameters(), net2.parameters()):
        torch.testing.assert_close(p.grad, q.grad, **TOL)


@pytest.mark.parametrize("correction", ["full", "diag"])
def test_zero_correction_term_is_dampened_momentum(correction):
    """With Z = 0 (a = 0) η stays 0, so μ̂ = μ: the corrected optimizer is plain dampened momentum."""
    nets = [_mlp(), _mlp()]
    opts = [CorrectedMomentum(nets[0].parameters(), 0.1, 0.9, correction=correction)]
    opts.append(DampenedMomentum(nets[1].parameters(), 0.1, 0.9))
    for k in range(5):
        batch = _batch(10 + k)
        for net, opt in zip(nets, opts):

            def closure(net=net, batch=batch):
                t = td_terms(net, *batch)
                return TDTerms(t.loss, t.delta, torch.zeros_like(t.a), t.b)

            opt.step(closure)
    for p, q in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(p, q, **TOL)
    assert not opts[0].state["flat"]["eta"].any()


def test_dampened_momentum_is_the_discounted_sum():
    """μ_t = (1−β) Σ_i β^{t−i} g_i (eq. 4.5), buffer starting at (1−β)g_1, not g_1 as in torch's SGD."""
    p = nn.Parameter(torch.zeros(3))
    opt, grads, beta, lr = DampenedMomentum([p], lr=0.5, beta=0.8), [], 0.8, 0.5
    expected = torch.zeros(3)
    for t in range(1, 5):
        g = torch.tensor([1.0, -2.0, 0.5]) * t
        grads.append(g)
        p.grad = g.clone()
        opt.step()
        mu = (1 - beta) * sum(beta ** (t - i) * grads[i - 1] for i in range(1, t + 1))
        expected = expected - lr * mu
        torch.testing.assert_close(p.detach(), expected, **TOL)


def _hand_recursion(theta, batches, alpha, beta, diag):
    """§S3.2 eq. 4.16–4.19 written out for a linear V = θᵀφ in float64, per example by hand."""
    n = len(theta)
    mu, eta = np.zeros(n), np.zeros(n)
    zeta = np.zeros(n) if diag else np.zeros((n, n))
    for phi, r, phi2, disc in batches:
        m = len(phi)
        delta = [theta @ phi[i] - (r[i] + disc[i] * theta @ phi2[i]) for i in range(m)]
        g = sum(delta[i] * phi[i] for i in range(m)) / m
        a = [phi[i] - disc[i] * phi2[i] for i in range(m)]
        if diag:
            z = sum(a[i] * phi[i] for i in range(m)) / m
        else:
            z = sum(np.outer(a[i], phi[i]) for i in range(m)) / m
        mu_hat_prev = mu - eta
        eta = beta * eta + alpha * beta * (zeta * mu_hat_prev if diag else zeta.T @ mu_hat_prev)
        zeta = beta * zeta + (1 - beta) * z
        mu = beta * mu + (1 - beta) * g
        theta = theta - alpha * (mu - eta)
    return theta


@pytest.mark.parametrize("correction", ["full", "diag"])
@pytest.mark.parametrize("steps", [2, 4])
def test_matches_hand_written_recursion(correction, steps):
    rng = np.random.default_rng(3)
    n, m, alpha, beta = 4, 3, 0.3, 0.9
    theta0 = rng.normal(size=n)
    batches = [
        (rng.normal(size=(m, n)), rng.normal(size=m), rng.normal(size=(m, n)), 0.95 * (rng.random(m) > 0.2))
        for _ in range(steps)
    ]
    net = nn.Linear(n, 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(theta0, dtype=torch.float32)[None])
    opt = CorrectedMomentum(net.parameters(), alpha, beta, correction=correction)
    for phi, r, phi2, disc in batches:
        f = [torch.tensor(x, dtype=torch.float32) for x in (phi, r, phi2, disc)]
        opt.step(lambda f=f: td_terms(net, *f))
    expected = _hand_recursion(theta0, batches, alpha, beta, correction == "diag")
    np.testing.assert_allclose(net.weight.detach().numpy()[0], expected, **TOL)
    # the correction did something: plain momentum ends elsewhere
    plain = _hand_recursion(theta0, [(p, r, p2, d * 0) for p, r, p2, d in batches], alpha, beta, False)
    assert not np.allclose(expected, plain, rtol=1e-3)


def test_adaptive_without_correction_is_adam():
    """`adaptive=True` with no correction is Adam (β₁ = β), the denominator of "μ̂/√(∇² + ε)"."""
    nets = [_mlp(), _mlp()]
    ours = CorrectedMomentum(nets[0].parameters(), 1e-2, 0.9, correction="none", adaptive=True)
    adam = torch.optim.Adam(nets[1].parameters(), lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    for k in range(6):
        s, r, s2, disc = _batch(20 + k)
        for net, opt in zip(nets, (ours, adam)):
            opt.zero_grad()
            td_terms(net, s, r, s2, disc)
            opt.step()
    for p, q in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-5)


def test_oracle_with_one_batch_is_sgd():
    """h = 1, β = 0: μ* is the current minibatch's gradient, so the oracle is SGD with step α."""
    nets = [_mlp(), _mlp()]
    oracle = OracleMomentum(nets[0].parameters(), 0.1, beta=0.0, horizon=1)
    sgd = torch.optim.SGD(nets[1].parameters(), lr=0.1)

    def loss(net, batch):
        s, r, s2, disc = batch
        target = (r + disc * net(s2).squeeze(1)).detach()  # recomputed at the current θ
        return 0.5 * (net(s).squeeze(1) - target).pow(2).mean()

    for k in range(4):
        batch = _batch(30 + k)
        oracle.step(lambda b: loss(nets[0], b), batch)
        sgd.zero_grad()
        loss(nets[1], batch).backward()
        sgd.step()
    for p, q in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(p, q, **TOL)
    assert OracleMomentum(nets[0].parameters(), 0.1, beta=0.9).horizon == 20  # h = 2/(1−β)
    with pytest.raises(ValueError, match="horizon must be >= 1, got 0"):  # 0 is refused, not the default
        OracleMomentum(nets[0].parameters(), 0.1, beta=0.9, horizon=0)


def test_bad_arguments():
    p = [nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="correction"):
        CorrectedMomentum(p, 0.1, correction="nope")
    with pytest.raises(ValueError, match="beta"):
        CorrectedMomentum(p, 0.1, beta=1.0)
    opt = CorrectedMomentum(p, 0.1)
    p[0].grad = torch.ones(2)
    with pytest.raises(ValueError, match="per-example terms"):
        opt.step()


@pytest.mark.parametrize("correction", ["full", "diag", "none"])
def test_linear_td_on_the_chain_reaches_the_exact_values(correction):
    """Sanity: TD(0) with one-hot (tabular) features and each momentum converges to the chain's exact V."""
    from replab.envs.mountain_car_eval import chain_transitions, chain_values

    n, gamma, rng = 6, 0.9, np.random.default_rng(0)
    net = nn.Linear(n, 1, bias=False)
    nn.init.zeros_(net.weight)
    opt = CorrectedMomentum(net.parameters(), 0.5, 0.9, correction=correction)
    for _ in range(1000):
        batch = [torch.tensor(x, dtype=torch.float32) for x in chain_transitions(rng, n, 8, gamma)]
        opt.step(lambda batch=batch: td_terms(net, *batch))
    # the chain is deterministic, so TD converges to V exactly: ~1e-6 after 1000 steps here (float32);
    # atol 1e-4 leaves room for other kernels' rounding
    np.testing.assert_allclose(net.weight.detach().numpy()[0], chain_values(n, gamma), atol=1e-4)


@pytest.mark.parametrize("correction", ["full", "diag"])
def test_in_place_state_equals_the_out_of_place_recursion_over_many_steps(correction):
    """The optimizer updates μ, η, ζ in place (addmm_/addmv_, issue 23's benchmark); fed the same
    per-example terms, a float64 out-of-place recursion (eq. 4.16–4.19) reaches the same state after 40
    steps on a 2 → 16 → 16 → 1 MLP with minibatches of 16 (float32 state: rtol 1e-4, atol 1e-6)."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(), nn.Linear(16, 16), nn.LeakyReLU(), nn.Linear(16, 1))
    alpha, beta = 0.1, 0.9
    opt = CorrectedMomentum(net.parameters(), alpha, beta, correction=correction)
    n = sum(p.numel() for p in net.parameters())
    mu, eta = torch.zeros(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    zeta = torch.zeros((n, n) if correction == "full" else n, dtype=torch.float64)
    for k in range(40):
        terms = td_terms(net, *_batch(100 + k, m=16))
        g = torch.cat([p.grad.reshape(-1) for p in net.parameters()]).double()
        a, b = terms.a.double(), terms.b.double()
        z = sum(torch.outer(a[i], b[i]) for i in range(16)) / 16 if correction == "full" else (a * b).mean(0)
        mu_hat_prev = mu - eta
        eta = beta * eta + alpha * beta * (
            zeta.T @ mu_hat_prev if correction == "full" else zeta * mu_hat_prev
        )
        zeta, mu = beta * zeta + (1 - beta) * z, beta * mu + (1 - beta) * g
        opt.step(lambda terms=terms: terms)
    st = opt.state["flat"]
    zeta_key = "zeta" if correction == "full" else "zeta_diag"
    for name, ref in (("mu", mu), ("eta", eta), (zeta_key, zeta)):
        torch.testing.assert_close(st[name].double(), ref, rtol=1e-4, atol=1e-6, msg=name)
    assert eta.abs().max() > 1e-4  # the correction is not trivially zero here


def test_regression_terms_are_the_supervised_case():
    """§S3.2 "Regression": a = b = ∇f(x_i), δ = f − y, and `.grad` is the gradient of mean ½(f − y)²."""
    net = _mlp()
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(6, 2, generator=g), torch.randn(6, generator=g)
    terms = regression_terms(net, x, y)
    for i in range(6):
        torch.testing.assert_close(terms.b[i], _flat_grad(net, net(x[i : i + 1]).sum()), **TOL)
    assert terms.a is terms.b
    net2 = _mlp()
    (0.5 * (net2(x).squeeze(1) - y).pow(2).mean()).backward()
    for p, q in zip(net.parameters(), net2.parameters()):
        torch.testing.assert_close(p.grad, q.grad, **TOL)


def test_oracle_with_a_batched_closure_equals_one_closure_per_minibatch():
    """`batched=True` (one forward over the remembered minibatches) is the same μ* as K closures."""
    nets = [_mlp(), _mlp()]
    opts = [OracleMomentum(n.parameters(), 0.1, beta=0.8) for n in nets]  # h = 10

    def loss(net, batch):
        s, r, s2, disc = batch
        target = (r + disc * net(s2).squeeze(1)).detach()
        return 0.5 * (net(s).squeeze(1) - target).pow(2).mean()

    def losses(net, batches):
        s, r, s2, disc = (torch.cat(parts) for parts in zip(*batches))
        target = (r + disc * net(s2).squeeze(1)).detach()
        return 0.5 * (net(s).squeeze(1) - target).pow(2).reshape(len(batches), -1).mean(1)

    for k in range(14):  # past the horizon: the oldest minibatches are forgotten
        batch = _batch(40 + k)
        a = opts[0].step(lambda b: loss(nets[0], b), batch)
        b = opts[1].step(lambda bs: losses(nets[1], bs), batch, batched=True)
        torch.testing.assert_close(a, b, **TOL)
    for p, q in zip(*(n.parameters() for n in nets)):
        torch.testing.assert_close(p, q, **TOL)
    with pytest.raises(ValueError, match="batched closure must return"):
        opts[1].step(lambda bs: torch.zeros(3), _batch(0), batched=True)
