"""Schedules, Algorithm 1's training step, Algorithm 5's samplers and the RIN's self-conditioning path."""

import math

import pytest
import torch

from replab.diffusion import (
    EMA,
    ddim_step,
    ddpm_step,
    diffusion_loss,
    gamma_sigmoid,
    make_schedule,
    noisy,
    sample,
    x0_from_eps,
)
from replab.nn.rin import RIN


def tiny_rin(**kw):
    args = dict(image_size=8, channels=1, patch=2, dim_x=16, dim_z=32, num_latents=4, blocks=2, depth=1)
    args.update(kw)
    return RIN(heads=4, **args)


@pytest.mark.parametrize("name", ["cosine", "sigmoid", "linear"])
def test_schedule_endpoints_and_monotone(name):
    gamma = make_schedule(name)
    t = torch.linspace(0, 1, 1001, dtype=torch.float64)
    g = gamma(t)
    assert abs(float(g[0]) - 1) < 1e-6  # γ(0) = 1 (cosine: 1 − 1e-7, A.2.4)
    assert float(g[-1]) < 1e-6  # γ(1) ≈ 0 (cosine: 6e-9; sigmoid and linear: clip_min 1e-9)
    assert (g[1:] <= g[:-1]).all()  # monotone non-increasing
    assert ((g > 0) & (g <= 1)).all()


def test_sigmoid_fix_is_finite_where_the_typo_divides_by_zero():
    # seed003 A.2.4: with v_end = sigmoid(start / τ) the denominator is 0; ours uses `end`
    g = gamma_sigmoid(torch.tensor([0.0, 0.5, 1.0]), start=-3, end=3, tau=0.9)
    assert torch.isfinite(g).all() and abs(float(g[1]) - 0.5) < 1e-6  # symmetric: γ(½) = ½
    with pytest.raises(ValueError, match="end > start"):
        gamma_sigmoid(torch.tensor([0.5]), start=3, end=3)
    with pytest.raises(ValueError, match="unknown noise schedule"):
        make_schedule("cosin")


def test_input_scaling_keeps_unit_variance():
    g = torch.tensor(0.3)
    x0 = torch.rand(200_000) * 2 - 1  # variance 1/3, but noisy() normalises assuming var(x0) ≈ 1
    x0 = x0 / x0.std()
    x_t = noisy(x0, torch.randn(200_000), g, input_scale=0.5)
    assert abs(float(x_t.std()) - 1) < 0.01  # 200k samples: std error ≈ 0.002


@pytest.mark.parametrize("t_now,t_next", [(1.0, 0.9), (0.5, 0.4), (0.1, 0.0)])
def test_ddim_step_with_perfect_eps_recovers_x0(t_now, t_next):
    """With the true ε, x̂₀ = x₀ exactly up to round-off, and a DDIM step lands on the forward process at
    t_next with the same ε. Tolerance 1e-4 (float64 except at t = 1, where 1/sqrt(γ) ≈ 1.3e4 amplifies
    round-off: x₀ is compared at 1e-4 · 1.3e4 · 1e-16 ≪ 1e-4 in float64)."""
    gamma = make_schedule("cosine")
    x0 = torch.rand(4, 1, 8, 8, dtype=torch.float64) * 2 - 1
    eps = torch.randn(4, 1, 8, 8, dtype=torch.float64)
    gn, gx = gamma(torch.tensor(t_now, dtype=torch.float64)), gamma(torch.tensor(t_next, dtype=torch.float64))
    x_t = gn.sqrt() * x0 + (1 - gn).sqrt() * eps
    x_pred = x0_from_eps(x_t, eps, gn)
    torch.testing.assert_close(x_pred, x0, atol=1e-4, rtol=0)
    x_next = ddim_step(x_t, x_pred, gn, gx)
    torch.testing.assert_close(x_next, gx.sqrt() * x0 + (1 - gx).sqrt() * eps, atol=1e-4, rtol=0)


