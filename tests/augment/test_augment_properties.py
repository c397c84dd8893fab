"""Contracts every augmentation keeps: one draw per sample shared by its frames, independent across samples and
calls, reproducible from the generator, dtype and device preserved; plus a hypothesis test over shapes."""

import _augment_reference as ref
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import replab.augment as A

# name -> (fn(x, generator, frames), needs RGB frames, float input only)
OPS = {
    "crop": (lambda x, g, f: A.random_crop(x, 6, generator=g, frames=f), False, False),
    "translate": (lambda x, g, f: A.random_translate(x, 12, generator=g, frames=f), False, False),
    "window": (lambda x, g, f: A.random_window(x, 5, generator=g, frames=f), False, False),
    "shift": (lambda x, g, f: A.random_shift(x, 2, generator=g, frames=f), False, False),
    "cutout": (lambda x, g, f: A.random_cutout(x, 2, 5, generator=g, frames=f), False, False),
    "cutout_color": (lambda x, g, f: A.random_cutout_color(x, 2, 5, generator=g, frames=f), False, False),
    "flip": (lambda x, g, f: A.random_flip(x, generator=g, frames=f), False, False),
    "rotate": (lambda x, g, f: A.random_rotate(x, 0.75, generator=g, frames=f), False, False),
    "grayscale": (lambda x, g, f: A.random_grayscale(x, 0.5, generator=g, frames=f), True, False),
    "color_jitter": (lambda x, g, f: A.color_jitter(x, generator=g, frames=f), True, False),
    "rand_conv": (lambda x, g, f: A.random_conv(x, generator=g, frames=f), True, True),
}


def image(B, C, H=9, W=9, dtype=torch.uint8, seed=0):
    x = torch.randint(0, 256, (B, C, H, W), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)
    return x.to(dtype) / 255 if dtype.is_floating_point else x


def dtypes(name):
    return [torch.float32, torch.float64] if OPS[name][2] else [torch.uint8, torch.float32]


@pytest.mark.parametrize("name", OPS)
def test_all_frames_of_a_sample_get_the_same_draw(name):
    fn, rgb, _ = OPS[name]
    C = 3 if rgb else 2
    frame = image(16, C, dtype=dtypes(name)[0])
    out = fn(frame.repeat(1, 3, 1, 1), torch.Generator().manual_seed(0), 3)  # three identical frames
    first = out[:, :C]
    assert torch.equal(out[:, C : 2 * C], first) and torch.equal(out[:, 2 * C :], first)


@pytest.mark.parametrize("name", OPS)
def test_samples_and_calls_draw_independently_and_seeds_reproduce(name):
    fn, rgb, _ = OPS[name]
    x = image(1, 3 if rgb else 2, dtype=dtypes(name)[0]).expand(32, -1, -1, -1).contiguous()  # one image ×32
    g = torch.Generator().manual_seed(7)
    anchor, positive = fn(x, g, 1), fn(x, g, 1)
    assert len({tuple(o.flatten().tolist()) for o in anchor}) > 1  # different samples, different draws
    assert not torch.equal(anchor, positive)  # two calls (anchor, positive) draw independently
    assert torch.equal(fn(x, torch.Generator().manual_seed(7), 1), anchor)  # same seed, same output


@pytest.mark.parametrize("name", OPS)
def test_dtype_and_device_are_preserved(name):
    fn, rgb, _ = OPS[name]
    for dtype in dtypes(name):
        x = image(4, 6, dtype=dtype)
        out = fn(x, torch.Generator().manual_seed(0), 2 if rgb else 3)
        assert out.dtype == dtype and out.device == x.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", OPS)
def test_cuda_batch_with_a_cpu_generator_matches_cpu(name):
    fn, rgb, _ = OPS[name]
    x = image(8, 6, dtype=dtypes(name)[-1])
    cpu = fn(x, torch.Generator().manual_seed(0), 2)
    cuda = fn(x.cuda(), torch.Generator().manual_seed(0), 2)
    assert cuda.device.type == "cuda" and torch.allclose(cuda.cpu(), cpu, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    B=st.integers(1, 4),
    C=st.integers(1, 3),
    T=st.integers(1, 3),
    H=st.integers(3, 11),
    W=st.integers(3, 11),
    data=st.data(),
)
def test_spatial_ops_match_the_reference_for_any_shape(B, C, T, H, W, data):
    x = image(B, C * T, H, W, seed=H * W)
    g = torch.Generator().manual_seed(B + C + T)
    h, w = data.draw(st.integers(1, H)), data.draw(st.integers(1, W))
    out, p = A.random_crop(x, (h, w), generator=g, frames=T, return_params=True)
    assert torch.equal(out, ref.crop(x, p["top"], p["left"], h, w))
    out, p = A.random_window(x, (h, w), generator=g, frames=T, return_params=True)
    assert torch.equal(out, ref.window(x, p["top"], p["left"], h, w))
    sh, sw = H + data.draw(st.integers(0, 4)), W + data.draw(st.integers(0, 4))
    out, p = A.random_translate(x, (sh, sw), generator=g, frames=T, return_params=True)
    assert torch.equal(out, ref.translate(x, p["top"], p["left"], sh, sw))
    pad = data.draw(st.integers(0, 3))
    out, p = A.random_shift(x, pad, generator=g, frames=T, return_params=True)
    assert torch.equal(out, ref.shift(x, p["top"], p["left"], pad))
    low = data.draw(st.integers(0, min(H, W)))
    out, p = A.random_cutout(x, low, min(H, W), generator=g, frames=T, return_params=True)
    assert torch.equal(out, ref.cutout(x, p))
    out, p = A.random_flip(x, generator=g, frames=T, return_params=True)
    assert torch.equal(out, torch.where(p["flip"][:, None, None, None], x.flip(3), x))
    square = x[..., : min(H, W), : min(H, W)]
    out, p = A.random_rotate(square, 0.75, generator=g, frames=T, return_params=True)
    assert torch.equal(out, torch.stack([s.rot90(int(k), (1, 2)) for s, k in zip(square, p["k"])]))
