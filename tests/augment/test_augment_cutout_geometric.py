"""Cutout, cutout-color, flip, rotate: exactness at the reported parameters and the drawn distributions."""

import _augment_reference as ref
import pytest
import torch

from replab.augment import random_cutout, random_cutout_color, random_flip, random_rotate


def batch(B=8, C=6, H=30, W=28, dtype=torch.uint8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(
        1, 256, (B, C, H, W), generator=g, dtype=torch.uint8
    )  # no zeros: cut pixels are visible
    return x if dtype == torch.uint8 else x.to(dtype) / 255


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_cutout_blacks_out_one_rectangle(dtype):
    x = batch(dtype=dtype)
    out, p = random_cutout(x, generator=torch.Generator().manual_seed(0), frames=2, return_params=True)
    assert out.dtype == dtype and torch.equal(out, ref.cutout(x, p))
    zeros = (out == 0).all(1).sum((1, 2))  # zero pixels per sample, identical over all 6 channels
    assert torch.equal(zeros, p["height"] * p["width"])


def test_cutout_sizes_and_positions_follow_the_thesis():
    # §4.8: width, height ~ randint(4, 24 + 1) independently; the box lies inside the image.
    x = batch(B=3000, C=1, H=30, W=28)
    _, p = random_cutout(x, generator=torch.Generator().manual_seed(1), return_params=True)
    assert (
        p["width"].min() == 4
        and p["width"].max() == 24
        and p["height"].min() == 4
        and p["height"].max() == 24
    )
    assert (p["top"] + p["height"] <= 30).all() and (p["left"] + p["width"] <= 28).all()
    assert (p["top"] == 30 - p["height"]).any() and (p["top"] == 0).any()  # both extreme positions occur
    assert not torch.equal(p["width"], p["height"])  # rectangles, not squares


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_cutout_color_fills_one_colour_shared_by_the_frames(dtype):
    x = batch(B=64, dtype=dtype)
    g = torch.Generator().manual_seed(2)
    out, p = random_cutout_color(x, generator=g, frames=2, return_params=True)
    assert p["fill"].shape == (64, 3) and out.dtype == dtype
    assert torch.equal(out, ref.cutout(x, p, p["fill"], frames=2))
    level = p["fill"] if dtype == torch.uint8 else (p["fill"] * 255).round()
    assert level.min() >= 0 and level.max() <= 254  # randint(0, 255): 255 itself never drawn
    if dtype == torch.float32:
        assert torch.allclose(p["fill"], level / 255)


def test_cutout_color_with_frames_1_draws_one_value_per_stacked_channel():
    # The printed code draws (n, c) over all stacked channels: that is frames=1.
    x = batch(C=6)
    _, p = random_cutout_color(x, generator=torch.Generator().manual_seed(0), return_params=True)
    assert p["fill"].shape == (8, 6)


def test_cutout_rejects_bad_sizes():
    x = batch(H=20, W=20)
    with pytest.raises(ValueError, match="min_cut <= max_cut"):
        random_cutout(x, 10, 5, generator=torch.Generator())
    with pytest.raises(ValueError, match="min\\(H, W\\) = 20"):
        random_cutout_color(x, 4, 24, generator=torch.Generator())


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])  # both kernels: merge (uint8), gather (float)
def test_flip_mirrors_exactly_the_chosen_samples(dtype):
    x = batch(B=40, dtype=dtype)
    out, p = random_flip(x, generator=torch.Generator().manual_seed(3), frames=3, return_params=True)
    expect = torch.where(p["flip"][:, None, None, None], x.flip(3), x)
    assert out.dtype == dtype and torch.equal(out, expect)
    assert 0 < int(p["flip"].sum()) < 40


def test_flip_probability_endpoints_and_rate():
    x = batch(B=4000, C=1, H=4, W=4)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(random_flip(x, 0.0, generator=g), x)
    assert torch.equal(random_flip(x, 1.0, generator=g), x.flip(3))
    _, p = random_flip(x, 0.2, generator=g, return_params=True)
    assert abs(p["flip"].float().mean().item() - 0.2) < 0.03
    with pytest.raises(ValueError, match=r"probability in \[0, 1\]"):
        random_flip(x, 1.5, generator=g)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_rotate_turns_by_the_drawn_quarter_turns(dtype):
    x = batch(B=60, H=9, W=9, dtype=dtype)
    out, p = random_rotate(
        x, p=0.75, generator=torch.Generator().manual_seed(4), frames=2, return_params=True
    )
    expect = torch.stack([x[i].rot90(int(k), (1, 2)) for i, k in enumerate(p["k"])])
    assert out.dtype == dtype and torch.equal(out, expect)
    assert set(p["k"].tolist()) == {0, 1, 2, 3}


def test_rotate_draws_like_rads_code():
    # With probability p = 0.3, k ~ {1, 2, 3} uniformly; else k = 0.
    x = batch(B=6000, C=1, H=2, W=2)
    _, p = random_rotate(x, generator=torch.Generator().manual_seed(5), return_params=True)
    freq = torch.bincount(p["k"], minlength=4).float() / 6000
    assert abs(freq[0] - 0.7) < 0.03 and all(abs(f - 0.1) < 0.02 for f in freq[1:])
    with pytest.raises(ValueError, match="square"):
        random_rotate(batch(H=4, W=5), generator=torch.Generator())
