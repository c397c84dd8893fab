"""Fréchet distance against closed forms and scipy, the other sample metrics, digits and sprites."""

import numpy as np
import pytest
import scipy.linalg
import torch

from replab.data.digits_pm1 import load_digits_pm1
from replab.data.sprites import SHAPES, make_sprites, object_mask
from replab.diffusion.metrics import (
    accuracy,
    frechet_distance,
    frechet_distance_features,
    gaussian_stats,
    nearest_neighbour_distance,
    train_classifier,
)


def _random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_fd_of_a_gaussian_to_itself_is_zero():
    rng = np.random.default_rng(0)
    mu, s = rng.normal(size=8), _random_cov(rng, 8)
    assert abs(frechet_distance(mu, s, mu, s)) < 1e-8  # sqrtm(S²) = S up to round-off


def test_fd_matches_closed_form_and_scipy():
    # diagonal (commuting) covariances: FD = |μ1 − μ2|² + Σ (sqrt(a) − sqrt(b))², exact
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = 1 + 0 + 4 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 1) ** 2
    assert abs(frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) - expected) < 1e-9
    # general covariances: against scipy's symmetric form tr(S1 + S2 − 2 (S1^½ S2 S1^½)^½), 1e-6 relative
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = _random_cov(rng, 6), _random_cov(rng, 6)
    r1 = scipy.linalg.sqrtm(s1).real
    ref = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(r1 @ s2 @ r1).real)
    assert abs(frechet_distance(mu1, s1, mu2, s2) - ref) < 1e-6 * abs(ref)
    # 1-d: (μ1 − μ2)² + (σ1 − σ2)²
    assert abs(frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) - (9 + 1)) < 1e-12
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(np.zeros(2), np.eye(3), np.zeros(2), np.eye(3))


def test_fd_of_samples_converges():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20000, 4)), rng.normal(size=(20000, 4))
    assert frechet_distance_features(a, b) < 0.01  # two samples of one Gaussian: O(d/N) bias
    mu, s = gaussian_stats(a + 1.0)
    assert abs(mu.mean() - 1) < 0.05 and abs(np.trace(s) - 4) < 0.2


def test_classifier_nn_distance_and_digits():
    x, y = load_digits_pm1()
    assert x.shape == (1797, 1, 8, 8) and x.min() == -1 and x.max() == 1 and int(y.max()) == 9
    assert load_digits_pm1(16)[0].shape == (1797, 1, 16, 16)
    clf = train_classifier(x[:1400], y[:1400], steps=300, generator=torch.Generator().manual_seed(0))
    acc = float((clf(x[1400:]).argmax(-1) == y[1400:]).float().mean())
    assert acc > 0.85  # A.7: ~97% at full training; 300 steps here
    assert accuracy(clf, x[1400:], y[1400:]) == pytest.approx(acc, abs=1e-6)
    assert accuracy(clf, x[1400:], (clf(x[1400:]).argmax(-1) + 1) % 10) == 0.0  # every label wrong
    assert clf.features(x[:5]).shape == (5, 64)
    assert nearest_neighbour_distance(x[:10], x) == 0.0  # training images are their own neighbours
    assert nearest_neighbour_distance(x[:10] + 0.1, x[:10]) == pytest.approx(0.1 * 8, rel=1e-6)


def test_sprites():
    imgs, labels, masks = make_sprites(64, np.random.default_rng(0), size=16)
    assert imgs.shape == (64, 3, 16, 16) and imgs.min() >= -1 and imgs.max() <= 1
    assert set(labels.tolist()) <= set(range(len(SHAPES)))
    frac = masks.float().mean((1, 2))
    assert 0.05 < float(frac.min()) and float(frac.max()) < 0.3  # ≈ 10–20% of the image (pixelised)
    found = object_mask(imgs)
    agree = (found == masks).float().mean()
    assert float(agree) > 0.99  # the colour threshold recovers the drawn object
