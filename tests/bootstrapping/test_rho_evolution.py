"""ρ′ (eq. 3.25–3.26, 3.40): the r₁–r₃ split against the autodiff form and against the measured change of
ρ after a small step (central differences, float64)."""

import pytest
import torch
import torch.nn.functional as F
from _bootstrapping_helpers import float64_mlp
from torch import nn
from torch.func import functional_call

from replab.probe.rho_evolution import positive_share, rho_prime_autodiff, rho_prime_terms

N, D, OUT = 5, 3, 2


def _mlp(act=nn.Tanh):
    return float64_mlp(D, OUT, act)


def _data():
    g = torch.Generator().manual_seed(1)
    s = torch.randn(N, D, generator=g, dtype=torch.float64)
    s2 = torch.randn(N, D, generator=g, dtype=torch.float64)
    y = torch.randn(N, generator=g, dtype=torch.float64)
    sel = F.one_hot(torch.tensor([0, 1, 1, 0, 1]), OUT).double()
    nsel = F.one_hot(torch.tensor([1, 1, 0, 0, 0]), OUT).double()
    disc = torch.tensor([0.9, 0.9, 0.0, 0.9, 0.5], dtype=torch.float64)
    return s, s2, y, sel, nsel, disc


def _rho_at(net, p, s, s2, y, sel, nsel, disc, live):
    """ρ_AB = δ_Aδ_B ∇f_Aᵀ∇f_B at parameters p (plain autograd, one example at a time)."""
    names = list(p)

    def f(x, w):
        return (functional_call(net, p, (x[None],)).reshape(-1) * w).sum()

    deltas, grads = [], []
    for i in range(N):
        fi = f(s[i], sel[i])
        d = fi - y[i] - (disc[i] * f(s2[i], nsel[i]) if live else 0.0)
        gi = torch.autograd.grad(fi, [p[k] for k in names])
        deltas.append(d.detach())
        grads.append(torch.cat([x.reshape(-1) for x in gi]))
    d, g = torch.stack(deltas), torch.stack(grads)
    return d[:, None] * d[None, :] * (g @ g.T), d, g


def _params(net):
    return {k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters()}


