"""Plasticity-side probes: curvature, gradient statistics, the plasticity probe, Monitor model probes."""

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replab.probe import (
    MODEL_PROBES,
    Monitor,
    ProbeTask,
    covariance_summary,
    fit_task,
    gradient_covariance,
    gradient_interference,
    gradient_norm,
    hessian_top_eigenvalue,
    per_example_gradients,
    plasticity_probe,
    probe_loss,
    weight_norm,
)


class Quadratic(nn.Module):
    """θ ↦ θ (the loss 0.5 θᵀAθ is in loss_fn), so the Hessian is exactly A."""

    def __init__(self, d):
        super().__init__()
        self.theta = nn.Parameter(torch.ones(d, dtype=torch.float64))

    def forward(self, x):
        return self.theta


def quad_loss(theta, a):
    return 0.5 * theta @ a @ theta


def test_power_iteration_recovers_top_eigenvalue_of_known_quadratic():
    g = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g, dtype=torch.float64))
    eigs = torch.tensor([7.0, 3.0, 2.0, 1.0, 0.5, -1.0], dtype=torch.float64)
    a = q @ torch.diag(eigs) @ q.T
    top = hessian_top_eigenvalue(Quadratic(6), quad_loss, torch.zeros(1), a, iters=200, tol=0)
    assert top == pytest.approx(7.0, rel=1e-9)


def test_largest_eigenvalue_of_an_indefinite_hessian_uses_a_shift():
    g = torch.Generator().manual_seed(2)
    q, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor([-9.0, 4.0, 1.0, 0.5, -2.0], dtype=torch.float64)) @ q.T
    kw = {"iters": 400, "tol": 0}
    assert hessian_top_eigenvalue(
        Quadratic(5), quad_loss, torch.zeros(1), a, which="magnitude", **kw
    ) == pytest.approx(-9.0)
    assert hessian_top_eigenvalue(Quadratic(5), quad_loss, torch.zeros(1), a, **kw) == pytest.approx(
        4.0, rel=1e-8
    )


def test_power_iteration_on_least_squares_matches_eigvalsh():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 5, generator=g, dtype=torch.float64)
    y = torch.randn(40, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(5, 1, bias=False).double()
    # mean squared error: H = (2/N) XᵀX
    expected = torch.linalg.eigvalsh(2 * x.T @ x / 40)[-1]
    got = hessian_top_eigenvalue(model, F.mse_loss, x, y, iters=300, tol=0)
    assert got == pytest.approx(float(expected), rel=1e-8)


def bn_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    "probe",
    [
        lambda m, x, y: hessian_top_eigenvalue(m, F.cross_entropy, x, y, iters=3),
        lambda m, x, y: gradient_norm(m, F.cross_entropy, x, y),
        lambda m, x, y: gradient_covariance(m, F.cross_entropy, x, y),
    ],
)
def test_model_probes_leave_model_buffers_mode_rng_and_grads_alone(probe):
    model = bn_net()
    model.eval()
    x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    before, rng = snapshot(model), torch.get_rng_state()
    probe(model, x, y)
    after = snapshot(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training and not model[1].training
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(p.grad is None for p in model.parameters())


def test_gradient_norm_and_weight_norm_match_hand_computation():
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    F.mse_loss(model(x), y).backward()
    expected = torch.sqrt(model.weight.grad.pow(2).sum() + model.bias.grad.pow(2).sum())
    model.zero_grad(set_to_none=True)
    assert gradient_norm(model, F.mse_loss, x, y) == pytest.approx(float(expected), rel=1e-12)
    w = torch.sqrt(model.weight.detach().pow(2).sum() + model.bias.detach().pow(2).sum())
    assert weight_norm(model) == pytest.approx(float(w), rel=1e-12)


def test_gradient_covariance_of_linear_regression_is_signed_input_cosine():
    # loss 0.5 (w·x − y)² per example: g_i = r_i x_i, so cos(g_i, g_j) = sign(r_i r_j) cos(x_i, x_j)
    torch.manual_seed(0)
    model = nn.Linear(4, 1, bias=False).double()
    x, y = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 1, dtype=torch.float64)

    def loss(out, target):
        return 0.5 * ((out - target) ** 2).sum()

    r = (model(x) - y).detach().squeeze(1)
    g = r[:, None] * x
    assert torch.allclose(per_example_gradients(model, loss, x, y), g, atol=1e-12)
    unit = x / x.norm(dim=1, keepdim=True)
    expected = torch.sign(r)[:, None] * torch.sign(r)[None, :] * (unit @ unit.T)
    assert torch.allclose(gradient_covariance(model, loss, x, y), expected, atol=1e-12)


