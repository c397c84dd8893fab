"""Sample-quality metrics without Inception weights (seed003 A.7 "Metric"): the Fréchet distance on the
features of a small classifier trained in-process, conditional accuracy, nearest-neighbour distance to
the training set (a memorisation check)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch
from torch import nn


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of features (N, d), in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be (N >= 2, d), got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """‖μ1 − μ2‖² + tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) between two Gaussians (Heusel et al. 2017), with the matrix
    square root from scipy.linalg.sqrtm; a singular product is regularised with eps·I as in the FID code."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape}, {mu2.shape}; sigma {s1.shape}, {s2.shape}")
    with warnings.catch_warnings():  # a singular product (fewer samples than dimensions) is expected
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            offset = np.eye(s1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)  # round-off leaves tiny imaginary parts
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def frechet_distance_features(a, b) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (N, d) and (M, d)."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


class FeatureClassifier(nn.Module):
    """The FD-digits network of seed003 A.7: an MLP pixels → 256 → 64 → classes; `features` is the 64-d
    penultimate layer."""

    def __init__(self, pixels: int, classes: int, width: int = 256, feature_dim: int = 64):
        super().__init__()
        self.body = nn.Sequential(
            nn.Flatten(), nn.Linear(pixels, width), nn.ReLU(), nn.Linear(width, feature_dim), nn.ReLU()
        )
        self.head = nn.Linear(feature_dim, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def train_classifier(
    x: torch.Tensor, y: torch.Tensor, *, steps: int = 600, batch: int = 128, lr: float = 2e-3, generator=None
) -> FeatureClassifier:
    """Fit the feature classifier on images x (N, C, H, W) with labels y (N,) (Adam, a few seconds)."""
    model = FeatureClassifier(x[0].numel(), int(y.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    for _ in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=generator)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval().requires_grad_(False)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of x the classifier assigns to y (conditional accuracy when y are the sampled classes)."""
    return float((model(x).argmax(-1) == y).float().mean())


@torch.no_grad()
def nearest_neighbour_distance(samples: torch.Tensor, train: torch.Tensor) -> float:
    """Mean over samples of the L2 distance to the nearest training image (memorisation check, A.7)."""
    d = torch.cdist(samples.flatten(1).double(), train.flatten(1).double())
    return float(d.min(dim=1).values.mean())
