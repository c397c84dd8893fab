"""The RIN's faster code paths against the computations they replace (issue 21's benchmark follow-up).

Each compares two different computations of the same function with a stated tolerance (float32 round-off of
a different summation order), never bit for bit.
"""

import pytest
import torch
import torch.nn.functional as F

from replab.diffusion import diffusion_loss, make_schedule
from replab.nn.rin import RIN, Attention, patchify_2d, unpatchify_2d


def tiny_rin(**kw):
    args = dict(image_size=8, channels=3, patch=2, dim_x=16, dim_z=32, num_latents=4, blocks=2, depth=1)
    return RIN(heads=4, **{**args, **kw})


def test_patch_matmul_equals_the_conv_tokeniser():
    """Tokens as one matmul of `patchify_2d`'s patches with the Conv2d's weights = the Conv2d with
    kernel = stride (Alg. 3's tokeniser, the previous code path), at 1e-5."""
    torch.manual_seed(0)
    rin = tiny_rin()
    x = torch.randn(5, 3, 8, 8)
    conv = rin.patchify(x).flatten(2).transpose(1, 2)  # (B, tokens, dim_x) in (h, w) order
    lin = F.linear(patchify_2d(x, 2), rin.patchify.weight.flatten(1), rin.patchify.bias)
    torch.testing.assert_close(lin, conv, rtol=1e-5, atol=1e-5)


def test_unpatchify_equals_pixel_shuffle_readout():
    """The one-copy depth-to-space = the tokens as (B, C·p², H', W') channels through F.pixel_shuffle
    (the previous readout), and it inverts `patchify_2d`. A permutation of values: compared at 1e-7."""
    tok = torch.randn(2, 16, 3 * 4)  # (B, H'·W', C·p²) for (C, H, W) = (3, 8, 8), p = 2
    ref = F.pixel_shuffle(tok.transpose(1, 2).reshape(2, 12, 4, 4), 2)
    torch.testing.assert_close(unpatchify_2d(tok, (3, 8, 8), 2), ref, rtol=0, atol=1e-7)
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(unpatchify_2d(patchify_2d(x, 2), (3, 8, 8), 2), x, rtol=0, atol=1e-7)


