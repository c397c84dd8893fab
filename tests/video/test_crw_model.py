"""CRW nodes: the patch grid, the per-patch jitter, and a training step on sprite clips."""

import numpy as np
import torch

from replab.data.sprite_videos import make_sprite_videos
from replab.video.crw_model import ConvEncoder, clip_nodes, crw_step, jitter, patch_grid


def test_patch_grid_is_row_major_with_half_stride():
    x = torch.randn(2, 3, 32, 32)
    p = patch_grid(x, 16)
    assert p.shape == (2, 9, 3, 16, 16)
    assert torch.equal(p[:, 0], x[..., :16, :16]) and torch.equal(p[:, 1], x[..., :16, 8:24])
    assert torch.equal(p[:, 3], x[..., 8:24, :16])


def test_jitter_crops_each_patch_independently():
    x = torch.randn(1, 3, 16, 16).expand(4, -1, -1, -1)
    y = jitter(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(y[0], y[1])


def test_nodes_are_normalised_and_a_step_trains():
    torch.manual_seed(0)
    v = make_sprite_videos(2, np.random.default_rng(0), frames=3, size=32)
    enc = ConvEncoder(width=8, embed_dim=8)
    g = torch.Generator().manual_seed(0)
    nodes = clip_nodes(enc, v.frames, 16, g)
    assert nodes.shape == (2, 3, 9, 8)
    torch.testing.assert_close(nodes.norm(dim=-1), torch.ones(2, 3, 9))
    assert enc.feature_map(v.frames[0]).shape == (3, 8, 16, 16)
    before = [p.detach().clone() for p in enc.parameters()]
    opt = torch.optim.Adam(enc.parameters(), lr=1e-3)
    metrics = crw_step(enc, opt, v.frames, psize=16, tau=0.07, edge_drop=0.1, generator=g)
    assert np.isfinite(metrics["loss/crw"]) and set(metrics) >= {"loss/crw_k1", "loss/crw_k2"}
    assert any(not torch.equal(a, b) for a, b in zip(before, enc.parameters()))
