"""A FIFO memory queue of embeddings with labels and sample ids (MoCo's negatives, SemPPL's Q and Q_L)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class EmbeddingQueue(nn.Module):
    """Keeps the last `size` embeddings (D,) pushed, with a label (−1 = unknown) and a sample id each.

    The contents are buffers, so they move with `.to(device)` and are saved in `state_dict()`. Pushed
    embeddings are detached: the queue never carries gradients (MoCo §3.2, SemPPL's target embeddings).
    """

    def __init__(self, size: int, dim: int):
        super().__init__()
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        if dim < 1:
            raise ValueError(f"dim must be >= 1, got {dim}")
        self.size, self.dim = size, dim
        self.register_buffer("z", torch.zeros(size, dim))
        self.register_buffer("labels", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ids", torch.full((size,), -1, dtype=torch.long))
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def push(self, z: Tensor, labels: Tensor | None = None, ids: Tensor | None = None) -> None:
        """Append z (B, D) (oldest entries are overwritten); labels/ids (B,) default to −1."""
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"z must be (B, {self.dim}), got {tuple(z.shape)}")
        b = z.shape[0]
        if b > self.size:  # only the newest `size` survive
            z = z[-self.size :]
            labels = labels[-self.size :] if labels is not None else None
            ids = ids[-self.size :] if ids is not None else None
            b = self.size
        idx = (self.ptr + torch.arange(b, device=self.z.device)) % self.size
        self.z[idx] = z.detach().to(self.z.dtype)
        self.labels[idx] = labels.to(self.labels) if labels is not None else -1
        self.ids[idx] = ids.to(self.ids) if ids is not None else -1
        self.ptr.copy_((self.ptr + b) % self.size)
        self.count.copy_(torch.clamp(self.count + b, max=self.size))

    def __len__(self) -> int:
        return int(self.count)

    def get(self) -> tuple[Tensor, Tensor, Tensor]:
        """(z (n, D), labels (n,), ids (n,)) of the n filled entries."""
        n = int(self.count)
        return self.z[:n], self.labels[:n], self.ids[:n]
