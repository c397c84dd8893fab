"""Interference probes (seed004 §S2.2): gradient, batch, function and TD interference.

Tolerances: per-example gradients by `vmap(grad)` are compared with per-example `autograd.grad` in float32
at rtol 1e-5 / atol 1e-6 (same maths, different kernels and reduction orders). First-order predictions
are checked in float64, where rounding is ~1e-16: for a model linear in θ the function change is exactly
first order (rtol 1e-9); for an MLP the error is O(lr²), so at lr = 1e-5 the relative error is bounded by
1e-3 and halving lr must shrink the absolute error about fourfold (checked between 3× and 5×).
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replab.probe.gradients import per_example_gradients
from replab.probe.interference import (
    batch_gradient_interference,
    function_interference_matrix,
    function_interference_step,
    gradient_interference_matrix,
    max_output,
    mean_pairwise,
    pairwise_gradient_interference,
    per_example_loss_gradients,
    td_gradients,
    td_interference_matrix,
)

TOL = dict(rtol=1e-5, atol=1e-6)


def _mlp(seed=0, dtype=torch.float32, d_in=3, d_out=1):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(d_in, 8), nn.Tanh(), nn.Linear(8, d_out))
    return net.to(dtype)


def _data(seed=1, n=6, d_in=3, d_out=1, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_in, generator=g, dtype=dtype), torch.randn(n, d_out, generator=g, dtype=dtype)


def _flat_grad(net, out):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(out, list(net.parameters()))])


def _half_sq(out, y):
    return 0.5 * (out - y).pow(2).sum()


def test_per_example_gradients_match_the_autograd_loop():
    net, (x, y) = _mlp(), _data()
    fast = per_example_loss_gradients(net, F.mse_loss, x, y)  # the shared helper's vmap path
    loop = per_example_gradients(net, F.mse_loss, x, y)  # its loop path (the default)
    torch.testing.assert_close(fast, loop, **TOL)
    torch.testing.assert_close(per_example_gradients(net, F.mse_loss, x, y, method="vmap"), loop, **TOL)


def test_vmap_and_loop_agree_with_frozen_parameters_and_buffers():
    # a frozen first layer (a constant, not a column) and BatchNorm's running statistics (eval mode)
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 1))
    net[0].requires_grad_(False)
    net.train()(torch.randn(32, 3))  # move the running statistics off their initial values
    x, y = _data()
    loop = per_example_gradients(net, F.mse_loss, x, y)
    fast = per_example_gradients(net, F.mse_loss, x, y, method="vmap")
    assert loop.shape == (6, 8 + 8 + 8 + 1)  # BatchNorm's weight and bias, the last layer's
    torch.testing.assert_close(fast, loop, **TOL)
    assert net.training  # mode restored
    with pytest.raises(ValueError, match="method must be one of"):
        per_example_gradients(net, F.mse_loss, x, y, method="fast")


def test_identical_examples_interfere_by_the_squared_gradient_norm():
    net, (x, y) = _mlp(), _data()
    x2, y2 = torch.cat([x[:1], x[:1], x[1:]]), torch.cat([y[:1], y[:1], y[1:]])
    rho = gradient_interference_matrix(net, F.mse_loss, x2, y2)
    sq = float((_flat_grad(net, F.mse_loss(net(x[:1]), y[:1])).double() ** 2).sum())
    assert rho[0, 1].item() == pytest.approx(sq, rel=1e-5)
    assert rho[0, 0].item() == pytest.approx(sq, rel=1e-5)
    assert rho[1, 1].item() == pytest.approx(sq, rel=1e-5)


def test_matrix_is_symmetric_and_its_diagonal_nonnegative():
    net, (x, y) = _mlp(), _data(n=7)
    rho = gradient_interference_matrix(net, F.mse_loss, x, y)
    assert rho.dtype == torch.float64 and rho.shape == (7, 7)
    torch.testing.assert_close(rho, rho.T, rtol=1e-12, atol=1e-12)
    assert (rho.diagonal() >= 0).all()
    cross = pairwise_gradient_interference(net, F.mse_loss, x[:3], y[:3], x[3:], y[3:])
    torch.testing.assert_close(cross, rho[:3, 3:], **TOL)  # float32, vmapped over different batch sizes


def test_batch_interference_is_the_mean_of_example_interference():
    # with a mean-reduced loss a batch's gradient is the mean of its examples' gradients
    net, (x, y) = _mlp(dtype=torch.float64), _data(n=6, dtype=torch.float64)
    rho = gradient_interference_matrix(net, F.mse_loss, x, y)
    batches = [(x[:2], y[:2]), (x[2:6], y[2:6])]
    rb = batch_gradient_interference(net, F.mse_loss, batches)
    expected = torch.tensor(
        [[rho[:2, :2].mean(), rho[:2, 2:].mean()], [rho[2:, :2].mean(), rho[2:, 2:].mean()]],
        dtype=torch.float64,
    )
    torch.testing.assert_close(rb, expected, rtol=1e-9, atol=1e-12)


def test_function_interference_of_a_linear_model_is_known():
    torch.manual_seed(0)
    net = nn.Linear(3, 1).double()
    x, _ = _data(n=5, dtype=torch.float64)
    rho = function_interference_matrix(net, x)
    torch.testing.assert_close(rho, x @ x.T + 1.0, rtol=1e-12, atol=1e-12)  # ∇f = (x, 1)
    assert mean_pairwise(rho) == pytest.approx(float((x @ x.T + 1).fill_diagonal_(0).sum() / 20), rel=1e-12)


def test_max_output_matches_autograd_of_the_argmax_output():
    net, (x, _) = _mlp(d_out=4), _data()
    rho = function_interference_matrix(net, x[:3], x[3:])
    g = torch.stack([_flat_grad(net, net(x[i : i + 1]).max()) for i in range(6)]).double()
    torch.testing.assert_close(rho, g[:3] @ g[3:].T, **TOL)
    assert max_output(torch.tensor([[1.0, 3.0, 2.0]])).item() == 3.0


def test_function_step_is_first_order_exactly_for_a_linear_model():
    torch.manual_seed(0)
    net = nn.Linear(3, 1).double()
    x, y = _data(n=4, dtype=torch.float64)
    xp, _ = _data(seed=2, n=5, dtype=torch.float64)
    out = function_interference_step(net, F.mse_loss, x, y, xp, lr=0.3)
    torch.testing.assert_close(out["measured"], out["first_order"], rtol=1e-9, atol=1e-12)
    assert out["measured"].abs().min() > 1e-3  # a real change, not two zeros


def test_function_step_error_is_second_order_for_an_mlp():
    net = _mlp(dtype=torch.float64)
    x, y = _data(n=4, dtype=torch.float64)
    xp, _ = _data(seed=2, n=5, dtype=torch.float64)
    errors = []
    for lr in (1e-5, 5e-6):
        out = function_interference_step(net, F.mse_loss, x, y, xp, lr=lr)
        err = (out["measured"] - out["first_order"]).abs()
        assert (err <= 1e-3 * out["first_order"].abs()).all()
        errors.append(err)
    ratio = errors[0] / errors[1]
    assert ((ratio > 3) & (ratio < 5)).all()


def test_probes_leave_the_model_unchanged():
    net, (x, y) = _mlp(), _data()
    net.train()
    before = [p.detach().clone() for p in net.parameters()]
    gradient_interference_matrix(net, F.mse_loss, x, y)
    function_interference_step(net, F.mse_loss, x, y, x, lr=0.1)
    td_interference_matrix(net, x, y[:, 0], x.flip(0), torch.full((6,), 0.9))
    assert net.training
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))


def _td_batch(n=5, seed=3):
    g = torch.Generator().manual_seed(seed)
    s, s2 = (
        torch.randn(n, 3, generator=g, dtype=torch.float64),
        torch.randn(n, 3, generator=g, dtype=torch.float64),
    )
    r = torch.randn(n, generator=g, dtype=torch.float64)
    discount = 0.9 * (torch.rand(n, generator=g) > 0.3).double()
    return s, r, s2, discount


def test_td_with_zero_discount_is_regression_to_the_reward():
    net = _mlp(dtype=torch.float64)
    s, r, s2, _ = _td_batch()
    zero = torch.zeros(len(s), dtype=torch.float64)
    live = td_interference_matrix(net, s, r, s2, zero, target="live")
    frozen = td_interference_matrix(net, s, r, s2, zero, target="frozen")
    reg = gradient_interference_matrix(net, _half_sq, s, r[:, None])
    torch.testing.assert_close(live, reg, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(frozen, reg, rtol=1e-9, atol=1e-12)


def test_td_frozen_is_symmetric_and_live_includes_the_successor():
    net = _mlp(dtype=torch.float64)
    s, r, s2, disc = _td_batch()
    frozen = td_interference_matrix(net, s, r, s2, disc, target="frozen")
    torch.testing.assert_close(frozen, frozen.T, rtol=1e-12, atol=1e-12)
    live = td_interference_matrix(net, s, r, s2, disc)
    assert not torch.allclose(live, live.T, rtol=1e-3)
    t = td_gradients(net, s, r, s2, disc)
    i = int(torch.nonzero(disc > 0)[0])  # a non-terminal transition: its successor counts
    j = (i + 2) % len(s)
    gs = _flat_grad(net, net(s[i : i + 1]).sum()).double()
    gp = _flat_grad(net, net(s2[i : i + 1]).sum()).double()
    expected = t["delta"][i] * (gs - disc[i] * gp) @ t["update"][j]
    assert live[i, j].item() == pytest.approx(expected.item(), rel=1e-9)
    with pytest.raises(ValueError):
        td_interference_matrix(net, s, r, s2, disc, target="semi")


def test_td_live_interference_predicts_the_td_loss_change():
    # a semi-gradient step of size lr on transition j changes ½δ_i² (target live) by ≈ −lr ρ_ij
    net = _mlp(dtype=torch.float64)
    s, r, s2, disc = _td_batch()
    live = td_interference_matrix(net, s, r, s2, disc)
    u = td_gradients(net, s, r, s2, disc)["update"]
    lr, j = 1e-5, 1

    def td_loss():
        with torch.no_grad():
            return 0.5 * (net(s)[:, 0] - (r + disc * net(s2)[:, 0])) ** 2

    before = td_loss()
    with torch.no_grad():
        for p, step in zip(net.parameters(), torch.split(u[j], [p.numel() for p in net.parameters()])):
            p.sub_(lr * step.view_as(p))
    change = td_loss() - before
    torch.testing.assert_close(change, -lr * live[:, j], rtol=1e-3, atol=1e-14)


def test_bad_shapes_are_rejected():
    net, (x, y) = _mlp(), _data()
    with pytest.raises(ValueError):
        gradient_interference_matrix(net, F.mse_loss, x, y[:3])
    with pytest.raises(ValueError):
        mean_pairwise(torch.zeros(1, 1))
    with pytest.raises(ValueError):
        td_interference_matrix(_mlp(d_out=2), x, y[:, 0], x, torch.ones(6))
