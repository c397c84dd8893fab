"""Grayscale, color jitter (against a per-frame transcription of RAD's layer) and random convolution."""

import _augment_reference as ref
import pytest
import torch
import torch.nn.functional as F

from replab.augment import color_jitter, hsv_to_rgb, random_conv, random_grayscale, rgb_to_hsv


def rgb_batch(B=6, T=2, H=10, W=9, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (B, 3 * T, H, W), generator=g, dtype=torch.uint8)
    x[:, :, 0, 0] = 255  # white, black and grey pixels exercise the HSV edge cases
    x[:, :, 0, 1] = 0
    x[:, :, 0, 2] = 77
    return x if dtype == torch.uint8 else x.to(dtype) / 255


def test_grayscale_uint8_truncates_like_rads_code():
    x = rgb_batch(B=30, dtype=torch.uint8)
    out, p = random_grayscale(x, generator=torch.Generator().manual_seed(0), frames=2, return_params=True)
    assert out.dtype == torch.uint8 and 0 < int(p["gray"].sum()) < 30
    frames = x.view(30, 2, 3, 10, 9).float()
    level = (frames[:, :, 0] * 0.2989 + frames[:, :, 1] * 0.587 + frames[:, :, 2] * 0.114).to(torch.uint8)
    grey = level[:, :, None].expand(-1, -1, 3, -1, -1).reshape(30, 6, 10, 9)
    assert torch.equal(out, torch.where(p["gray"][:, None, None, None], grey, x))
    white = out[p["gray"]][:, :, 0, 0]
    assert (white == 254).all()  # 255 · 0.9999 truncated


def test_grayscale_float_and_probability():
    x = rgb_batch()
    out = random_grayscale(x, 1.0, generator=torch.Generator(), frames=2)
    expect = (0.2989 * x[:, 0::3] + 0.587 * x[:, 1::3] + 0.114 * x[:, 2::3]).repeat_interleave(3, 1)
    assert torch.allclose(out, expect, atol=1e-6)
    assert torch.equal(random_grayscale(x, 0.0, generator=torch.Generator(), frames=2), x)
    with pytest.raises(ValueError, match="RGB frames"):
        random_grayscale(x, generator=torch.Generator(), frames=3)


def test_hsv_known_values_and_round_trip():
    rgb = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [0, 0, 0], [0.5, 0.25, 0.25]]).T
    hue, sat, val = rgb_to_hsv(rgb[None, :, :, None])
    assert torch.allclose(hue.flatten(), torch.tensor([0, 1 / 3, 2 / 3, 2 / 3, 0, 0]), atol=1e-6)
    # white: cmax == b wins the tie (hue 4/6), as RAD's masked assignment order; its saturation is 0
    assert torch.allclose(sat.flatten(), torch.tensor([1, 1, 1, 0, 0, 0.5]), atol=1e-6)
    assert torch.allclose(val.flatten(), torch.tensor([1, 1, 1, 1, 0, 0.5]))
    x = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(hsv_to_rgb(*rgb_to_hsv(x)), x, atol=2e-6)
    frame = x[0]
    assert torch.allclose(
        torch.stack(rgb_to_hsv(frame[None])).squeeze(1), ref.rgb2hsv_frame(frame), atol=1e-7
    )


@pytest.mark.parametrize("contrast_first", [True, False])
def test_color_jitter_matches_rads_layer_frame_by_frame(contrast_first):
    x = rgb_batch(B=5, T=2)
    g = torch.Generator().manual_seed(int(contrast_first))
    out, p = color_jitter(x, generator=g, frames=2, return_params=True)
    p["contrast_first"] = torch.tensor(contrast_first)
    out = color_jitter(x, generator=g, frames=2, params=p)
    for i in range(5):
        for t in range(2):
            b, c, s, h = (float(p[k][i]) for k in ("brightness", "contrast", "saturation", "hue"))
            expect = ref.jitter_frame(x[i, 3 * t : 3 * t + 3], b, c, s, h, contrast_first)
            assert torch.allclose(out[i, 3 * t : 3 * t + 3], expect, atol=1e-5)


def test_color_jitter_factor_ranges_and_stack_consistency():
    x = rgb_batch(B=2000, T=1, H=3, W=3)
    _, p = color_jitter(x, generator=torch.Generator().manual_seed(0), return_params=True)
    for k, (lo, hi) in {"brightness": (0.6, 1.4), "contrast": (0.6, 1.4), "hue": (-0.5, 0.5)}.items():
        assert lo <= p[k].min() < lo + 0.01 and hi - 0.01 < p[k].max() < hi
    frame = rgb_batch(B=4, T=1, seed=3)
    stacked = frame.repeat(1, 3, 1, 1)  # three identical frames per sample
    out = color_jitter(stacked, generator=torch.Generator().manual_seed(1), frames=3)
    assert torch.equal(out[:, 0:3], out[:, 3:6]) and torch.equal(out[:, 0:3], out[:, 6:9])
    assert not torch.allclose(out[0, 0:3], out[1, 0:3])


def test_color_jitter_uint8_rounds_back_and_p_selects_samples():
    x8 = rgb_batch(B=12, dtype=torch.uint8)
    g = torch.Generator().manual_seed(2)
    out8, p = color_jitter(x8, p=0.5, generator=g, frames=2, return_params=True)
    outf = color_jitter(x8.float() / 255, generator=g, frames=2, params=p)
    assert out8.dtype == torch.uint8
    assert (out8.float() - (outf * 255).round()).abs().max() <= 1  # equal up to float rounding at .5
    assert torch.equal(out8[~p["apply"]], x8[~p["apply"]]) and 0 < int(p["apply"].sum()) < 12
    with pytest.raises(ValueError, match=r"hue must be in \[0, 0.5\]"):
        color_jitter(x8, hue=0.7, generator=g, frames=2)


def test_random_conv_is_a_per_sample_conv_shared_by_the_frames():
    x = rgb_batch(B=4, T=3)
    out, p = random_conv(x, generator=torch.Generator().manual_seed(0), frames=3, return_params=True)
    assert p["weight"].shape == (4, 3, 3, 3, 3) and out.shape == x.shape
    for i in range(4):
        expect = F.conv2d(x[i].view(3, 3, 10, 9), p["weight"][i], padding=1).reshape(9, 10, 9)
        assert torch.allclose(out[i], expect, atol=1e-6)
    assert not torch.allclose(p["weight"][0], p["weight"][1])


def test_random_conv_weights_are_xavier_normal():
    x = torch.zeros(2000, 3, 3, 3)
    _, p = random_conv(x, generator=torch.Generator().manual_seed(0), return_params=True)
    std = (2.0 / (27 + 27)) ** 0.5
    assert abs(p["weight"].std().item() - std) < 0.01 * std * 3 and abs(p["weight"].mean().item()) < 0.01
    with pytest.raises(ValueError, match="normalised float"):
        random_conv(x.to(torch.uint8), generator=torch.Generator())
