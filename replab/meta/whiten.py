"""Reward whitening for RL² (seed003 §C.2.5): a running mean and variance computed online and applied at each
time step, separately per task during meta-training and shared across the test distribution at test time
(§C.8: RL² reads the reward as an input, so unnormalised task rewards break task inference)."""

from __future__ import annotations

import torch


class RunningWhitener:
    """Per-key running statistics (Chan et al.'s parallel update of count, mean and M2). `update(r, keys)`
    adds one time step's rewards of a batch, grouped by key; `whiten(r, keys)` is (r − mean) / (std + eps)
    with each reward's own key's statistics. Use one key (0) for shared statistics."""

    def __init__(self, n_keys: int, eps: float = 1e-8):
        if n_keys < 1:
            raise ValueError(f"n_keys must be >= 1, got {n_keys}")
        self.count = torch.zeros(n_keys, dtype=torch.float64)
        self.mean = torch.zeros(n_keys, dtype=torch.float64)
        self.m2 = torch.zeros(n_keys, dtype=torch.float64)
        self.eps = eps

    def update(self, r: torch.Tensor, keys: torch.Tensor) -> None:
        r, keys = r.detach().double().reshape(-1), keys.reshape(-1).long()
        n_keys = len(self.count)
        if keys.numel() and (keys.min() < 0 or keys.max() >= n_keys):
            raise ValueError(f"whitening keys must be in [0, {n_keys}), got {keys.min()}..{keys.max()}")
        n = torch.zeros(n_keys, dtype=torch.float64).index_add_(0, keys, torch.ones_like(r))
        s = torch.zeros(n_keys, dtype=torch.float64).index_add_(0, keys, r)
        mean_b = s / n.clamp(min=1)
        m2_b = torch.zeros(n_keys, dtype=torch.float64).index_add_(0, keys, (r - mean_b[keys]) ** 2)
        total = self.count + n
        delta = mean_b - self.mean
        safe = total.clamp(min=1)
        self.mean = self.mean + delta * n / safe
        self.m2 = self.m2 + m2_b + delta**2 * self.count * n / safe
        self.count = total

    @property
    def var(self) -> torch.Tensor:
        return self.m2 / self.count.clamp(min=1)

    def whiten(self, r: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        k = keys.long()
        out = (r.double() - self.mean[k]) / (self.var[k].sqrt() + self.eps)
        return torch.where(self.count[k] > 1, out, torch.zeros_like(out)).to(r.dtype)

    def __call__(self, r: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Update with this step's rewards, then whiten them (online, as at each time step of a rollout)."""
        self.update(r, keys)
        return self.whiten(r, keys)
