"""The speed paths of `Rainbow.update` give the library's answers: gradient clipping equals
`torch.nn.utils.clip_grad_norm_` bit for bit, `_pick` equals advanced indexing, and channels-last
convolutions give the NCHW network's outputs and gradients up to float round-off."""

import copy

import numpy as np
import pytest
import torch

from replab.rl.rainbow import Rainbow, RainbowConfig, _pick, clip_grad_norm


@pytest.mark.parametrize("max_norm", [0.05, 1e6])  # clipping active / inactive
def test_clip_grad_norm_is_torch_clip_grad_norm_bit_for_bit(max_norm):
    torch.manual_seed(0)
    a = [torch.nn.Parameter(torch.randn(s)) for s in [(7, 3), (3,), (2, 4, 5)]]
    b = copy.deepcopy(a)
    for p, q in zip(a, b):
        p.grad = torch.randn_like(p)
        q.grad = p.grad.clone()
    a[1].grad = b[1].grad = None  # a parameter without gradient is skipped by both
    ours = clip_grad_norm(a, max_norm)
    theirs = torch.nn.utils.clip_grad_norm_(b, max_norm)
    assert torch.equal(ours, theirs)
    for p, q in zip(a, b):
        assert (p.grad is None and q.grad is None) or torch.equal(p.grad, q.grad)


def test_pick_is_advanced_indexing():
    out = torch.randn(5, 4, 3)
    action = torch.tensor([0, 3, 1, 1, 2])
    b = torch.arange(5)
    assert torch.equal(_pick(out, action), out[b, action])
    assert torch.equal(_pick(out[..., 0], action), out[b, action, 0])


def test_channels_last_defaults_by_encoder():
    assert RainbowConfig(encoder="der").channels_last is True
    assert RainbowConfig(encoder="nature").channels_last is True
    assert RainbowConfig(encoder="minatar").channels_last is False


def test_channels_last_network_matches_nchw_outputs_and_gradients():
    torch.manual_seed(0)
    ref = Rainbow((4, 84, 84), 5, RainbowConfig(encoder="der", channels_last=False, noisy=False))
    cl = Rainbow((4, 84, 84), 5, RainbowConfig(encoder="der", channels_last=True, noisy=False))
    cl.online.load_state_dict(ref.online.state_dict())
    conv = cl.online.encoder[1].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    x = torch.randint(0, 256, (6, 4, 84, 84), dtype=torch.uint8)
    out_ref, out_cl = ref.online(x), cl.online(x)
    assert torch.allclose(out_ref, out_cl, atol=1e-5)
    out_ref.logsumexp(-1).sum().backward()
    out_cl.logsumexp(-1).sum().backward()
    for (name, p), q in zip(ref.online.named_parameters(), cl.online.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5, rtol=1e-4), name


def test_one_step_window_is_the_general_window():
    """`FrameReplay.sample`'s n = 1 shortcut gives `_window`'s numbers (episode ends, time limits)."""
    from replab.rl.buffers import FrameReplay

    rng = np.random.default_rng(0)
    replay = FrameReplay(40, (1, 2, 2), n_step=1, batch_size=64, verbose=False)
    replay.add_first(np.zeros((1, 2, 2), np.uint8))
    for t in range(100):
        end = rng.random() < 0.3
        term = end and rng.random() < 0.5
        trunc = end and not term
        replay.add(
            int(rng.integers(3)), float(rng.normal()), np.full((1, 2, 2), t % 256, np.uint8), term, trunc
        )
        if end:
            replay.add_first(np.zeros((1, 2, 2), np.uint8))
    batch = replay.sample()
    m, ret, terminal = replay._window(batch.index)
    assert terminal.any() and not terminal.all()
    assert torch.equal(batch.steps, torch.from_numpy(m))
    assert torch.equal(batch.reward, torch.from_numpy(ret.astype(np.float32)))
    disc = (replay._gammas[m] * ~terminal).astype(np.float32)
    assert torch.equal(batch.discount, torch.from_numpy(disc))
    nxt = torch.from_numpy((batch.index + m) % replay.capacity)
    assert torch.equal(batch.next_obs, replay.frames[nxt])
