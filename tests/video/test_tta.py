"""Test-time adaptation (seed003 B.2.8): a copy adapts, the trained encoder does not; the CRW loss on the
window falls; no adaptation steps reproduce plain label propagation."""

import copy

import numpy as np
import pytest
import torch

from replab.data.sprite_videos import make_sprite_videos
from replab.losses.crw import crw_loss
from replab.video.adapt import (
    AdaptConfig,
    adapt_encoder,
    adaptation_window,
    propagate_labels_adapted,
    propagate_mask_adapted,
)
from replab.video.crw_model import ConvEncoder, clip_nodes
from replab.video.propagate import labels_from_mask, propagate_labels, propagate_mask


def _setup(seed=0):
    torch.manual_seed(seed)
    vids = make_sprite_videos(1, np.random.default_rng(seed), frames=6, size=32)
    return ConvEncoder(width=8, embed_dim=8).eval(), vids.frames[0], vids.masks[0]


def _window_loss(encoder, frames, seed=5):
    """CRW loss of the whole window with fixed jitter (same generator), batch statistics, no dropout."""
    enc = copy.deepcopy(encoder).train()
    with torch.no_grad():
        nodes = clip_nodes(enc, frames[None], 16, torch.Generator().manual_seed(seed))
        return float(crw_loss(nodes, 0.07)[0])


def test_adaptation_changes_a_copy_and_lowers_the_window_loss():
    enc, frames, _ = _setup()
    before = copy.deepcopy(enc.state_dict())
    cfg = AdaptConfig(steps=25, lr=1e-2, clip=4, batch=4, edge_drop=0.0)
    adapted = adapt_encoder(enc, frames, cfg, torch.Generator().manual_seed(0))
    for name, value in enc.state_dict().items():  # weights and batch-norm buffers untouched
        assert torch.equal(value, before[name]), name
    assert not adapted.training and not enc.training
    assert any(not torch.equal(a, b) for a, b in zip(adapted.parameters(), enc.parameters()))
    # the adapted copy fits the window better (a different computation from the training steps: the whole
    # 6-frame window as one clip, fixed jitter); margin 0.05 nats on a loss of ~1.4-2.2
    assert _window_loss(adapted, frames) < _window_loss(enc, frames) - 0.05


def test_zero_steps_reproduce_plain_propagation():
    enc, frames, mask = _setup(1)
    with torch.no_grad():
        feats = enc.feature_map(frames)
    first = labels_from_mask(mask[0], int(mask.max()) + 1, tuple(feats.shape[-2:]))
    kw = dict(tau=0.07, k=5, m=2, radius=3.0)
    plain = propagate_labels(feats, first, **kw)
    adapted = propagate_labels_adapted(enc, frames, first, AdaptConfig(steps=0, every=2), **kw)
    torch.testing.assert_close(adapted, plain, atol=1e-5, rtol=0)  # float32, same features
    # argmax masks from the two paths: equal up to a near-tied pixel (the soft labels agree to 1e-5 above)
    agree = propagate_mask_adapted(enc, frames, mask[0], AdaptConfig(steps=0), **kw) == propagate_mask(
        feats, mask[0], **kw
    )
    assert agree.float().mean() >= 0.999


def test_adapted_propagation_runs_and_leaves_the_encoder_alone():
    enc, frames, mask = _setup(2)
    before = copy.deepcopy(enc.state_dict())
    cfg = AdaptConfig(window=2, every=3, steps=2, lr=1e-3, clip=3, batch=2)
    out = propagate_mask_adapted(
        enc, frames, mask[0], cfg, k=5, m=2, radius=3.0, generator=torch.Generator().manual_seed(0)
    )
    assert out.shape == mask.shape and torch.equal(out[0], mask[0])
    assert all(torch.equal(v, before[k]) for k, v in enc.state_dict().items())


def test_window_and_bad_config():
    assert list(adaptation_window(1, 24, 10)) == list(range(0, 12))
    assert list(adaptation_window(20, 24, 10)) == list(range(10, 24))
    with pytest.raises(ValueError, match="every"):
        AdaptConfig(every=0)
    with pytest.raises(ValueError, match="frames"):
        adapt_encoder(ConvEncoder(8, 8), torch.zeros(1, 3, 32, 32), AdaptConfig())
