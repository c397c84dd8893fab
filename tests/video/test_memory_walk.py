"""Spatial memories as nodes (seed003 B.7, Tokmakov et al. 2022): a ConvGRU memory whose states are the
CRW's nodes — non-Markovian, causal, trainable with the cycle loss."""

import numpy as np
import pytest
import torch

from replab.data.sprite_videos import make_sprite_videos
from replab.losses.crw import crw_loss
from replab.video.memory_walk import MemoryWalker, memory_walk_step


def _clips(n=4, frames=4):
    return make_sprite_videos(n, np.random.default_rng(0), frames=frames, size=32).frames


def test_memory_states_depend_on_earlier_frames_only():
    torch.manual_seed(0)
    model = MemoryWalker(
        width=8, hidden=16, embed_dim=16, grid=4
    ).eval()  # eval: batch norm does not mix frames
    clips = _clips(n=2)
    with torch.no_grad():
        q = model.states(clips)
        changed0 = clips.clone()
        changed0[:, 0] = torch.flip(changed0[:, 0], dims=[-1])  # another frame 0
        q0 = model.states(changed0)
        changed3 = clips.clone()
        changed3[:, 3] = torch.flip(changed3[:, 3], dims=[-1])  # another last frame
        q3 = model.states(changed3)
    assert q.shape == (2, 4, 16, 4, 4)
    assert (q0[:, 2] - q[:, 2]).abs().max() > 1e-3  # non-Markovian: Q_2 remembers frame 0
    torch.testing.assert_close(q3[:, :3], q[:, :3], atol=1e-6, rtol=0)  # causal: the future does not leak
    assert (q3[:, 3] - q[:, 3]).abs().max() > 1e-3
    # the per-frame encoder alone is Markovian: its frame-2 features ignore frame 0
    with torch.no_grad():
        f, f0 = model.encoder.feature_map(clips[:, 2]), model.encoder.feature_map(changed0[:, 2])
    torch.testing.assert_close(f, f0, atol=0, rtol=0)


def test_nodes_are_unit_vectors_and_gradients_reach_encoder_and_memory():
    torch.manual_seed(0)
    model = MemoryWalker(width=8, hidden=16, embed_dim=16, grid=4)
    nodes = model(_clips())
    assert nodes.shape == (4, 4, 16, 16)
    torch.testing.assert_close(nodes.norm(dim=-1), torch.ones(4, 4, 16), atol=1e-5, rtol=0)
    loss, metrics = crw_loss(nodes, 0.07, normalize=False)
    loss.backward()
    assert torch.isfinite(loss) and "loss/crw_k3" in metrics
    for name, part in (("encoder", model.encoder.trunk), ("memory", model.memory), ("head", model.head)):
        grad = sum(p.grad.abs().sum() for p in part.parameters() if p.grad is not None)
        assert grad > 0, f"no gradient reaches the {name}"


def test_the_cycle_loss_decreases_on_sprite_clips():
    torch.manual_seed(0)
    model = MemoryWalker(width=8, hidden=16, embed_dim=16, grid=6)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    clips = _clips(n=4)
    g = torch.Generator().manual_seed(0)
    losses = [
        memory_walk_step(model, opt, clips, edge_drop=0.1, generator=g)["loss/memory_walk"] for _ in range(15)
    ]
    assert all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.8 * np.mean(
        losses[:3]
    )  # measured 3.58 → 2.55 (15 steps, seed 0); chance = log 36 = 3.58


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="grid"):
        MemoryWalker(grid=1)
    with pytest.raises(ValueError, match="clips"):
        MemoryWalker(grid=4).states(torch.zeros(2, 3, 32, 32))
