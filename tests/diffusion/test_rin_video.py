"""Conditional video prediction (seed003 A.2.6): 3-D patches, clean context frames, the masked loss."""

import pytest
import torch

from replab.diffusion import diffusion_loss, make_schedule, sample
from replab.nn.rin import RIN, patchify_3d, unpatchify_3d


def video_rin(**kw):
    args = dict(image_size=8, channels=3, patch=4, dim_x=16, dim_z=32, num_latents=4, blocks=1, depth=1)
    return RIN(**{**args, "frames": 4, "patch_t": 2, **kw})


def test_patchify_3d_round_trip_and_token_order():
    x = torch.randn(2, 4, 3, 8, 8)
    tok = patchify_3d(x, 2, 4)
    assert tok.shape == (2, 2 * 2 * 2, 3 * 2 * 4 * 4)
    torch.testing.assert_close(unpatchify_3d(tok, (4, 3, 8, 8), 2, 4), x)
    one = torch.zeros(1, 4, 3, 8, 8)
    one[0, 3, 1, 6, 1] = 1.0  # frame 3 (temporal patch 1), row 6 (patch row 1), column 1 (patch column 0)
    hit = patchify_3d(one, 2, 4)[0].abs().sum(1).nonzero()[:, 0].tolist()
    assert hit == [1 * 4 + 1 * 2 + 0]  # tokens in (t, h, w) order


def test_conv3d_tokeniser_is_a_linear_map_of_the_3d_patches():
    """The Conv3d with kernel = stride (A.3.2) and patchify_3d agree on the layout (the readout's inverse)."""
    torch.manual_seed(0)
    rin = video_rin()
    x = torch.randn(2, 4, 3, 8, 8)
    conv = rin.patchify(x.transpose(1, 2)).flatten(2).transpose(1, 2)
    w = rin.patchify.weight.reshape(rin.patchify.weight.shape[0], -1)
    lin = patchify_3d(x, 2, 4) @ w.T + rin.patchify.bias
    torch.testing.assert_close(conv, lin, rtol=1e-5, atol=1e-5)


def test_video_rin_shapes_and_errors():
    rin = video_rin()
    eps, z = rin(torch.randn(3, 4, 3, 8, 8), torch.rand(3), prev_latents=torch.zeros(3, 4, 32))
    assert eps.shape == (3, 4, 3, 8, 8) and z.shape == (3, 4, 32) and rin.tokens == 8
    assert rin.data_shape == (4, 3, 8, 8)
    with pytest.raises(ValueError, match=r"RIN expects \(B, 4, 3, 8, 8\)"):
        rin(torch.randn(3, 3, 8, 8), torch.rand(3))
    with pytest.raises(ValueError, match="divisible by patch_t"):
        video_rin(patch_t=3)


class Recorder(torch.nn.Module):
    """Wraps a RIN, records every input and adds `junk` to the output's first `k` frames."""

    def __init__(self, rin, k=0, junk=0.0):
        super().__init__()
        self.rin, self.k, self.junk, self.inputs = rin, k, junk, []
        self.latent_shape, self.data_shape = rin.latent_shape, rin.data_shape

    def forward(self, x, t, y=None, prev_latents=None, latents_only=False):
        self.inputs.append((x.clone(), t.clone()))
        eps, z = self.rin(x, t, y, prev_latents=prev_latents, latents_only=latents_only)
        if eps is not None and self.k:
            eps = torch.cat([eps[:, : self.k] + self.junk, eps[:, self.k :]], 1)
        return eps, z


@pytest.mark.parametrize("input_scale", [1.0, 0.5])
def test_context_frames_stay_clean_through_sampling(input_scale):
    torch.manual_seed(0)
    rec = Recorder(video_rin())
    ctx = torch.rand(3, 2, 3, 8, 8) * 2 - 1
    out = sample(
        rec, 3, gamma=make_schedule("cosine"), steps=5, context=ctx, input_scale=input_scale,
        generator=torch.Generator().manual_seed(1),
    )  # fmt: skip
    assert len(rec.inputs) == 5
    for x, _ in rec.inputs:  # the network sees the clean frames at every step, whatever the input scale
        torch.testing.assert_close(x[:, :2], ctx, rtol=0, atol=1e-7)
        assert (x[:, 2:] - ctx[:, -1:]).abs().mean() > 0.1  # the future frames are not the context
    torch.testing.assert_close(out[:, :2], ctx, rtol=0, atol=1e-7)
    assert torch.isfinite(out).all() and (out[:, 2:] - ctx[:, -1:]).abs().mean() > 0.1
    with pytest.raises(ValueError, match="context must be"):
        sample(rec, 3, gamma=make_schedule("cosine"), steps=2, context=ctx[:, :1, :, :4])


