"""The TD-gain probe (§S2.2): measured gain against a hand-stepped copy, its first-order form, masking."""

import copy

import pytest
import torch
from torch import nn

from replab.probe.td_gain import offset_gain, trajectory_offsets


def own(f, row):
    return ((f(row["s"]) * row["a_hot"]).sum() - row["y"]).pow(2)


def ql(f, row):
    return ((f(row["s"]) * row["a_hot"]).sum() - (row["r"] + row["disc"] * f(row["s2"]).max())).pow(2)


def _setup(n=60, dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    net = nn.Sequential(
        nn.Linear(4, 16), nn.LeakyReLU(0.01), nn.Linear(16, 16), nn.LeakyReLU(0.01), nn.Linear(16, 2)
    )
    net = net.to(dtype)
    a = torch.randint(0, 2, (n,), generator=g)
    rows = {
        "s": torch.randn(n, 4, generator=g, dtype=dtype),
        "s2": torch.randn(n, 4, generator=g, dtype=dtype),
        "a_hot": nn.functional.one_hot(a, 2).to(dtype),
        "r": torch.ones(n, dtype=dtype),
        "disc": torch.full((n,), 0.9, dtype=dtype),
        "y": 3 * torch.randn(n, generator=g, dtype=dtype),
    }
    traj = torch.arange(n) // 20  # three trajectories of 20 steps
    return net, rows, traj


def _row(rows, i):
    return {k: v[i] for k, v in rows.items()}


def _single(model):
    return lambda x: model(x.unsqueeze(0))[0]


def test_gain_equals_a_hand_stepped_copy():
    net, rows, traj = _setup()
    centres, offsets, lr = torch.tensor([5, 21, 39]), torch.arange(-3, 4), 1e-2
    out = offset_gain(net, own, ql, rows, centres, offsets, lr=lr, traj=traj)
    for c, i in enumerate(centres.tolist()):
        stepped = copy.deepcopy(net)
        loss = own(_single(stepped), _row(rows, i))
        grads = torch.autograd.grad(loss, list(stepped.parameters()))
        with torch.no_grad():
            for p, gp in zip(stepped.parameters(), grads):
                p -= lr * gp
        for k, off in enumerate(offsets.tolist()):
            j = i + off
            if traj[j] != traj[i]:
                assert torch.isnan(out["gain"][c, k])
                continue
            with torch.no_grad():
                before = ql(_single(net), _row(rows, j))
                after = ql(_single(stepped), _row(rows, j))
            assert float(out["gain"][c, k]) == pytest.approx(float(before - after), rel=1e-9, abs=1e-12)


def test_first_order_form_matches_a_small_measured_step():
    net, rows, traj = _setup()
    centres, offsets = torch.tensor([10, 30, 50]), torch.arange(-5, 6)
    errors = []
    for lr in (1e-4, 5e-5):
        out = offset_gain(net, own, ql, rows, centres, offsets, lr=lr, traj=traj)
        ok = out["gain"].isfinite()
        g, f = out["gain"][ok], out["first_order"][ok]
        errors.append(float((g - f).abs().max() / f.abs().max()))
    assert errors[0] < 1e-3  # second order in α
    assert 1.6 < errors[0] / errors[1] < 2.4  # the error halves with α (it is O(α²) against O(α))


def test_offsets_off_the_trajectory_and_the_buffer_are_masked():
    traj = torch.tensor([0] * 5 + [1] * 5)
    index, valid = trajectory_offsets(traj, torch.tensor([0, 4, 5, 9]), torch.arange(-2, 3))
    expected = torch.tensor(
        [
            [False, False, True, True, True],  # row 0: nothing before the buffer
            [True, True, True, False, False],  # row 4: its trajectory ends at 4
            [False, False, True, True, True],  # row 5: a new trajectory
            [True, True, True, False, False],  # row 9: the buffer ends
        ]
    )
    assert torch.equal(valid, expected)
    assert int(index.min()) >= 0 and int(index.max()) <= 9
    net, rows, _ = _setup(n=10)
    out = offset_gain(net, own, ql, rows, torch.tensor([0, 4, 5, 9]), torch.arange(-2, 3), lr=1e-3, traj=traj)
    for name in ("gain", "first_order", "cosine", "before"):
        assert torch.equal(out[name].isfinite(), expected), name


def test_cosine_and_update_sample_and_model_untouched():
    net, rows, traj = _setup(dtype=torch.float32)
    state = copy.deepcopy(net.state_dict())
    out = offset_gain(net, own, own, rows, torch.tensor([8, 25]), torch.arange(-2, 3), lr=1e-3, traj=traj)
    assert torch.allclose(out["cosine"][:, 2], torch.ones(2, dtype=torch.float64), atol=1e-9)
    assert (out["gain"][:, 2] > 0).all()  # a small step on a sample's own loss lowers it
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in state.items())
    assert all(p.grad is None for p in net.parameters())
    with pytest.raises(ValueError, match="lr must be > 0"):
        offset_gain(net, own, own, rows, torch.tensor([8]), torch.arange(-1, 2), lr=0.0)


def test_several_measured_losses_in_one_pass_equal_separate_calls():
    net, rows, traj = _setup()
    args = (rows, torch.tensor([7, 33]), torch.arange(-4, 5))
    both = offset_gain(net, own, {"own": own, "ql": ql}, *args, lr=1e-3, traj=traj)
    for key, loss in (("own", own), ("ql", ql)):
        alone = offset_gain(net, own, loss, *args, lr=1e-3, traj=traj)
        for name in ("gain", "first_order", "before"):
            torch.testing.assert_close(
                both[f"{name}:{key}"], alone[name], rtol=1e-12, atol=1e-15, equal_nan=True
            )
    torch.testing.assert_close(both["cosine"], alone["cosine"], rtol=1e-12, atol=1e-15, equal_nan=True)
