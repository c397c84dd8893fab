"""Spatial memories as nodes → object permanence (seed003 B.7; Tokmakov et al., ICML 2022).

The CRW walks between per-frame embeddings, a Markov assumption that fails when an object is fully
occluded. Here the nodes are the states Q_t of a recurrent spatial memory: each frame's feature grid
(the CRW encoder's `feature_map`, pooled to a g×g grid) updates a ConvGRU, Q_t = GRU(Q_{t−1}, x_t), so Q_t
depends on every earlier frame (non-Markovian features). Each memory cell, projected by a 1×1 conv and
ℓ2-normalised, is a node, and the same palindrome cycle loss (`replab.losses.crw.crw_loss`, B.2.2–B.2.4)
runs on the graph of memory states over time (Fig. 3.7).

[ASSUMP] choices (B.7 gives no architecture or hyper-parameters): a single-layer ConvGRU with 3×3 gates
(Ballas et al. 2016) and zero initial state; the memory grid is the encoder's feature map average-pooled to
`grid`×`grid` cells; the memory reads whole frames (not independently jittered patches as B.9 asks of the
CRW encoder, so the positional shortcut of App. 3.7.3 is possible — reflect padding as in crw_model);
τ = 0.07, edge dropout 0.1 as in B.8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from replab.losses.crw import crw_loss
from replab.video.crw_model import ConvEncoder


class ConvGRUCell(nn.Module):
    """A convolutional GRU cell: z, r = σ(conv([x, h])), h̃ = tanh(conv([x, r ⊙ h])),
    h' = (1 − z) ⊙ h + z ⊙ h̃ (Ballas et al. 2016), reflect-padded k×k convolutions."""

    def __init__(self, in_ch: int, hidden: int, kernel: int = 3):
        super().__init__()
        pad = kernel // 2
        self.hidden = hidden
        self.gates = nn.Conv2d(in_ch + hidden, 2 * hidden, kernel, padding=pad, padding_mode="reflect")
        self.cand = nn.Conv2d(in_ch + hidden, hidden, kernel, padding=pad, padding_mode="reflect")

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        z, r = torch.sigmoid(self.gates(torch.cat([x, h], 1))).chunk(2, 1)
        h_new = torch.tanh(self.cand(torch.cat([x, r * h], 1)))
        return (1 - z) * h + z * h_new


class MemoryWalker(nn.Module):
    """Encoder → pooled g×g feature grid → ConvGRU memory → 1×1 projection: node embeddings of the memory
    states, (B, T, g², embed_dim), ℓ2-normalised."""

    def __init__(self, width: int = 16, hidden: int = 32, embed_dim: int = 32, grid: int = 8):
        super().__init__()
        if grid < 2:
            raise ValueError(
                f"memory grid must be >= 2 cells a side (the GRU's 3×3 reflect padding), got {grid}"
            )
        self.encoder = ConvEncoder(width, embed_dim)
        self.grid = grid
        self.memory = ConvGRUCell(width, hidden)
        self.head = nn.Conv2d(hidden, embed_dim, 1)

    def states(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> memory states Q_t (B, T, hidden, g, g), Q_t = GRU(Q_{t−1}, x_t), Q_{−1} = 0."""
        if clips.dim() != 5:
            raise ValueError(f"clips must be (B, T, 3, H, W), got shape {tuple(clips.shape)}")
        b, t = clips.shape[:2]
        feats = self.encoder.feature_map(clips.flatten(0, 1))  # per-frame features, (B·T, width, h, w)
        feats = F.adaptive_avg_pool2d(feats, self.grid).view(b, t, -1, self.grid, self.grid)
        h = feats.new_zeros(b, self.memory.hidden, self.grid, self.grid)
        out = []
        for i in range(t):
            h = self.memory(feats[:, i], h)
            out.append(h)
        return torch.stack(out, 1)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> nodes (B, T, g², embed_dim): each memory cell projected and ℓ2-normalised."""
        q = self.states(clips)
        b, t = q.shape[:2]
        z = self.head(q.flatten(0, 1)).flatten(2).transpose(1, 2)  # (B·T, g², d)
        return F.normalize(z, dim=-1).view(b, t, self.grid * self.grid, -1)


def memory_walk_step(
    model: MemoryWalker,
    opt: torch.optim.Optimizer,
    clips: torch.Tensor,
    *,
    tau: float = 0.07,
    edge_drop: float = 0.1,
    generator: torch.Generator | None = None,
) -> dict[str, float]:
    """One optimiser step of the CRW cycle loss (Algorithm 6) on the graph of memory states over time."""
    loss, metrics = crw_loss(model(clips), tau, edge_drop=edge_drop, generator=generator, normalize=False)
    opt.zero_grad()
    loss.backward()
    opt.step()
    metrics["loss/memory_walk"] = float(loss.detach())
    return metrics
