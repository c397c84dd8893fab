"""CURL's auxiliary objective (Srinivas et al. 2020; seed001 §2.2), shared by SAC and Rainbow.

For a replay batch of observations o (B, C, H, W): two independent augmentations o_q = aug(o),
o_k = aug(o) (one draw per sample, shared by its stacked frames, §2.8);

    q = g(f_q(o_q))                    the online encoder f_q (+ optional projection g): gradients flow
    k = g_k(f_k(o_k))  under no-grad   the key encoder f_k: an EMA of f_q, never optimised
    logits = q W kᵀ / temperature      (B, B), positives on the diagonal (eq. 3.4), W uniform [0,1) init
    L = CrossEntropy(logits, arange(B))

Gradients: the loss trains f_q, g and W; f_k and g_k get none (keys are computed under no-grad, as the
thesis's pseudo-code; the reference code's missing detach, curl#12, is not reproduced). `parameters()`
returns what an optimizer must step for this loss: W and g (f_q belongs to the agent's optimizer, so it
is stepped once; `double_step_encoder=True` adds f_q too, the reference code's quirk of §2.8/curl#20).

Key encoder: `key="ema"` owns a copy of f_q (and g) updated by `update_key_encoder()` as
θ_k ← m θ_k + (1 − m) θ_q (`momentum` m; Atari 0.999 = 1 − τ, Table 3.4); pass `key_encoder=` to use an
encoder updated elsewhere (SAC: the critic target's encoder, τ = 0.05, with `momentum=None`).
`key="shared"` uses f_q itself for keys, still under no-grad (Fig. 3.5 left). `similarity="cosine"`
replaces qᵀWk by the cosine of q and k (Fig. 3.5 right).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from replab.losses.info_nce import info_nce
from replab.rl.agent import Shadow

SIMILARITIES = ("bilinear", "cosine")
KEYS = ("ema", "shared")


def curl_projection(in_features: int, hidden: int = 256, out: int = 128) -> nn.Sequential:
    """The Atari contrastive head of the reference code [R]: Linear → LN → ReLU → Linear → LN."""
    return nn.Sequential(
        nn.Linear(in_features, hidden),
        nn.LayerNorm(hidden),
        nn.ReLU(),
        nn.Linear(hidden, out),
        nn.LayerNorm(out),
    )


class CURL(nn.Module):
    """The CURL loss as an auxiliary objective: `loss(batch) -> (Tensor, metrics)`, `parameters()`.

    encoder: the agent's online encoder f_q, obs (B, C, H, W) → (B, F) (not registered as a submodule:
    the agent owns it). z_dim: width of q and k (F, or the projection's output). augment: obs → obs,
    drawing its own randomness (e.g. `random_shift` with a generator). temperature: logits are divided
    by it (1.0 in the thesis; the Atari reference code multiplies by 0.1, i.e. temperature 10).
    """

    def __init__(
        self,
        encoder: nn.Module,
        z_dim: int,
        *,
        augment: Callable[[Tensor], Tensor],
        projection: nn.Module | None = None,
        key: str = "ema",
        key_encoder: nn.Module | None = None,
        momentum: float | None = 0.999,
        similarity: str = "bilinear",
        temperature: float = 1.0,
        double_step_encoder: bool = False,
    ):
        super().__init__()
        if similarity not in SIMILARITIES:
            raise ValueError(f"similarity must be one of {SIMILARITIES}, got {similarity!r}")
        if key not in KEYS:
            raise ValueError(f"key must be one of {KEYS}, got {key!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1] or None, got {momentum}")
        if key == "ema" and key_encoder is None and momentum is None:
            raise ValueError("key='ema' needs a momentum, or a key_encoder updated elsewhere")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if z_dim < 1:
            raise ValueError(f"z_dim must be >= 1, got {z_dim}")
        self._encoder = (encoder,)  # a tuple hides it from nn.Module: the agent owns f_q
        self.augment, self.similarity, self.key, self.temperature = augment, similarity, key, temperature
        self.momentum, self.double_step_encoder = momentum, double_step_encoder
        self.projection = projection if projection is not None else nn.Identity()
        self.W = nn.Parameter(torch.rand(z_dim, z_dim))  # CURL §3.4 pseudo-code: W = rand(z_dim, z_dim)
        self.external_key = key_encoder is not None
        self.key_encoder = key_encoder if key_encoder is not None else copy.deepcopy(encoder)
        self.key_projection = copy.deepcopy(self.projection)
        for p in list(self.key_encoder.parameters()) + list(self.key_projection.parameters()):
            p.requires_grad_(False)

    @property
    def encoder(self) -> nn.Module:
        return self._encoder[0]

    def parameters(self, recurse: bool = True):
        """What the agent's optimizer must step for this loss: W and the projection (+ f_q if
        `double_step_encoder`). The key encoder is not among them."""
        params = [self.W, *self.projection.parameters()]
        if self.double_step_encoder:
            params += list(self.encoder.parameters())
        return iter(params)

    def logits(self, obs: Tensor) -> Tensor:
        """(B, B) similarity logits of two augmentations of `obs` (positives on the diagonal)."""
        return self._scores(*self._query_key(obs))

    def _scores(self, q: Tensor, k: Tensor) -> Tensor:
        if self.similarity == "cosine":
            q, k = nn.functional.normalize(q, dim=1), nn.functional.normalize(k, dim=1)
            return q @ k.T / self.temperature
        return q @ self.W @ k.T / self.temperature

    def _query_key(self, obs: Tensor, z_q: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if z_q is None:
            x_q, x_k = self.augment(obs), self.augment(obs)  # independent draws for anchor and positive
            z_q = self.encoder(x_q)
        else:  # the agent encoded its own augmented obs (obs_anchor): only the positive is drawn here
            x_k = self.augment(obs)
        q = self.projection(z_q)
        with torch.no_grad():
            if self.key == "shared":
                k = self.projection(self.encoder(x_k))
            else:
                k = self.key_projection(self.key_encoder(x_k))
        return q, k.detach()

    def loss(self, batch, *, features: Tensor | None = None) -> tuple[Tensor, dict[str, float]]:
        """InfoNCE of `batch.obs` (eq. 3.4); metrics: the loss and the contrastive top-1 accuracy.

        features: (B, F) f_q(x_q) with gradients, computed by the agent on its own augmentation of
        `batch.obs` (SAC's obs_anchor, which the critic also reads, seed001 §2.2 2a/e [R]); then only the
        key's augmentation x_k = aug(obs) is drawn here. None: both are drawn here (the thesis pseudo-code)."""
        q, k = self._query_key(batch.obs, features)
        cosine = self.similarity == "cosine"
        loss = info_nce(
            q, k, weight=None if cosine else self.W, temperature=self.temperature, normalize=cosine
        )
        with torch.no_grad():
            acc = (self._scores(q, k).argmax(1) == torch.arange(len(q), device=q.device)).float().mean()
        return loss, {"loss/curl": float(loss.detach()), "train/curl_accuracy": float(acc)}

    def shadows(self) -> list[Shadow]:
        """The key networks it updates itself (agent protocol): the key projection, and the key encoder
        unless it is updated elsewhere (SAC: the target critic's encoder) or keys are `shared`."""
        if self.key != "ema" or self.momentum is None:
            return []
        out = [Shadow(self.projection, self, "key_projection", "ema", 1 - self.momentum)]
        if not self.external_key:
            out.append(Shadow(self.encoder, self, "key_encoder", "ema", 1 - self.momentum))
        return out

    @torch.no_grad()
    def update_key_encoder(self) -> None:
        """θ_k ← m θ_k + (1 − m) θ_q for the owned key encoder and key projection (no-op otherwise)."""
        if self.key != "ema" or self.momentum is None:
            return
        pairs = [(self.key_projection, self.projection)]
        if not self.external_key:
            pairs.append((self.key_encoder, self.encoder))
        targets = [p for t, _ in pairs for p in t.parameters()]
        sources = [p for _, s in pairs for p in s.parameters()]
        torch._foreach_lerp_(targets, sources, 1 - self.momentum)  # one fused call for all tensors
        for target, source in pairs:
            for bt, bs in zip(target.buffers(), source.buffers()):
                bt.copy_(bs)