def test_covariance_summary_known_answers():
    s = covariance_summary(torch.eye(8, dtype=torch.float64))
    assert s["mean_abs_cos"] == pytest.approx(0.0) and s["top_eig_fraction"] == pytest.approx(1 / 8)
    s = covariance_summary(torch.ones(8, 8, dtype=torch.float64))
    assert s["mean_abs_cos"] == pytest.approx(1.0) and s["top_eig_fraction"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="statistic"):
        gradient_interference(
            nn.Linear(2, 1), F.mse_loss, torch.randn(3, 2), torch.randn(3, 1), statistic="x"
        )


def mlp(seed=0, dead=False):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 4))
    if dead:  # every hidden unit of the first layer dead on all inputs: nothing can be fitted
        with torch.no_grad():
            net[0].bias.fill_(-1e3)
    return net


def tasks(n=3):
    g = torch.Generator().manual_seed(5)
    x = torch.randn(64, 8, generator=g)
    return [
        ProbeTask(x, torch.randint(0, 4, (64,), generator=g), F.cross_entropy, 16, seed=i) for i in range(n)
    ]


ADAM = functools.partial(torch.optim.Adam, lr=1e-2)


def test_plasticity_probe_does_not_modify_the_model_or_rng():
    model = mlp()
    before, rng = snapshot(model), torch.get_rng_state()
    out = plasticity_probe(model, tasks(), 30, ADAM)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(p.grad is None for p in model.parameters())
    assert set(out) == {"loss", "reference_loss", "plasticity_loss", "task_losses"}


def test_plasticity_probe_is_deterministic_and_zero_against_itself():
    model = mlp()
    a = probe_loss(model, tasks(), 30, ADAM)
    b = probe_loss(mlp(), tasks(), 30, ADAM)  # identical θ
    assert a == b
    assert plasticity_probe(model, tasks(), 30, ADAM, reference=mlp())["plasticity_loss"] == 0.0
    assert plasticity_probe(model, tasks(), 30, ADAM, reference=sum(a) / 3)["plasticity_loss"] == 0.0


def test_fit_task_trains_in_place_and_reports_the_gradient_norm():
    model, stats = mlp(), {}
    task = tasks(1)[0]
    start = float(task.loss_fn(model(task.x), task.y).detach())
    end = fit_task(model, task, 100, ADAM(model.parameters()), stats=stats)
    assert end < 0.5 * start and stats["grad_norm"] > 0
    stuck = {}
    dead = mlp(dead=True)
    fit_task(dead, task, 5, ADAM(dead.parameters()), stats=stuck)
    assert stuck["grad_norm"] < stats["grad_norm"]  # only the output bias can still learn


def test_fit_task_calls_on_step_after_each_step_without_changing_the_fit():
    seen = []
    a, b = mlp(), mlp()
    task = tasks(1)[0]
    plain = fit_task(a, task, 7, ADAM(a.parameters()))
    hooked = fit_task(b, task, 7, ADAM(b.parameters()), on_step=seen.append)
    assert seen == list(range(1, 8)) and hooked == plain


def test_plasticity_probe_detects_a_network_that_cannot_fit():
    out = plasticity_probe(mlp(dead=True), tasks(), 100, ADAM, reference=mlp())
    # the dead network is stuck at the label-marginal loss; a fresh one memorises 64 labels
    assert out["reference_loss"] < 0.5 * out["loss"]
    assert out["plasticity_loss"] > 0.5


def test_monitor_model_probes_are_logged():
    model = mlp()
    x, y = torch.randn(32, 8), torch.randint(0, 4, (32,))
    logged = {}
    mon = Monitor(model, x, ["1"], log=lambda m, s: logged.update(m), probes=("dormant_fraction",), every=1)
    xy_probes = [n for n in MODEL_PROBES if n != "td_interference"]  # TD's data are transitions
    for name in xy_probes:
        mon.add_model_probe(name, F.cross_entropy, (x, y))
    mon.add_model_probe(
        "gradient_interference", F.cross_entropy, lambda: (x[:8], y[:8]), statistic="top_eig_fraction"
    )
    mon.step(0)
    for name in xy_probes:
        assert torch.isfinite(torch.tensor(logged[f"probe/{name}"]))
    assert logged["probe/weight_norm"] == pytest.approx(weight_norm(model))
    with pytest.raises(ValueError, match="unknown model probe"):
        mon.add_model_probe("nope", F.cross_entropy, (x, y))
