"""dm_control videos with renderer masks (extra `dmc`; slow: rendering; skipped where nothing renders)."""

import functools

import pytest
import torch


@functools.cache
def _render_problem():
    try:
        import dm_control  # noqa: F401
    except ImportError as exc:
        return str(exc)
    from replab.envs.dmc import render_problem

    return render_problem("egl")


@pytest.mark.slow
def test_masks_and_projected_tracks_agree():
    """Two computations of where a body is — the segmentation render and the camera projection of its
    centre of mass — agree: the pixel under each projected centre shows that body in most frames (the
    pole can hide behind the cart, so ≥ 80%)."""
    if reason := _render_problem():
        pytest.skip(f"dm_control cannot render here: {reason}")
    from replab.video.dmc_videos import make_dmc_videos

    v = make_dmc_videos("cartpole-swingup", n=2, seed=0, frames=6, size=32, gl="egl")
    assert v.frames.shape == (2, 6, 3, 32, 32) and v.masks.shape == (2, 6, 32, 32)
    assert v.bodies == ("cart", "pole_1") and set(v.masks.unique().tolist()) == {0, 1, 2}
    assert v.frames.min() >= -1 and v.frames.max() <= 1
    for b in (1, 2):
        y, x = v.tracks[..., b - 1, 0].long().clamp(0, 31), v.tracks[..., b - 1, 1].long().clamp(0, 31)
        shown = v.masks.gather(2, y[..., None, None].expand(-1, -1, 1, 32)).squeeze(2)  # rows y
        shown = shown.gather(2, x[..., None]).squeeze(2)
        assert (shown == b).float().mean() >= 0.8, v.bodies[b - 1]
    again = make_dmc_videos("cartpole-swingup", n=2, seed=0, frames=6, size=32, gl="egl")
    assert torch.equal(again.masks, v.masks)  # seeded: task initialisation and actions


def test_bad_names():
    from replab.errors import ReplabError
    from replab.video.dmc_videos import make_dmc_videos

    with pytest.raises(ReplabError, match="domain"):
        make_dmc_videos("cartpole")
