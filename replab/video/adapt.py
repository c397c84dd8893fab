"""Self-supervised test-time adaptation for label propagation (seed003 B.2.8, B.9).

Online, streaming: before labels are propagated to frame t, a copy of the encoder is fine-tuned with the
CRW loss (Algorithm 6, `crw_step`) on the unlabeled window of frames t − m … t + m (thesis m = 10, not
tuned), every `every` frames (thesis 5) with `steps` Adam updates (thesis 100, lr 1e-4 as in training).
Only raw frames enter the adaptation, never a label (B.9). The trained encoder itself is never changed:
each adaptation works on a deep copy (`reset=True`, the default, copies the trained encoder every time
[ASSUMP: the thesis does not say whether adaptations accumulate]; `reset=False` continues from the last
adapted copy). Between adaptations, the features of every frame come from the latest adapted copy, so the
affinities between a target frame and its context use one encoder.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from replab.video.crw_model import crw_step
from replab.video.propagate import context_mask, labels_from_mask, propagate_frame


@dataclass(frozen=True)
class AdaptConfig:
    """Test-time adaptation settings; defaults are the thesis's (B.2.8) where it gives them."""

    window: int = 10
    """m: frames on each side of the target frame (B.2.8: 10)."""
    every: int = 5
    """Adapt before frames 1, 1 + every, 1 + 2·every, … (B.2.8: every 5 time steps)."""
    steps: int = 100
    """Adam updates per adaptation (B.2.8: 100)."""
    lr: float = 1e-4
    """Adam learning rate (B.2.8: the training settings, 1e-4)."""
    clip: int = 4
    """Frames per adaptation clip [ASSUMP: the training clip length; the thesis does not say]."""
    batch: int = 4
    """Clips per adaptation step, drawn at random starts inside the window [ASSUMP]."""
    psize: int = 16
    """Patch side of the nodes (the training value)."""
    tau: float = 0.07
    """Walk temperature (the training value)."""
    edge_drop: float = 0.1
    """Edge dropout (the training value, B.2.3)."""
    reset: bool = True
    """Each adaptation starts from the trained encoder [ASSUMP]; False: from the last adapted copy."""

    def __post_init__(self):
        for name in ("window", "every", "clip", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"AdaptConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.steps < 0 or not self.lr > 0 or not self.tau > 0 or not 0 <= self.edge_drop < 1:
            raise ValueError(
                f"AdaptConfig needs steps >= 0, lr > 0, tau > 0, edge_drop in [0, 1); got steps={self.steps}, "
                f"lr={self.lr}, tau={self.tau}, edge_drop={self.edge_drop}"
            )


def adaptation_window(t: int, length: int, m: int) -> range:
    """Frames t − m … t + m of a video of `length` frames, clipped to the video."""
    return range(max(t - m, 0), min(t + m, length - 1) + 1)


def adapt_encoder(
    encoder: nn.Module,
    frames: torch.Tensor,
    cfg: AdaptConfig,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """A copy of `encoder` fine-tuned with `cfg.steps` CRW steps on clips of the unlabeled `frames`
    (T, 3, H, W); returned in eval mode. The encoder passed in is not modified."""
    if frames.dim() != 4 or frames.shape[0] < 2:
        raise ValueError(f"frames must be (T >= 2, 3, H, W), got {tuple(frames.shape)}")
    adapted = copy.deepcopy(encoder).train().requires_grad_(True)
    if cfg.steps == 0:
        return adapted.eval()
    opt = torch.optim.Adam(adapted.parameters(), lr=cfg.lr)
    clip = min(cfg.clip, frames.shape[0])
    for _ in range(cfg.steps):
        dev = generator.device if generator is not None else "cpu"
        starts = torch.randint(0, frames.shape[0] - clip + 1, (cfg.batch,), generator=generator, device=dev)
        clips = torch.stack([frames[s : s + clip] for s in starts.tolist()])
        crw_step(
            adapted, opt, clips, psize=cfg.psize, tau=cfg.tau, edge_drop=cfg.edge_drop, generator=generator
        )
    return adapted.eval()


@torch.no_grad()
def _nodes(encoder: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    feats = encoder.feature_map(frames)  # (T, d, h, w)
    return F.normalize(feats.flatten(2).transpose(1, 2), dim=-1)


def propagate_labels_adapted(
    encoder: nn.Module,
    frames: torch.Tensor,
    first_labels: torch.Tensor,
    adapt: AdaptConfig,
    *,
    tau: float = 0.07,
    k: int = 10,
    m: int = 20,
    radius: float = 12.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """`propagate_labels` with test-time adaptation: soft labels (T, C, h, w) of every frame of `frames`
    (T, 3, H, W) from the first frame's labels (C, h, w) at feature resolution. `m` is the propagation
    context; `adapt.window` the adaptation window."""
    if frames.dim() != 4 or frames.shape[0] < 2:
        raise ValueError(f"frames must be (T >= 2, 3, H, W), got {tuple(frames.shape)}")
    t_len = frames.shape[0]
    was_training = encoder.training
    encoder.eval()
    current = encoder
    h, w = first_labels.shape[-2:]
    mask = context_mask(h, w, m, radius, first_labels.device)
    labels = [first_labels.flatten(1).t().float()]
    for t in range(1, t_len):
        if (t - 1) % adapt.every == 0:
            window = adaptation_window(t, t_len, adapt.window)
            base = encoder if adapt.reset else current
            current = adapt_encoder(base, frames[window.start : window.stop], adapt, generator)
            q = _nodes(current, frames).to(first_labels.device)  # propagate where the labels are
            if q.shape[1] != h * w:
                raise ValueError(
                    f"first_labels are {h}x{w}, the encoder's feature map has {q.shape[1]} cells"
                )
        labels.append(propagate_frame(q, labels, t, mask, tau=tau, k=k, m=m))
    encoder.train(was_training)
    return torch.stack([lab.t().reshape(-1, h, w) for lab in labels])


@torch.no_grad()
def _shape(encoder: nn.Module, frames: torch.Tensor) -> tuple[int, int]:
    return tuple(encoder.feature_map(frames[:1]).shape[-2:])


def propagate_mask_adapted(
    encoder: nn.Module,
    frames: torch.Tensor,
    first_mask: torch.Tensor,
    adapt: AdaptConfig,
    n_classes: int | None = None,
    **kwargs,
) -> torch.Tensor:
    """`propagate_mask` with test-time adaptation: integer masks (T, H, W) from the first mask (H, W)."""
    n_classes = int(first_mask.max()) + 1 if n_classes is None else n_classes
    was_training = encoder.training
    h, w = _shape(encoder.eval(), frames)
    encoder.train(was_training)
    first = labels_from_mask(first_mask, n_classes, (h, w))
    soft = propagate_labels_adapted(encoder, frames, first, adapt, **kwargs)
    up = F.interpolate(soft, size=tuple(first_mask.shape), mode="bilinear", align_corners=False)
    out = up.argmax(dim=1)
    out[0] = first_mask
    return out
