"""CARML's task scaffold q_φ(s, z) and its E-step (seed003 §C.2.4, Algorithms 9/10; reduced plan §C.7).

`fit_scaffold` runs DeepCluster-style trajectory-level discriminative clustering on a reservoir of state
trajectories: embed every state with the encoder g, PCA-whiten (scikit-learn) and ℓ2-normalise, cluster the
trajectories with trajectory-level k-means (every state gets its trajectory's pseudo-label), re-initialise the
linear head and train g with cross-entropy on class-balanced samples; repeat. The last round fits the
trajectory-level GMM (`replab.meta.gmm`) on the final embeddings: q(s|z), q(s) = Σ_k π_k q(s|k), q(z) = π.

`Scaffold.reward(obs, z)` is Eq. 4.8: r_z(s) = λ log q(s|z) − log q(s). `DiscriminativeScaffold` is the
purely discriminative variant (§C.2.6, §C.7 (v)): a classifier q(z|s) trained on the z the policy was
conditioned on, z uniform, reward log softmax(logits / temperature)[z] (temperature ≥ 3, §C.8).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from replab.meta.gmm import TrajectoryGMM, trajectory_kmeans


class ConvEncoder(nn.Module):
    """conv3×3(3→16) → ReLU → conv3×3 s2(16→32) → ReLU → linear(→dim) (§C.7) on (n, 3, 15, 15) uint8."""

    def __init__(self, dim: int = 32):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU()
        )
        self.fc = nn.Linear(32 * 8 * 8, dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


def to_input(obs) -> torch.Tensor:
    """uint8 (..., 3, 15, 15) → float (N, 3, 15, 15) in [0, 1]."""
    x = torch.as_tensor(obs)
    return x.reshape(-1, *x.shape[-3:]).float() / 255.0


@torch.no_grad()
def embed(encoder: nn.Module, obs: np.ndarray, chunk: int = 4096) -> np.ndarray:
    flat = obs.reshape(-1, *obs.shape[-3:])
    out = [encoder(to_input(flat[i : i + chunk])).numpy() for i in range(0, len(flat), chunk)]
    return np.concatenate(out).reshape(*obs.shape[:-3], -1)


class Whitening:
    """PCA-whiten to `dim` (scikit-learn PCA, whiten=True) then ℓ2-normalise (DeepCluster's preprocessing)."""

    def __init__(self, dim: int, seed: int = 0):
        self.dim, self.seed = dim, seed

    def fit(self, feats: np.ndarray) -> Whitening:
        from sklearn.decomposition import PCA

        flat = feats.reshape(-1, feats.shape[-1])
        self.pca = PCA(min(self.dim, flat.shape[1], len(flat)), whiten=True, random_state=self.seed).fit(flat)
        return self

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        flat = self.pca.transform(feats.reshape(-1, feats.shape[-1]))
        flat /= np.linalg.norm(flat, axis=1, keepdims=True) + 1e-8
        return flat.reshape(*feats.shape[:-1], -1)


def train_head(encoder, head, obs_flat, labels, k, epochs, lr, batch, gen, log=None) -> float:
    """Cross-entropy training of encoder + head on (state, pseudo-label), class-balanced sampling (each class
    equally likely, DeepCluster); returns the last epoch's mean loss."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    weights = torch.as_tensor(np.where(counts[labels] > 0, 1.0 / counts[labels], 0.0))
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
    y_all = torch.as_tensor(np.asarray(labels, dtype=np.int64))
    steps = max(1, len(labels) // batch)
    loss_sum = 0.0
    for _ in range(epochs):
        loss_sum = 0.0
        for _ in range(steps):
            idx = torch.multinomial(weights, batch, replacement=True, generator=gen)
            loss = F.cross_entropy(head(encoder(to_input(obs_flat[idx.numpy()]))), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += float(loss.detach())
            if log is not None:
                log()  # e.g. a health Monitor's step
    return loss_sum / steps


class Scaffold:
    """The mixture scaffold q_φ(s, z) = GMM(whiten(g(s))) with reward Eq. 4.8."""

    def __init__(self, encoder: nn.Module, whitening: Whitening, gmm: TrajectoryGMM, lam: float = 0.99):
        self.encoder, self.whitening, self.gmm, self.lam = encoder, whitening, gmm, lam
        self.k = gmm.k

    def features(self, obs: np.ndarray) -> np.ndarray:
        return self.whitening(embed(self.encoder, obs))

    def prior(self) -> np.ndarray:
        return self.gmm.weights

    def log_probs(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log q(s|z) (..., K), log q(s) (...,))."""
        from scipy.special import logsumexp

        lp = self.gmm.log_prob_states(self.features(obs))
        return lp, logsumexp(lp + np.log(self.gmm.weights), axis=-1)

    def reward(self, obs: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Eq. 4.8: λ log q(s|z) − log q(s) for states obs (n, ...) and tasks z (n,)."""
        lp, marginal = self.log_probs(obs)
        return self.lam * np.take_along_axis(lp, np.asarray(z)[:, None], 1)[:, 0] - marginal

    def assign(self, obs: np.ndarray) -> np.ndarray:
        """Each trajectory's component, argmax_k q(z = k | τ) (Eq. 4.16), for obs (N, T, ...)."""
        log_q, _ = self.gmm.responsibilities(self.features(obs))
        return log_q.argmax(1)


def fit_scaffold(
    encoder: nn.Module,
    obs: np.ndarray,
    *,
    k: int = 8,
    rounds: int = 5,
    pca_dim: int = 16,
    epochs: int = 1,
    lr: float = 1e-3,
    batch: int = 128,
    lam: float = 0.99,
    covariance: str = "full",
    reg: float = 1e-3,
    seed: int = 0,
    tick=None,
) -> tuple[Scaffold, dict]:
    """Algorithm 9 on trajectories obs (N, T, 3, 15, 15): `rounds` DeepCluster rounds (trajectory-level
    k-means pseudo-labels, a fresh linear head each round, `epochs` of class-balanced cross-entropy), then the
    trajectory-level GMM on the final embeddings. Trains `encoder` in place; returns the scaffold and stats."""
    n, t = obs.shape[:2]
    if n < k:
        raise ValueError(f"the reservoir holds {n} trajectories, fewer than k = {k} components; collect more")
    gen = torch.Generator().manual_seed(seed)
    flat = obs.reshape(n * t, *obs.shape[2:])
    losses, sizes = [], []
    for r in range(rounds):
        w = Whitening(pca_dim, seed).fit(embed(encoder, obs))
        labels, _ = trajectory_kmeans(w(embed(encoder, obs)), k, seed + r)
        sizes.append(np.bincount(labels, minlength=k).tolist())
        head = nn.Linear(encoder.dim, k)  # re-initialised after each clustering (DeepCluster)
        state_labels = np.repeat(labels, t)  # every state gets its trajectory's pseudo-label (§C.2.4)
        losses.append(train_head(encoder, head, flat, state_labels, k, epochs, lr, batch, gen, tick))
    whitening = Whitening(pca_dim, seed).fit(embed(encoder, obs))
    x = whitening(embed(encoder, obs))
    gmm = TrajectoryGMM(k, covariance, reg).fit(x, seed=seed)
    stats = {"head_loss": losses, "cluster_sizes": sizes, "gmm_weights": gmm.weights.tolist()}
    return Scaffold(encoder, whitening, gmm, lam), stats


class DiscriminativeScaffold:
    """The online discriminator (§C.2.6, §C.7 (v)): q(z|s) = softmax(classifier(s) / temperature), z ~ U{K};
    reward log q(z|s) (λ = 1: DIAYN without the policy entropy)."""

    def __init__(self, encoder: nn.Module, k: int, temperature: float = 3.0):
        if temperature < 1:
            raise ValueError(f"temperature must be >= 1 (§C.8 needs >= 3), got {temperature}")
        self.encoder, self.k, self.temperature = encoder, k, temperature
        self.head = nn.Linear(encoder.dim, k)

    def fit(self, obs: np.ndarray, z: np.ndarray, *, epochs=1, lr=1e-3, batch=128, seed=0, tick=None) -> dict:
        """Cross-entropy on (state, the z its trajectory's policy was conditioned on)."""
        n, t = obs.shape[:2]
        gen = torch.Generator().manual_seed(seed)
        flat = obs.reshape(n * t, *obs.shape[2:])
        loss = train_head(
            self.encoder, self.head, flat, np.repeat(z, t), self.k, epochs, lr, batch, gen, tick
        )
        return {"head_loss": [loss], "cluster_sizes": [np.bincount(z, minlength=self.k).tolist()]}

    def prior(self) -> np.ndarray:
        return np.full(self.k, 1.0 / self.k)

    @torch.no_grad()
    def reward(self, obs: np.ndarray, z: np.ndarray) -> np.ndarray:
        logits = self.head(self.encoder(to_input(obs))) / self.temperature
        return F.log_softmax(logits, 1)[torch.arange(len(z)), torch.as_tensor(z)].double().numpy()

    @torch.no_grad()
    def assign(self, obs: np.ndarray) -> np.ndarray:
        n, t = obs.shape[:2]
        logits = self.head(self.encoder(to_input(obs))).reshape(n, t, -1)
        return F.log_softmax(logits / self.temperature, -1).sum(1).argmax(1).numpy()
