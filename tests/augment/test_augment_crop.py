"""Crop, translate, window, shift: exact equality with per-sample references at the reported parameters."""

import _augment_reference as ref
import pytest
import torch

from replab.augment import (
    center_crop,
    center_translate,
    random_crop,
    random_shift,
    random_translate,
    random_window,
)


def batch(B=6, C=6, H=12, W=10, dtype=torch.uint8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (B, C, H, W), generator=g, dtype=torch.uint8)
    return x if dtype == torch.uint8 else x.to(dtype) / 255


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_random_crop_is_the_slice_at_its_offsets(dtype):
    x = batch(dtype=dtype)
    out, p = random_crop(x, (8, 7), generator=torch.Generator().manual_seed(1), frames=2, return_params=True)
    assert out.shape == (6, 6, 8, 7) and out.dtype == dtype
    assert torch.equal(out, ref.crop(x, p["top"], p["left"], 8, 7))
    assert p["top"].min() >= 0 and p["top"].max() <= 12 - 8 and p["left"].max() <= 10 - 7


def test_crop_offsets_are_inclusive_of_the_last_one_and_uniform():
    # RAD §4.8: randint(0, W − size + 1); the thesis's CURL snippet never draws the last offset (seed001 §2.8).
    x = batch(B=4000, C=1, H=6, W=6)
    g = torch.Generator().manual_seed(0)
    _, p = random_crop(x, 4, generator=g, return_params=True)
    counts = torch.bincount(p["top"], minlength=3)
    assert counts.tolist() != [0, 0, 0] and (counts > 4000 / 3 * 0.9).all()  # {0, 1, 2} each ≈ 1/3
    _, q = random_crop(x, 4, generator=g, inclusive_upper=False, return_params=True)
    assert set(q["top"].tolist()) == {0, 1} and set(q["left"].tolist()) == {0, 1}


def test_center_crop_matches_rad_offsets():
    x = batch(H=100, W=100, C=3, B=2)
    out = center_crop(x, 84)
    assert torch.equal(out, x[:, :, 8:92, 8:92])
    assert torch.equal(center_crop(batch(H=9, W=9), 4), batch(H=9, W=9)[:, :, 2:6, 2:6])  # (9 − 4) // 2 = 2


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_random_translate_places_the_image_in_a_zero_canvas(dtype):
    x = batch(dtype=dtype)
    out, p = random_translate(x, (15, 14), generator=torch.Generator().manual_seed(2), return_params=True)
    assert out.shape == (6, 6, 15, 14) and out.dtype == dtype
    assert torch.equal(out, ref.translate(x, p["top"], p["left"], 15, 14))
    assert p["top"].max() <= 3 and p["left"].max() <= 4


def test_translate_params_reuse_places_next_obs_identically():
    # RAD's `return_random_idxs`: the same placement on another batch when asked, independent otherwise.
    obs, next_obs = batch(seed=0), batch(seed=1)
    g = torch.Generator().manual_seed(0)
    a, p = random_translate(obs, 16, generator=g, return_params=True)
    b, q = random_translate(next_obs, 16, generator=g, params=p, return_params=True)
    assert torch.equal(b, ref.translate(next_obs, p["top"], p["left"], 16, 16)) and q is p
    _, r = random_translate(next_obs, 16, generator=g, return_params=True)
    assert not torch.equal(torch.stack([r["top"], r["left"]]), torch.stack([p["top"], p["left"]]))


def test_center_translate_is_centred():
    x = batch(B=2, H=100, W=100, C=3)
    out = center_translate(x, 108)
    assert torch.equal(out[:, :, 4:104, 4:104], x) and out.sum() == x.sum(dtype=torch.int64)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_random_window_zeroes_outside_without_translating(dtype):
    x = batch(dtype=dtype)
    out, p = random_window(x, 5, generator=torch.Generator().manual_seed(3), return_params=True)
    assert out.shape == x.shape and out.dtype == dtype
    assert torch.equal(out, ref.window(x, p["top"], p["left"], 5, 5))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_random_shift_is_replicate_pad_then_crop(dtype):
    x = batch(dtype=dtype)
    out, p = random_shift(x, 3, generator=torch.Generator().manual_seed(4), frames=3, return_params=True)
    assert out.shape == x.shape and out.dtype == dtype
    assert torch.equal(out, ref.shift(x, p["top"], p["left"], 3))
    assert p["top"].min() >= 0 and p["top"].max() <= 6
    # An interior pixel of a sample shifted by (dy, dx) moves by (−dy, −dx).
    i = 0
    dy, dx = int(p["top"][i]) - 3, int(p["left"][i]) - 3
    assert torch.equal(out[i, :, 4, 4], x[i, :, 4 + dy, 4 + dx])


def test_shift_by_zero_pad_is_the_identity():
    x = batch()
    assert torch.equal(random_shift(x, 0, generator=torch.Generator()), x)


def test_errors_name_the_problem():
    x = batch(H=12, W=10)
    g = torch.Generator()
    with pytest.raises(ValueError, match="does not fit"):
        random_crop(x, 11, generator=g)
    with pytest.raises(ValueError, match="does not fit"):
        center_crop(x, (13, 4))
    with pytest.raises(ValueError, match="does not fit"):
        random_translate(x, 11, generator=g)
    with pytest.raises(ValueError, match="frames=4 does not divide the 6 channels"):
        random_crop(x, 4, generator=g, frames=4)
    with pytest.raises(ValueError, match="positive int"):
        random_window(x, 0, generator=g)
    with pytest.raises(ValueError, match="pad must be"):
        random_shift(x, -1, generator=g)
    with pytest.raises(ValueError, match=r"\(B, C\*T, H, W\)"):
        random_crop(x[0], 4, generator=g)
    with pytest.raises(ValueError, match="missing"):
        random_crop(x, 4, generator=g, params={"top": torch.zeros(6, dtype=torch.long)})


def test_empty_batch():
    x = batch(B=0)
    assert random_crop(x, 4, generator=torch.Generator()).shape == (0, 6, 4, 4)
    assert random_translate(x, 14, generator=torch.Generator()).shape == (0, 6, 14, 14)