def test_ddpm_step_mean_and_clipping():
    gamma = make_schedule("cosine")
    gn, gx = gamma(torch.tensor(0.6)), gamma(torch.tensor(0.5))
    x0 = torch.zeros(20000)
    eps = torch.randn(20000)
    x_t = gn.sqrt() * x0 + (1 - gn).sqrt() * eps
    out = ddpm_step(x_t, x0.clone(), gn, gx, generator=torch.Generator().manual_seed(0))
    # the posterior q(x_next | x_t, x0 = 0) is centred at c·x_t with c = sqrt(α)(1 − γ_next)/(1 − γ_now)
    alpha = gn / gx
    c = alpha.sqrt() * (1 - gx) / (1 - gn)
    resid = out - c * x_t
    assert abs(float(resid.mean())) < 0.02 and abs(float(resid.std()) - float((1 - alpha).sqrt())) < 0.02
    # a wild x̂₀ is clipped to [−scale, scale] before use
    big = ddim_step(x_t, torch.full_like(x0, 50.0), gn, gx, scale=1.0)
    ref = ddim_step(x_t, torch.ones_like(x0), gn, gx, scale=1.0)
    torch.testing.assert_close(big, ref)
    big = ddpm_step(x_t, torch.full_like(x0, 50.0), gn, gx, 1.0, torch.Generator().manual_seed(3))
    ref = ddpm_step(x_t, torch.ones_like(x0), gn, gx, 1.0, torch.Generator().manual_seed(3))
    torch.testing.assert_close(big, ref)  # the same clip in the DDPM step


def test_bootstrap_pass_gets_no_gradient():
    torch.manual_seed(0)
    model = tiny_rin(num_classes=3)
    seen = []

    def hook(module, args, kwargs, output):
        seen.append((torch.is_grad_enabled(), kwargs["prev_latents"]))

    handle = model.register_forward_hook(hook, with_kwargs=True)
    x0 = torch.rand(8, 1, 8, 8) * 2 - 1
    y = torch.randint(0, 3, (8,))
    loss, metrics = diffusion_loss(
        model,
        x0,
        y,
        gamma=make_schedule("cosine"),
        self_cond_rate=1.0,
        generator=torch.Generator().manual_seed(0),
    )
    handle.remove()
    assert len(seen) == 2 and metrics["train/self_cond_fraction"] == 1.0
    assert seen[0][0] is False  # bootstrap pass under no_grad
    assert seen[1][0] is True and not seen[1][1].requires_grad  # its latents carry no graph
    loss.backward()
    assert model.self_cond_norm.weight.grad is not None  # the LayerNorm learns (its output starts at 0)


def test_rate_zero_uses_none_and_per_example_coin():
    model = tiny_rin()
    calls, batches = [], []

    def hook(m, a, k, o):
        calls.append(k["prev_latents"])
        batches.append(a[0].shape[0])

    model.register_forward_hook(hook, with_kwargs=True)
    x0 = torch.rand(64, 1, 8, 8) * 2 - 1
    g = torch.Generator().manual_seed(1)
    diffusion_loss(model, x0, None, gamma=make_schedule("cosine"), self_cond_rate=0.0, generator=g)
    assert calls == [None]
    calls.clear()
    batches.clear()
    _, m = diffusion_loss(model, x0, None, gamma=make_schedule("cosine"), self_cond_rate=0.5, generator=g)
    assert 0 < m["train/self_cond_fraction"] < 1  # per example, not per batch (64 coins)
    # the bootstrap pass runs on the coin's examples only, from zeros (one row, broadcast by the RIN)
    assert batches == [round(64 * m["train/self_cond_fraction"]), 64]
    assert calls[0].shape == (1, 1, 32) and not calls[0].any() and calls[1].shape == (64, 4, 32)


def test_zero_init_layernorm_makes_self_conditioned_forward_equal_plain():
    """At initialisation LN₀(·) = 0 · norm + 0 = 0, so Z_emb + LN₀(...) = Z_emb. Different computations
    (an added zero tensor): compared at 1e-6, not bit for bit."""
    torch.manual_seed(0)
    model = tiny_rin(num_classes=10)
    x = torch.randn(3, 1, 8, 8)
    t = torch.rand(3)
    y = torch.tensor([1, 2, 3])
    plain, z_plain = model(x, t, y)
    cond, z_cond = model(x, t, y, prev_latents=torch.randn(3, 4, 32) * 5)
    torch.testing.assert_close(cond, plain, atol=1e-6, rtol=0)
    torch.testing.assert_close(z_cond, z_plain, atol=1e-6, rtol=0)
    with torch.no_grad():
        model.self_cond_norm.weight.fill_(1.0)
    moved, _ = model(x, t, y, prev_latents=torch.randn(3, 4, 32))
    assert (moved - plain).abs().max() > 1e-3  # once trained, the warm start matters