def test_loss_ignores_the_context_frames_and_sees_them_clean():
    torch.manual_seed(0)
    rin = video_rin()
    x0 = torch.rand(6, 4, 3, 8, 8) * 2 - 1
    gamma = make_schedule("cosine")
    losses = []
    for junk in (0.0, 100.0):  # garbage ε̂ on the context frames changes nothing
        rec = Recorder(rin, k=2, junk=junk)
        loss, _ = diffusion_loss(
            rec, x0, None, gamma=gamma, self_cond_rate=0.5, context_frames=2,
            generator=torch.Generator().manual_seed(3),
        )  # fmt: skip
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1])
    x_t, t = rec.inputs[-1]  # the gradient pass sees the context un-noised and the future noised
    torch.testing.assert_close(x_t[:, :2], x0[:, :2], rtol=0, atol=0)
    assert (x_t[:, 2:] - x0[:, 2:]).abs().mean() > 0.01
    # the same loss computed another way: ε from the recorded x_t, error on the future frames only
    g = gamma(t).view(-1, 1, 1, 1, 1)
    eps = (x_t - g.sqrt() * x0) / (1 - g).sqrt()
    with torch.no_grad():
        pred, _ = rin(x_t, t, None, prev_latents=torch.zeros(6, 4, 32))  # rate 0.5: zeros or bootstrap
    full = ((pred - eps) ** 2)[:, 2:].mean((1, 2, 3, 4))
    # examples with zero previous latents agree exactly; the LN₀ makes the bootstrap ones agree at init
    torch.testing.assert_close(losses[0].detach(), full.mean(), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="context_frames=4 needs"):
        diffusion_loss(rin, x0, None, gamma=gamma, context_frames=4)


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("context_frames", 4, "context_frames must be in"),
        ("frames", 5, "divisible by patch_t"),
        ("times", (0.1, 1.0), "decreasing values"),
        ("min_effect", 1.0, "min_effect in"),
        ("dim_x", 16, "could not represent per-pixel noise"),
    ],
)
def test_video_config_names_the_bad_field(field, value, match):
    import dataclasses

    from replab.experiments.diffusion import rin_video_prediction as video

    with pytest.raises(ValueError, match=match):
        dataclasses.replace(video.SMOKE, **{field: value})


def test_moving_tokens_mark_the_patches_that_change():
    from replab.experiments.diffusion import rin_video_prediction as video

    cfg = video.SMOKE  # 4 frames of 8×8, patches 2×2×2: tokens (t', h', w') in 2 × 4 × 4
    clip = torch.zeros(1, 4, 3, 8, 8)
    clip[0, 3, :, 5, 6] = 1.0  # frame 3 changes at (5, 6): temporal patch 1, row patch 2, column patch 3
    assert video.moving_tokens(clip, cfg)[0].nonzero()[:, 0].tolist() == [16 + 2 * 4 + 3]


def test_an_exact_eps_oracle_recovers_the_future_frames():
    """With context: DDIM driven by the true ε of a known clip returns that clip's future (A.2.5, A.2.6)."""
    gamma = make_schedule("cosine")
    x0 = torch.rand(3, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1

    class Oracle(torch.nn.Module):
        latent_shape, data_shape = (2, 4), (4, 3, 8, 8)

        def forward(self, x, t, y=None, prev_latents=None, latents_only=False):
            g = gamma(t).view(-1, 1, 1, 1, 1)
            return (x - g.sqrt() * x0) / (1 - g).sqrt(), torch.zeros(x.shape[0], 2, 4)

    out = sample(Oracle(), 3, gamma=gamma, steps=50, sampler="ddim", context=x0[:, :2])
    # float32: the first step's x̂0 divides rounding by sqrt(γ(1)) ≈ 8e-5 (then clipped); later steps repair it
    torch.testing.assert_close(out, x0, rtol=0, atol=5e-3)
    assert ((out - x0) ** 2).mean() < 1e-6
