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


def test_harder_options_default_off():
    """The default videos are the "easy" difficulty, flag for flag (the first version's videos)."""
    from replab.data.sprite_videos import difficulty_options

    a = _make(5)
    b = _make(5, **difficulty_options("easy"))
    assert all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("frames", "masks", "tracks"))
    assert not torch.equal(a.frames, _make(5, **difficulty_options("hard")).frames)
    with pytest.raises(ValueError, match="difficulty"):
        difficulty_options("brutal")
    with pytest.raises(ValueError, match="lighting"):
        _make(lighting=1.5)


def _sprite_colours(v, i, t):
    """The set of distinct colours of sprite pixels in frame t of video i."""
    px = v.frames[i, t].permute(1, 2, 0)[v.masks[i, t] > 0]
    return {tuple(np.round(c, 4)) for c in px.numpy()}


def test_shared_colours_and_flat_sprites():
    flat = _make(6, textured=False)
    shared = _make(6, textured=False, shared_colours=True)
    for i in range(4):  # flat sprites: one colour per sprite; shared: one colour for all sprites
        assert len(_sprite_colours(flat, i, 0)) == int(flat.masks[i, 0].unique().numel() - 1)
        assert len(_sprite_colours(shared, i, 0)) == 1
    assert torch.equal(flat.masks, shared.masks)  # same geometry, only colours differ


def test_colour_jitter_and_lighting_change_frames_of_a_static_video():
    still = _make(7, static=True)
    assert torch.equal(still.frames[:, 1:], still.frames[:, :1].expand_as(still.frames[:, 1:]))
    jit = _make(7, static=True, colour_jitter=0.1)
    fg = jit.masks[:, 0] > 0  # sprites do not move: the same pixels in every frame
    diff = (jit.frames[:, 1] - jit.frames[:, 0]).abs().amax(1)  # (n, H, W)
    assert diff[fg].mean() > 0.02 and diff[~fg].max() == 0  # sprites flicker, the background does not
    lit = _make(7, static=True, lighting=0.25)
    brightness = lit.frames.mean(dim=(2, 3, 4))  # (n, T)
    assert (brightness.std(dim=1) > 0.02).all()  # the whole frame brightens and darkens over time
    assert torch.equal(lit.masks, still.masks)


def test_hard_sprites_defeat_raw_pixel_propagation():
    """The point of the harder options: raw pixels, near-perfect on the default sprites, lose most of
    their lead (by hand, 3 seeds × 8 videos: J&F 0.87 easy, 0.64 medium, 0.30 hard, copy-first 0.33; the same geometry at every difficulty)."""
    import torch.nn.functional as F

    from replab.data.sprite_videos import difficulty_options
    from replab.video.metrics import j_and_f
    from replab.video.propagate import propagate_mask

    def pixels_jf(name):
        v = make_sprite_videos(4, np.random.default_rng(11), frames=8, size=32, **difficulty_options(name))
        kw = dict(tau=0.07, k=10, m=4, radius=4.0)
        return np.mean(
            [
                j_and_f(propagate_mask(F.avg_pool2d(f, 2), g[0], **kw), g)["J&F"]
                for f, g in zip(v.frames, v.masks)
            ]
        )

    assert pixels_jf("hard") < pixels_jf("easy") - 0.2
