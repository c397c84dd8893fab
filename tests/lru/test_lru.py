"""The LRU layer: initialisation on the ring, γ normalisation, parallel = sequential = step, the optimiser groups."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import kstest

from replab.nn.lru import LADDER, LRU, DenseRNN, ladder_rung, lru_param_groups, ring_init
from replab.nn.lru_model import SequenceModel


@pytest.mark.parametrize(
    "r_min,r_max,max_phase",
    [(0.0, 1.0, 2 * math.pi), (0.9, 0.999, 2 * math.pi), (0.999, 0.9999, math.pi / 10)],
)
def test_ring_init_puts_lambda_on_the_ring(r_min, r_max, max_phase):
    layer = LRU(
        4, 2000, r_min=r_min, r_max=r_max, max_phase=max_phase, generator=torch.Generator().manual_seed(0)
    )
    lam = layer.lambda_().detach()
    modulus, phase = lam.abs().double(), torch.angle(lam).double() % (2 * math.pi)
    assert modulus.min() >= r_min - 1e-6 and modulus.max() <= r_max + 1e-6
    assert phase.min() >= 0 and phase.max() <= max_phase + 1e-5
    # |λ|² ~ U[r_min², r_max²] and arg λ ~ U[0, max_phase] (LRU §3.2.2): Kolmogorov–Smirnov
    sq = (modulus**2 - r_min**2) / (r_max**2 - r_min**2)
    assert kstest(sq.numpy(), "uniform").pvalue > 1e-3
    assert kstest((phase / max_phase).numpy(), "uniform").pvalue > 1e-3


def test_gamma_initialised_to_sqrt_one_minus_modulus_squared():
    layer = LRU(4, 64, r_min=0.5, r_max=0.99, generator=torch.Generator().manual_seed(1))
    lam = layer.lambda_().detach()
    torch.testing.assert_close(layer.gamma().detach(), torch.sqrt(1 - lam.abs() ** 2), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("r_min,r_max", [(0.0, 0.9), (0.9, 0.999), (0.99, 0.9999)])
def test_gamma_keeps_state_variance_of_white_noise_near_input_variance(r_min, r_max):
    """LRU §3.3: with γ = sqrt(1−|λ|²), E|x_k|² → E|(Bu)_k|² for white-noise u, whatever |λ|; without γ it
    grows like 1/(1−|λ|²)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    normed = LRU(16, 64, r_min=r_min, r_max=r_max, generator=g)
    raw = LRU(16, 64, r_min=r_min, r_max=r_max, gamma_norm=False, generator=torch.Generator().manual_seed(2))
    L = 20_000 if r_max > 0.999 else 4000
    u = torch.randn(4, L, 16)
    with torch.no_grad():
        x = torch.view_as_real(linear_scan_states(normed, u))
        bu = raw._input(u)  # B u without γ (same B as `normed`)
        x_raw = linear_scan_states(raw, u)
    tail = slice(L // 2, None)  # stationary part
    ratio = x[:, tail].pow(2).sum(-1).mean() / bu.abs().pow(2).mean()
    assert 0.7 < ratio.item() < 1.3
    ratio_raw = x_raw[:, tail].abs().pow(2).mean() / bu.abs().pow(2).mean()
    if r_min >= 0.9:
        assert ratio_raw.item() > 5  # without γ the states blow up as |λ| → 1


def linear_scan_states(layer: LRU, u):
    from replab.nn.scan import linear_scan

    return linear_scan(layer.lambda_(), layer._input(u))


@pytest.mark.parametrize("rung", LADDER + ("exp",))
def test_parallel_sequential_and_step_agree_for_every_rung(rung):
    torch.manual_seed(0)
    model = SequenceModel(
        3,
        5,
        d_model=8,
        d_state=6,
        n_layers=2,
        pooling="none",
        recurrence=ladder_rung(rung),
        generator=torch.Generator().manual_seed(0),
    )
    x = torch.randn(2, 33, 3)
    model.train()
    model(x).sum().backward()  # BatchNorm statistics; gradients flow
    model.eval()
    with torch.no_grad():
        parallel, sequential = model(x), model(x, scan="sequential")
        state, steps = model.initial_state(2), []
        for t in range(33):
            out, state = model.step(x[:, t], state)
            steps.append(out)
    assert parallel.shape == (2, 33, 5) and parallel.dtype == torch.float32
    scale = max(1.0, parallel.abs().max().item())
    assert (parallel - sequential).abs().max() <= 1e-4 * scale
    assert (parallel - torch.stack(steps, 1)).abs().max() <= 1e-4 * scale


def test_output_is_real_and_shaped():
    layer = LRU(12, 7)
    y = layer(torch.randn(3, 20, 12))
    assert y.shape == (3, 20, 12) and not y.is_complex()


def test_param_groups_follow_the_paper():
    model = SequenceModel(2, 3, d_model=8, d_state=4, n_layers=2, recurrence=ladder_rung("lru"))
    groups = lru_param_groups(model, lr=1e-3, weight_decay=0.05, ssm_lr_factor=0.5)
    ssm = next(g for g in groups if g["name"] == "ssm")
    regular = next(g for g in groups if g["name"] == "regular")
    names = {id(p): n for n, p in model.named_parameters()}
    ssm_names = {names[id(p)].rsplit(".", 1)[-1] for p in ssm["params"]}
    assert ssm_names == {"nu_log", "theta_log", "gamma_log", "B_re", "B_im"}
    assert ssm["weight_decay"] == 0.0 and ssm["lr"] == pytest.approx(5e-4)
    assert regular["weight_decay"] == 0.05 and regular["lr"] == 1e-3
    reg_names = {names[id(p)].rsplit(".", 1)[-1] for p in regular["params"]}
    assert {"C_re", "C_im", "D"} <= reg_names
    assert len(ssm["params"]) + len(regular["params"]) == len(list(model.parameters()))


def test_lru_learns_a_delay_line_in_twenty_steps():
    """Loss falls: a 1-layer LRU fits y_t = u_{t−3} (a linear memory task) within 20 Adam steps."""
    torch.manual_seed(0)
    layer = LRU(1, 16, r_min=0.5, r_max=0.95, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(lru_param_groups(layer, 2e-2, 0.0))
    u = torch.randn(16, 64, 1)
    target = torch.nn.functional.pad(u, (0, 0, 3, 0))[:, :64]
    losses = []
    for _ in range(20):
        loss = (layer(u) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_constructors_validate():
    with pytest.raises(ValueError, match="r_min"):
        LRU(4, 4, r_min=0.9, r_max=0.5)
    with pytest.raises(ValueError, match="max_phase"):
        LRU(4, 4, max_phase=7.0)
    with pytest.raises(ValueError, match="parametrization"):
        LRU(4, 4, parametrization="polar")
    with pytest.raises(ValueError, match="nonlinearity"):
        DenseRNN(4, 4, nonlinearity="relu")
    with pytest.raises(ValueError, match="rung"):
        ladder_rung("gru")
    with pytest.raises(ValueError, match="pooling"):
        SequenceModel(2, 2, pooling="max")


def test_ring_init_moduli_statistics():
    modulus, phase = ring_init(10_000, 0.0, 1.0, 2 * math.pi, torch.Generator().manual_seed(0))
    assert abs(float((modulus**2).mean()) - 0.5) < 0.02  # uniform on the disk: E|λ|² = 1/2
    assert abs(float(phase.mean()) - math.pi) < 0.1
    assert np.isfinite(modulus.numpy()).all()