def test_sampler_passes_none_or_zeros():
    model = tiny_rin()
    calls = []
    model.register_forward_hook(lambda m, a, k, o: calls.append(k["prev_latents"]), with_kwargs=True)
    gamma = make_schedule("cosine")
    out = sample(
        model, 2, gamma=gamma, steps=3, self_condition=False, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == (2, 1, 8, 8) and calls == [None, None, None]
    calls.clear()
    sample(model, 2, gamma=gamma, steps=3, sampler="ddim", self_condition=True)
    assert torch.equal(calls[0], torch.zeros(2, 4, 32))  # starts from zeros (A.8: zeros ≠ None) ...
    assert not torch.equal(calls[1], calls[0])  # ... then carries the last step's latents


def test_samples_are_clipped_and_finite_for_an_untrained_model():
    model = tiny_rin()
    out = sample(
        model, 4, gamma=make_schedule("cosine"), steps=5, sampler="ddim", generator=torch.Generator()
    )
    # DDIM's last step lands at γ(0) = 1 − 1e-7: x̂₀ (clipped to ±1) + sqrt(1 − γ(0)) ε ≈ 3e-4 · |ε|
    assert torch.isfinite(out).all() and out.abs().max() <= 1.01


def test_read_attention_capture():
    model = tiny_rin(num_classes=2)
    model.capture_read = True
    model(torch.randn(2, 1, 8, 8), torch.rand(2), torch.tensor([0, 1]))
    assert len(model.read_attention) == 2
    w = model.read_attention[0]
    assert w.shape == (2, 4, 4 + 2, 16)  # (B, heads, latents + time + class tokens, patches)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 4, 6))


def test_rin_validates_and_learns():
    with pytest.raises(ValueError, match="divisible by patch"):
        RIN(image_size=8, patch=3)
    with pytest.raises(ValueError, match="pass y"):
        tiny_rin(num_classes=2)(torch.randn(1, 1, 8, 8), torch.rand(1))
    torch.manual_seed(0)
    model = tiny_rin()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    x0 = (torch.rand(16, 1, 8, 8) > 0.5).float() * 2 - 1
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(20):
        loss, _ = diffusion_loss(
            model, x0, None, gamma=make_schedule("cosine"), self_cond_rate=0.9, generator=g
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5 and math.isfinite(losses[-1])


def test_ema_tracks_with_warmup():
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, decay=0.999, warmup=True)
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)  # β_0 = min(0.999, 1/10) = 0.1: the average moves 90% of the way
    torch.testing.assert_close(ema.model.weight, model.weight - 0.1, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.0)


def test_ema_with_constant_decay_is_the_thesis_average():
    """warmup=False (the thesis's constant β): after n updates toward a fixed target w the average is
    w − βⁿ (w − w₀)."""
    model = torch.nn.Linear(2, 2)
    ema = EMA(model, decay=0.9, warmup=False)
    start = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    for _ in range(5):
        ema.update(model)
    torch.testing.assert_close(
        ema.model.weight, model.weight - 0.9**5 * (model.weight - start), atol=1e-6, rtol=0
    )


def test_latents_only_pass_gives_the_same_latents():
    """The bootstrap pass skips the last write and the readout; the latents do not depend on them. Same
    operations up to the last read/compute, so compared at 1e-6 (not bit for bit: the full pass may be
    scheduled differently)."""
    torch.manual_seed(0)
    model = tiny_rin(num_classes=3)
    x, t, y = torch.randn(4, 1, 8, 8), torch.rand(4), torch.tensor([0, 1, 2, 0])
    prev = torch.randn(4, 4, 32)
    eps, z = model(x, t, y, prev_latents=prev)
    none, z_only = model(x, t, y, prev_latents=prev, latents_only=True)
    assert none is None
    torch.testing.assert_close(z_only, z, atol=1e-6, rtol=0)
