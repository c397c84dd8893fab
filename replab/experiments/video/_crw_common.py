"""What `crw-sprites` and `crw-ablations` share: the CRW training and label-propagation fields of their
Configs (seed003 B.2–B.4, B.8), their checks, the videos of a seed and its initial encoder."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from replab import seeding
from replab.data.sprite_videos import DIFFICULTIES, difficulty_options, make_sprite_videos
from replab.probe.health import HealthConfig
from replab.video.crw_model import ENCODERS, make_encoder


@dataclass
class CRWConfig(HealthConfig):
    probe_every: int = 25
    """Training steps between two measurements of the health monitor (on the node embeddings of jittered
    patches of the first training videos)."""
    probe_batch: int = 128
    """Patches the health monitor reads."""
    seeds: int = 5
    """Seeds (each: its own videos and initialisation)."""
    size: int = 32
    """Frame side in pixels."""
    difficulty: str = "easy"
    """Sprite appearance (`replab.data.sprite_videos.DIFFICULTIES`): easy (the first version's videos, the
    default), medium or hard (colour jitter, brightness changes, shared colours: raw pixels stop being
    near-perfect: J&F 0.87 / 0.64 / 0.30)."""
    train_videos: int = 64
    """Unlabeled training videos."""
    video_frames: int = 12
    """Frames per video (training and test)."""
    test_videos: int = 8
    """Labeled test videos."""
    psize: int = 16
    """Patch side (stride psize/2): a 3×3 node grid at size 32."""
    encoder: str = "conv"
    """The encoder: "conv" (a small fully convolutional net, output stride 2, B.8) or "resnet18" (the
    thesis's Table 3.4, output stride 8, `replab.video.resnet`)."""
    width: int = 16
    """Encoder channels (conv: every layer; resnet18: the first stage, 64 in the thesis)."""
    embed_dim: int = 32
    """Node embedding dimension after the linear head (thesis: 128)."""
    steps: int = 200
    """Training steps (per variant where there are several)."""
    batch: int = 4
    """Clips per step (thesis: ~20)."""
    lr: float = 1e-3
    """Adam learning rate (thesis: 1e-4 for 2M updates; higher for this short run)."""
    tau: float = 0.07
    """Walk temperature (B.2.6; B.9 suggests sweeping 0.05–0.07)."""
    prop_tau: float = 0.07
    """Label-propagation temperature (B.9: the training τ)."""
    prop_k: int = 10
    """Top-k neighbours over the whole context (B.2.7.5)."""
    prop_m: int = 4
    """Previous frames in the propagation context (B.2.7.3)."""
    prop_radius: float = 4.0
    """Local-attention radius in feature cells (stride 2: 8 pixels; sprites move ≤ 2 pixels per frame)."""

    def __post_init__(self):
        for name in (
            "seeds",
            "train_videos",
            "test_videos",
            "steps",
            "batch",
            "width",
            "embed_dim",
            "prop_k",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.psize < 4 or self.psize % 2 or self.psize > self.size:
            raise ValueError(f"psize must be even, >= 4 and <= size={self.size}, got {self.psize}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder '{self.encoder}', choose from {ENCODERS}")
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"unknown difficulty '{self.difficulty}', choose from {sorted(DIFFICULTIES)}")
        if self.size < 16:
            raise ValueError(f"size must be >= 16, got {self.size}")
        if not self.tau > 0 or not self.prop_tau > 0 or not self.lr > 0:
            raise ValueError(f"need tau, prop_tau, lr > 0; got {self.tau}, {self.prop_tau}, {self.lr}")
        if self.prop_m < 0 or not self.prop_radius > 0:
            raise ValueError(f"need prop_m >= 0 and prop_radius > 0; got {self.prop_m}, {self.prop_radius}")
        super().__post_init__()


def videos(cfg: CRWConfig, rng, n: int, data: str = "sprites"):
    """`n` videos of the config's size, frames and difficulty: procedural sprites, or dm_control under a
    random policy (`data="dmc:<domain>-<task>"`, `replab.video.dmc_videos`)."""
    if data.startswith("dmc:"):
        from replab.video.dmc_videos import make_dmc_videos

        seed = int(rng.integers(2**31))
        return make_dmc_videos(data.removeprefix("dmc:"), n, seed, frames=cfg.video_frames, size=cfg.size)
    return make_sprite_videos(
        n, rng, frames=cfg.video_frames, size=cfg.size, **difficulty_options(cfg.difficulty)
    )


def seed_setup(cfg: CRWConfig, run, s: int, data: str = "sprites"):
    """Seed `s`'s training and test videos and its encoder at initialisation, with a frozen eval-mode copy
    of it (the random-init baseline; BatchNorm keeps its initial running statistics)."""
    train = videos(cfg, run.rng(f"train/{s}"), cfg.train_videos, data)
    test = videos(cfg, run.rng(f"test/{s}"), cfg.test_videos, data)
    torch.manual_seed(seeding.derive_seed(run.seed, f"init/{s}"))
    encoder = make_encoder(cfg.encoder, cfg.width, cfg.embed_dim).to(run.device)
    return train, test, encoder, copy.deepcopy(encoder).requires_grad_(False).eval()
