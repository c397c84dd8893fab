"""Procedural sprite videos: shapes, determinism by seed, bouncing, occlusion order."""

import numpy as np
import pytest
import torch

from replab.data.sprite_videos import make_sprite_videos


def _make(seed=0, **kw):
    return make_sprite_videos(4, np.random.default_rng(seed), frames=6, size=24, **kw)


def test_shapes_and_ranges():
    v = _make()
    assert v.frames.shape == (4, 6, 3, 24, 24) and v.frames.dtype == torch.float32
    assert v.masks.shape == (4, 6, 24, 24) and v.masks.dtype == torch.int64
    assert v.amodal.shape == (4, 6, 3, 24, 24) and v.tracks.shape == (4, 6, 3, 2)
    assert v.frames.min() >= -1 and v.frames.max() <= 1
    assert ((v.n_sprites >= 2) & (v.n_sprites <= 3)).all()
    for i in range(4):
        assert int(v.masks[i].max()) <= int(v.n_sprites[i])
        assert not v.amodal[i, :, int(v.n_sprites[i]) :].any()  # unused sprite slots are empty


def test_deterministic_by_seed():
    a, b, c = _make(3), _make(3), _make(4)
    for field in ("frames", "masks", "amodal", "tracks", "depth"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert not torch.equal(a.frames, c.frames)


def test_sprites_move_bounce_and_stay_in_frame():
    v = make_sprite_videos(3, np.random.default_rng(1), frames=40, size=24, speed=(1.5, 2.0))
    assert (v.tracks >= 0).all() and (v.tracks <= 24).all()
    step = (v.tracks[:, 1:] - v.tracks[:, :-1]).norm(dim=-1)
    used = (torch.arange(3)[None] < v.n_sprites[:, None])[:, None].expand_as(step)
    assert step[used].median() > 1.4  # constant speed except at the bounces
    diff = v.tracks[:, 1:] - v.tracks[:, :-1]
    flips = (diff[:, 1:] * diff[:, :-1] < 0).any(dim=1)  # (n, K, 2): a velocity component changed sign
    assert flips.any(dim=-1)[used[:, 0]].all()  # every sprite bounces at least once in 40 frames
    static = make_sprite_videos(2, np.random.default_rng(1), frames=4, size=24, static=True)
    assert torch.equal(static.frames[:, 1:], static.frames[:, :1].expand(-1, 3, -1, -1, -1))


def test_occlusion_order_and_textures():
    v = make_sprite_videos(6, np.random.default_rng(2), frames=3, size=24, area=(0.15, 0.2))
    for i in range(6):
        for t in range(3):
            for j in range(int(v.n_sprites[i])):
                front = v.amodal[i, t, j].clone()  # where j is drawn and nothing drawn later covers it
                for o in range(int(v.n_sprites[i])):
                    if v.depth[i, o] > v.depth[i, j]:
                        front &= ~v.amodal[i, t, o]
                assert torch.equal(v.masks[i, t] == j + 1, front)
    # textured: a sprite's pixels are not one flat colour, nor is the background
    i, j = 0, 0
    pix = v.frames[i, 0][:, v.masks[i, 0] == j + 1]
    assert pix.std(dim=1).max() > 0.05
    assert v.frames[i, 0][:, v.masks[i, 0] == 0].std(dim=1).max() > 0.05


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="sprites"):
        make_sprite_videos(1, np.random.default_rng(0), sprites=(3, 2))
    with pytest.raises(ValueError, match="size"):
        make_sprite_videos(1, np.random.default_rng(0), size=4)
