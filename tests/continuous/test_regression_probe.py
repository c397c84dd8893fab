"""The ridge regression probe: known linear answers, λ selection, argument checks."""

import pytest
import torch

from replab.probe.regression import r2_score, ridge_probe


def _linear(n, d=5, noise=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * torch.arange(1, d + 1) + 3.0  # unscaled, off-centre features
    w = torch.randn(d, 2, generator=g)
    y = x @ w + torch.tensor([1.0, -2.0]) + noise * torch.randn(n, 2, generator=g)
    return x, y


def test_exact_linear_targets_give_r2_one():
    x, y = _linear(300)
    out = ridge_probe(x[:200], y[:200], x[200:], y[200:], l2=0.0)
    assert out.r2.shape == (2,)
    assert torch.allclose(out.r2, torch.ones(2, dtype=torch.float64), atol=1e-9)


def test_noisy_targets_give_the_known_r2():
    # y = signal + noise with var(noise) = var(signal): the best linear predictor has R² = 1/2
    g = torch.Generator().manual_seed(1)
    x = torch.randn(20_000, 1, generator=g)
    y = x[:, 0] + torch.randn(20_000, generator=g)
    out = ridge_probe(x[:10_000], y[:10_000], x[10_000:], y[10_000:], l2=1e-6)
    assert abs(out.r2.item() - 0.5) < 0.02


def test_unrelated_targets_score_near_zero_and_a_constant_predictor_scores_zero():
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(4000, 10, generator=g), torch.randn(4000, generator=g)
    out = ridge_probe(x[:2000], y[:2000], x[2000:], y[2000:])
    assert -0.02 < out.r2.item() < 0.01
    assert r2_score(y[:, None], torch.full((4000, 1), y.mean().item())).item() == pytest.approx(0.0, abs=1e-6)


def test_validation_picks_a_large_penalty_when_features_are_noise():
    # 40 noise features, 60 rows: least squares overfits; the validation split must prefer heavy shrinkage
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(160, 40, generator=g), torch.randn(160, generator=g)
    chosen = ridge_probe(x[:60], y[:60], x[60:], y[60:], grid=(1e-4, 10.0))
    fixed = ridge_probe(x[:60], y[:60], x[60:], y[60:], l2=1e-4)
    assert chosen.l2 == 10.0
    assert chosen.r2.item() > fixed.r2.item()


def test_intercept_is_not_penalised():
    x, y = _linear(200)
    out = ridge_probe(x, y, x, y, l2=1e6)  # all slopes shrunk to ~0: the prediction is the mean
    assert torch.allclose(out.weight[-1], y.double().mean(0), atol=1e-3)


def test_bad_arguments():
    x, y = _linear(50)
    with pytest.raises(ValueError, match="l2"):
        ridge_probe(x, y, x, y, l2=-1.0)
    with pytest.raises(ValueError, match="val_fraction"):
        ridge_probe(x, y, x, y, val_fraction=1.0)
    with pytest.raises(ValueError, match="length"):
        ridge_probe(x, y[:10], x, y, l2=0.1)