def test_broadcast_zero_latents_equal_full_zeros():
    """Zeros of (1, 1, dim_z) (the bootstrap pass's previous latents, the self-conditioning MLP and its
    LayerNorm run on one row) give the same ε̂ and latents as zeros of (B, num_latents, dim_z), at 1e-5
    relative + 1e-6 — with the LayerNorm moved off its zero initialisation, so the term is not 0."""
    torch.manual_seed(0)
    rin = tiny_rin(num_classes=3)
    with torch.no_grad():
        rin.self_cond_norm.weight.normal_()
        rin.self_cond_norm.bias.normal_()
    x, t, y = torch.randn(4, 3, 8, 8), torch.rand(4), torch.tensor([0, 1, 2, 0])
    eps_full, z_full = rin(x, t, y, prev_latents=torch.zeros(4, 4, 32))
    eps_one, z_one = rin(x, t, y, prev_latents=torch.zeros(1, 1, 32))
    assert (eps_full - rin(x, t, y)[0]).abs().max() > 1e-3  # the term matters here
    torch.testing.assert_close(eps_one, eps_full, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(z_one, z_full, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"prev_latents must be \(B, 4, 32\)"):
        rin(x, t, y, prev_latents=torch.zeros(4, 5, 32))
    with pytest.raises(ValueError, match="embedded input tokens are for 2 examples, x has 4"):
        rin(x, t, y, embedded=rin.embed(x[:2], t[:2], y[:2]))
    tok, cond = rin.embed(x, t, y)  # only the time/class tokens of the wrong batch: their size is named
    with pytest.raises(ValueError, match="embedded time/class tokens are for 3 examples, x has 4"):
        rin(x, t, y, embedded=(tok, cond[:3]))


class FullZeros(torch.nn.Module):
    """The previous bootstrap: the RIN called with zeros of the full (B, num_latents, dim_z) shape, and each
    pass embedding its own input (no `embed` here, so diffusion_loss cannot share it)."""

    def __init__(self, rin):
        super().__init__()
        self.rin, self.latent_shape = rin, rin.latent_shape

    def forward(self, x, t, y=None, prev_latents=None, latents_only=False):
        if prev_latents is not None:
            prev_latents = prev_latents.expand(x.shape[0], *self.latent_shape).contiguous()
        return self.rin(x, t, y, prev_latents=prev_latents, latents_only=latents_only)


# (RIN kwargs, x0 shape, class labels, context frames): unconditional images, class-conditional images, and
# video prediction (A.2.6: 3-D patches, the first frame clean context, the loss on the future frames only)
LOSS_CASES = {
    "image": ({}, (16, 3, 8, 8), False, 0),
    "class": ({"num_classes": 3}, (16, 3, 8, 8), True, 0),
    "video": ({"frames": 4, "patch_t": 2}, (16, 4, 3, 8, 8), False, 1),
}


@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_training_loss_and_gradients_match_the_previous_computation(case):
    """diffusion_loss with the one-row zeros, the input tokens shared by both passes and F.mse_loss against
    (a) the RIN fed full zeros and embedding its input in each pass (same draws from the same seed) and
    (b) rate 0 against the explicit (ε̂ − ε)².mean() over the non-context frames on the same t and ε: loss and
    every gradient at 1e-5 relative (the shared tokens must get the training pass's gradient, and only it).
    Images, class-conditional images (the class token is part of the shared embedding) and video with one
    context frame."""
    kw, shape, conditional, k = LOSS_CASES[case]
    torch.manual_seed(0)
    rin = tiny_rin(**kw)
    with torch.no_grad():
        rin.self_cond_norm.weight.normal_()  # so the bootstrap latents change the loss
    x0 = torch.rand(shape) * 2 - 1
    y = torch.arange(shape[0]) % 3 if conditional else None
    gamma = make_schedule("sigmoid")

    def run(model, rate):
        rin.zero_grad(set_to_none=True)
        gen = torch.Generator().manual_seed(3)
        loss, m = diffusion_loss(
            model, x0, y, gamma=gamma, self_cond_rate=rate, generator=gen, context_frames=k
        )
        loss.backward()
        return loss.detach(), m, [p.grad for p in rin.parameters()]  # set_to_none: new tensors

    new, m_new, g_new = run(rin, 0.7)
    old, m_old, g_old = run(FullZeros(rin), 0.7)
    assert 0 < m_new["train/self_cond_fraction"] == m_old["train/self_cond_fraction"] < 1
    torch.testing.assert_close(new, old, rtol=1e-5, atol=0)
    assert all(g is not None for g in g_new)  # rate 0.7: every parameter gets a gradient
    if conditional:  # the class embedding's gradient is compared below, and it is not zero
        assert rin.class_emb.weight.grad.abs().max() > 0
    for a, b in zip(g_new, g_old, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)

    loss0, _, _ = run(rin, 0.0)
    b = shape[0]
    gen = torch.Generator().manual_seed(3)  # the draws of diffusion_loss, in its order
    t = torch.rand(b, generator=gen)
    eps = torch.randn(x0.shape, generator=gen)
    g = gamma(t).view(b, *[1] * (x0.ndim - 1))
    x_t = g.sqrt() * x0 + (1 - g).sqrt() * eps
    if k:  # the context frames enter clean
        x_t = torch.cat([x0[:, :k], x_t[:, k:]], dim=1)
    eps_pred, _ = rin(x_t, t, y)
    torch.testing.assert_close(loss0, (eps_pred - eps)[:, k:].pow(2).mean().detach(), rtol=1e-5, atol=0)


@pytest.mark.parametrize("n,m", [(9, 16), (4, 33)])  # reads: the explicit path on CPU
def test_explicit_cpu_attention_equals_sdpa(n, m):
    """The reads' explicit softmax(QKᵀ/√d)V (CPU, more keys than queries) against
    F.scaled_dot_product_attention on the same projections (the previous path, and the one self-attention
    and writes keep): output and input gradients at 1e-5."""
    torch.manual_seed(0)
    attn = Attention(24, 12, heads=4)
    q, kv = torch.randn(3, n, 24, requires_grad=True), torch.randn(3, m, 12, requires_grad=True)
    sdpa, calls = F.scaled_dot_product_attention, []

    def counted(*args, **kwargs):
        calls.append(1)
        return sdpa(*args, **kwargs)

    # rin.py calls torch.nn.functional.scaled_dot_product_attention: counted, it must not run here, or the
    # comparison below would be SDPA against itself
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(F, "scaled_dot_product_attention", counted)
        out = attn(q, kv)
        (gq, gkv) = torch.autograd.grad(out.pow(2).sum(), (q, kv))
        assert not calls, "Attention ran SDPA for a read: the explicit path was not tested"
        attn(q, torch.randn(3, n, 12))  # keys = queries (as self-attention): SDPA, so the count does see it
        assert calls
    b, h = 3, 4
    qh = attn.q(q).view(b, n, h, 6).transpose(1, 2)
    k, v = attn.kv(kv).view(b, m, 2, h, 6).permute(2, 0, 3, 1, 4)
    ref = attn.out(F.scaled_dot_product_attention(qh, k, v).transpose(1, 2).reshape(b, n, 24))
    (rq, rkv) = torch.autograd.grad(ref.pow(2).sum(), (q, kv))
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gq, rq, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gkv, rkv, rtol=1e-5, atol=1e-5)
