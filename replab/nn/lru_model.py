"""The deep LRU: the residual block and the sequence classifier/regressor built from it (LRU Fig. 1, App. D).

`LRUBlock` (minimal-LRU `SequenceLayer`, the paper's Norm–Recurrence–GLU–Skip block):
    z = Norm(u) → z = recurrence(z) → z = Dropout(GELU(z)) → z = W₁z ⊙ σ(W₂z) → z = Dropout(z) → u + z
(post-norm applies Norm after the residual add instead). Every rung of the ablation ladder uses this same
block with a different recurrence (LRU Fig. 1: "the same architecture structure for every variant").

`SequenceModel`: encoder (Linear for real inputs, Embedding for tokens) → n blocks → pooling
("mean" over valid steps, "last" valid step, or "none" for per-step outputs) → Linear decoder.
Shapes: inputs (B, L, d_input) floats or (B, L) token ids; outputs (B, d_output) or (B, L, d_output).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from replab.nn.lru import make_recurrence

NORMS = ("batch", "layer", "none")
POOLINGS = ("mean", "last", "none")


class _SeqNorm(nn.Module):
    """BatchNorm or LayerNorm over the feature dim of (B, L, H)."""

    def __init__(self, kind: str, d_model: int):
        super().__init__()
        self.kind = kind
        self.norm = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm, "none": lambda d: nn.Identity()}[kind](
            d_model
        )

    def forward(self, x: Tensor) -> Tensor:
        if self.kind == "batch":  # BatchNorm1d wants (B, H, L) or (B, H)
            return self.norm(x.transpose(1, 2)).transpose(1, 2) if x.dim() == 3 else self.norm(x)
        return self.norm(x)


class LRUBlock(nn.Module):
    """Norm → recurrence → GELU → dropout → GLU → dropout → residual, (B, L, H) → (B, L, H)."""

    def __init__(
        self,
        d_model: int,
        recurrence: nn.Module,
        *,
        dropout: float = 0.0,
        norm: str = "batch",
        prenorm: bool = True,
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got '{norm}'")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.recurrence, self.prenorm = recurrence, prenorm
        self.norm = _SeqNorm(norm, d_model)
        self.out1, self.out2 = nn.Linear(d_model, d_model), nn.Linear(d_model, d_model)
        self.drop = nn.Dropout(dropout)

    def _mix(self, z: Tensor) -> Tensor:
        z = self.drop(F.gelu(z))
        return self.drop(self.out1(z) * torch.sigmoid(self.out2(z)))  # GLU (minimal-LRU SequenceLayer)

    def forward(self, u: Tensor, scan: str = "parallel") -> Tensor:
        z = self.norm(u) if self.prenorm else u
        out = u + self._mix(self.recurrence(z, scan=scan))
        return out if self.prenorm else self.norm(out)

    def step(self, u: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One token u (B, H) in eval mode (BatchNorm uses its running statistics): (out (B, H), state)."""
        z = self.norm(u) if self.prenorm else u
        y, state = self.recurrence.step(z, state)
        out = u + self._mix(y)
        return (out if self.prenorm else self.norm(out)), state


class SequenceModel(nn.Module):
    """A deep stack of `LRUBlock`s with any ladder recurrence, for classification or regression.

    Args:
        d_input: feature width of real inputs (B, L, d_input); ignored when `vocab_size` is given.
        d_output: classes (or regression targets) per sequence, or per step with pooling "none".
        d_model, d_state: H and N. n_layers: number of blocks.
        recurrence: keyword arguments of `make_recurrence` (e.g. `ladder_rung("lru")`).
        vocab_size: token inputs (B, L) of ids in [0, vocab_size) go through an Embedding.
        pooling: "mean" (over valid steps), "last" (last valid step) or "none" (per-step outputs).
        dropout, norm, prenorm: block options (minimal-LRU defaults: 0.1, batch, pre-norm).
        generator: torch generator for the recurrences' initialisation.
    """

    def __init__(
        self,
        d_input: int,
        d_output: int,
        *,
        d_model: int = 64,
        d_state: int = 64,
        n_layers: int = 4,
        recurrence: dict | None = None,
        vocab_size: int | None = None,
        pooling: str = "mean",
        dropout: float = 0.0,
        norm: str = "batch",
        prenorm: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got '{pooling}'")
        if n_layers < 1 or d_output < 1:
            raise ValueError(
                f"n_layers and d_output must be >= 1, got n_layers={n_layers}, d_output={d_output}"
            )
        if vocab_size is None and d_input < 1:
            raise ValueError(f"d_input must be >= 1 for real inputs, got {d_input}")
        rec = dict(recurrence or {"kind": "lru"})
        kind = rec.pop("kind", "lru")
        self.pooling = pooling
        self.encoder = nn.Embedding(vocab_size, d_model) if vocab_size else nn.Linear(d_input, d_model)
        self.layers = nn.ModuleList(
            LRUBlock(
                d_model,
                make_recurrence(kind, d_model, d_state, generator=generator, **rec),
                dropout=dropout,
                norm=norm,
                prenorm=prenorm,
            )
            for _ in range(n_layers)
        )
        self.decoder = nn.Linear(d_model, d_output)

    def features(self, x: Tensor, scan: str = "parallel") -> Tensor:
        """Per-step features after the last block, (B, L, H)."""
        h = self.encoder(x)
        for layer in self.layers:
            h = layer(h, scan=scan)
        return h

    def forward(self, x: Tensor, lengths: Tensor | None = None, scan: str = "parallel") -> Tensor:
        """(B, L[, d_input]) → (B, d_output), or (B, L, d_output) with pooling "none".

        `lengths` (B,) marks right-padded sequences: pooling then uses only the first lengths[b] steps
        (the recurrence is causal, so padding after a sequence never changes its valid steps).
        """
        h = self.features(x, scan=scan)
        if self.pooling == "none":
            return self.decoder(h)
        L = h.shape[1]
        if lengths is None:
            lengths = torch.full((h.shape[0],), L, device=h.device)
        if self.pooling == "last":
            pooled = h[torch.arange(h.shape[0], device=h.device), lengths - 1]
        else:
            mask = (torch.arange(L, device=h.device)[None, :] < lengths[:, None]).to(h.dtype)
            pooled = (h * mask.unsqueeze(-1)).sum(1) / lengths.clamp_min(1).to(h.dtype).unsqueeze(-1)
        return self.decoder(pooled)

    def initial_state(self, batch: int) -> list[Tensor]:
        return [layer.recurrence.initial_state(batch) for layer in self.layers]

    def step(self, x: Tensor, state: list[Tensor]) -> tuple[Tensor, list[Tensor]]:
        """One token x (B[, d_input]) → (per-step output (B, d_output), new state); O(1) per token.

        Equals `forward(...)[:, t]` with pooling "none" in eval mode (tested)."""
        h = self.encoder(x)
        new_state = []
        for layer, s in zip(self.layers, state):
            h, s = layer.step(h, s)
            new_state.append(s)
        return self.decoder(h), new_state


def count_parameters(model: nn.Module) -> int:
    """Number of real trainable scalars (complex parameters are stored as real pairs here)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