@pytest.mark.parametrize("live", [False, True])
@pytest.mark.parametrize("act", [nn.Tanh, nn.LeakyReLU])
def test_terms_equal_the_measured_change_of_rho_after_a_small_step(live, act):
    net = _mlp(act)
    s, s2, y, sel, nsel, disc = _data()
    kw = dict(select=sel, s_next=s2, next_select=nsel, discount=disc) if live else dict(select=sel)
    t = rho_prime_terms(net, s, y, **kw)
    p0 = _params(net)
    rho0, d, g = _rho_at(net, p0, s, s2, y, sel, nsel, disc, live)
    torch.testing.assert_close(t["rho"], rho0, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(t["delta"], d, rtol=1e-10, atol=1e-12)
    alpha = 1e-5
    shapes = [(k, v.shape, v.numel()) for k, v in p0.items()]
    measured = torch.zeros(N, N, dtype=torch.float64)
    for b in range(N):
        u = d[b] * g[b]  # the semi-gradient step on B, θ′ = θ − α u_B
        rows = []
        for sign in (-1.0, 1.0):
            p, i = {}, 0
            for k, shape, n in shapes:
                p[k] = (p0[k] - sign * alpha * u[i : i + n].reshape(shape)).detach().requires_grad_(True)
                i += n
            rows.append(_rho_at(net, p, s, s2, y, sel, nsel, disc, live)[0][:, b])
        measured[:, b] = (rows[1] - rows[0]) / (2 * alpha)  # d/dα ρ_AB(θ − α u_B), central difference
    torch.testing.assert_close(t["rho_prime"], measured, rtol=1e-6, atol=1e-9 * measured.abs().max())
    assert t["r3"].abs().max() > 0  # the Hessian term is exercised (non-zero), not vacuous


@pytest.mark.parametrize("live", [False, True])
@pytest.mark.parametrize("act", [nn.Tanh, nn.LeakyReLU])
def test_each_term_is_its_own_factors_derivative(live, act):
    """Each term against its own finite difference (float64, step 1e-5 along θ′ = θ − α u_B, central),
    so moving a part between r₁ and r₂ fails even though the sum is unchanged:
    r₁ = −(dδ_A/dα) δ_B g_AB, r₂ = −δ_A (dδ_B/dα) g_AB, r₃ = −δ_A δ_B (dg_AB/dα); rtol 1e-6, atol 1e-9 of
    the term's largest entry."""
    net = _mlp(act)
    s, s2, y, sel, nsel, disc = _data()
    kw = dict(select=sel, s_next=s2, next_select=nsel, discount=disc) if live else dict(select=sel)
    t = rho_prime_terms(net, s, y, **kw)
    p0 = _params(net)
    _, d, g = _rho_at(net, p0, s, s2, y, sel, nsel, disc, live)
    gm, alpha = g @ g.T, 1e-5
    shapes = [(k, v.shape, v.numel()) for k, v in p0.items()]
    dd = torch.zeros(N, N, dtype=torch.float64)  # [A, B]: dδ_A/dα after a step on B
    dg = torch.zeros(N, N, dtype=torch.float64)  # [A, B]: dg_AB/dα after a step on B
    for b in range(N):
        u = d[b] * g[b]
        out = []
        for sign in (-1.0, 1.0):
            p, i = {}, 0
            for k, shape, n in shapes:
                p[k] = (p0[k] - sign * alpha * u[i : i + n].reshape(shape)).detach().requires_grad_(True)
                i += n
            _, db, gb = _rho_at(net, p, s, s2, y, sel, nsel, disc, live)
            out.append((db, (gb @ gb.T)[:, b]))
        dd[:, b] = (out[1][0] - out[0][0]) / (2 * alpha)
        dg[:, b] = (out[1][1] - out[0][1]) / (2 * alpha)
    dB_dalpha = dd.diagonal()[None, :]  # dδ_B/dα after the step on B itself
    want = {
        "r1": -dd * d[None, :] * gm,
        "r2": -d[:, None] * dB_dalpha * gm,
        "r3": -d[:, None] * d[None, :] * dg,
    }
    for k, w in want.items():
        assert w.abs().max() > 0, k  # every term is exercised
        torch.testing.assert_close(t[k], w, rtol=1e-6, atol=1e-9 * w.abs().max(), msg=k)
    # the terms differ from each other here, so a swapped assignment cannot pass
    assert (want["r1"] - want["r2"]).abs().max() > 1e-3 * want["r1"].abs().max()


def test_regression_terms_sum_to_the_autodiff_form_eq_3_40():
    net = _mlp()
    s, _, y, sel, _, _ = _data()
    t = rho_prime_terms(net, s, y, select=sel)
    idx = sel.argmax(1)

    def loss(out, target):  # ½(f − y)² with f the selected output; target packs (y, index)
        return 0.5 * (out.gather(1, target[:, 1:].long()).squeeze(1) - target[:, 0]).pow(2).sum()

    a = rho_prime_autodiff(net, loss, s, torch.stack([y, idx.double()], 1))
    torch.testing.assert_close(a["rho"], t["rho"], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(a["rho_prime"], t["rho_prime"], rtol=1e-9, atol=1e-12)


def test_autodiff_form_equals_a_measured_step_for_cross_entropy():
    net = _mlp()
    s, _, _, _, _, _ = _data()
    labels = torch.tensor([0, 1, 1, 0, 0])
    a = rho_prime_autodiff(net, F.cross_entropy, s, labels)
    p0 = _params(net)

    def grads(p):
        rows = []
        for i in range(N):
            li = F.cross_entropy(functional_call(net, p, (s[i : i + 1],)), labels[i : i + 1])
            rows.append(torch.cat([x.reshape(-1) for x in torch.autograd.grad(li, list(p.values()))]))
        return torch.stack(rows)

    g0, alpha = grads(p0), 1e-5
    torch.testing.assert_close(a["rho"], g0 @ g0.T, rtol=1e-10, atol=1e-12)
    for b in range(N):
        rows = []
        for sign in (-1.0, 1.0):
            p, i = {}, 0
            for k, v in p0.items():
                p[k] = (
                    (v - sign * alpha * g0[b, i : i + v.numel()].reshape(v.shape))
                    .detach()
                    .requires_grad_(True)
                )
                i += v.numel()
            gp = grads(p)
            rows.append(gp @ gp[b])
        torch.testing.assert_close(
            a["rho_prime"][:, b], (rows[1] - rows[0]) / (2 * alpha), rtol=1e-6, atol=1e-10
        )


def test_live_target_with_zero_discount_is_regression_and_model_is_untouched():
    net = _mlp()
    s, s2, y, sel, nsel, _ = _data()
    before = [p.detach().clone() for p in net.parameters()]
    net.train()
    a = rho_prime_terms(net, s, y, select=sel)
    b = rho_prime_terms(
        net, s, y, select=sel, s_next=s2, next_select=nsel, discount=torch.zeros(N, dtype=torch.float64)
    )
    for k in ("r1", "r2", "r3", "rho_prime"):
        torch.testing.assert_close(a[k], b[k], rtol=1e-12, atol=0.0)
    assert net.training and all(torch.equal(p, q) for p, q in zip(before, net.parameters()))
    assert all(p.grad is None for p in net.parameters())


def test_errors_and_positive_share():
    net = _mlp()
    s, s2, y, sel, _, _ = _data()
    with pytest.raises(ValueError, match=r"select must have shape \(5, 2\)"):
        rho_prime_terms(net, s, y)
    with pytest.raises(ValueError, match="s_next needs discount"):
        rho_prime_terms(net, s, y, select=sel, s_next=s2)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        rho_prime_terms(net, s, y[:3], select=sel)
    with pytest.raises(ValueError, match=r"next_select must have shape \(5, 2\)"):
        rho_prime_terms(net, s, y, select=sel, s_next=s2, discount=torch.ones(5), next_select=sel[:, :1])
    x = torch.tensor([[5.0, 1.0, -1.0], [-2.0, -7.0, 0.0], [1.0, 1.0, 9.0]])
    assert positive_share(x) == pytest.approx(3 / 6)
    assert positive_share(x, off_diagonal=False) == pytest.approx(5 / 9)
