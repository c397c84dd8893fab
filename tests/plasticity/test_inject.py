"""Plasticity injection: exact output invariance, freezing, parameter count, optimiser and growth."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replab.intervene import InjectedHead, inject_plasticity, mirror, sync_target, widen


class QNet(nn.Module):
    """The Q-network split of seed002 §2.6 at toy size: conv encoder + MLP head."""

    def __init__(self, actions=3, hidden=16):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(4 * 3 * 3, hidden), nn.ReLU(), nn.Linear(hidden, actions))

    def forward(self, x):
        return self.head(self.encoder(x))


def qnet(seed=0):
    torch.manual_seed(seed)
    return QNet().double()


def n_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_steps(model, opt, x, steps=5):
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(model(x), torch.ones(x.shape[0], 3, dtype=x.dtype)).backward()
        opt.step()


def test_injection_leaves_outputs_bit_identical_in_float64():
    model = qnet()
    x = torch.randn(32, 2, 5, 5, dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, opt, x)  # a trained, non-trivial head
    before = model(x).detach()
    inject_plasticity(model, "head", optimizer=opt, generator=torch.Generator().manual_seed(1))
    assert isinstance(model.head, InjectedHead)
    assert torch.equal(model(x), before)
    # the fresh head really is a fresh draw, not a copy of the old one
    assert not torch.equal(model.head.fresh[0].weight, model.head.old[0].weight)


def test_injection_keeps_trainable_count_and_freezes_old_head_and_copy():
    model = qnet()
    count = n_trainable(model)
    inject_plasticity(model, "head")
    assert n_trainable(model) == count
    x = torch.randn(8, 2, 5, 5, dtype=torch.float64)
    F.mse_loss(model(x), torch.ones(8, 3, dtype=torch.float64)).backward()
    assert all(p.grad is None and not p.requires_grad for p in model.head.old.parameters())
    assert all(p.grad is None and not p.requires_grad for p in model.head.fresh_copy.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.head.fresh.parameters())
    # the encoder learns through the heads
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_injection_swaps_parameters_in_the_optimizer_and_keeps_encoder_moments():
    model = qnet()
    x = torch.randn(8, 2, 5, 5, dtype=torch.float64)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_steps(model, opt, x, 2)
    enc_state = {id(p): opt.state[p]["exp_avg"].clone() for p in model.encoder.parameters()}
    old = list(model.head.parameters())
    inject_plasticity(model, "head", optimizer=opt)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert all(id(p) in in_opt for p in model.head.fresh.parameters())
    assert not any(id(p) in in_opt for p in old)
    assert all(torch.equal(opt.state[p]["exp_avg"], enc_state[id(p)]) for p in model.encoder.parameters())
    old_values = [p.clone() for p in old]
    train_steps(model, opt, x, 3)
    assert all(torch.equal(p, v) for p, v in zip(old, old_values))  # frozen head never moves
    assert all(p.grad is None for p in model.head.fresh_copy.parameters())

    model2 = qnet()
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-2)
    train_steps(model2, opt2, x, 2)
    inject_plasticity(model2, "head", optimizer=opt2, reset_optimizer_state=True)
    assert len(opt2.state) == 0


def test_growth_injects_a_wider_head_with_unchanged_outputs():
    model = qnet()
    x = torch.randn(16, 2, 5, 5, dtype=torch.float64)
    before = model(x).detach()
    inject_plasticity(model, "head", grow=2.0)
    assert model.head.fresh[0].out_features == 32 and model.head.fresh[2].in_features == 32
    assert torch.equal(model(x), before)
    with pytest.raises(ValueError, match="widen"):
        widen(nn.Linear(4, 2), 2.0)


def test_growth_uses_the_heads_own_widen_method():
    class Head(nn.Sequential):
        def __init__(self, hidden):
            super().__init__(nn.Linear(36, hidden), nn.Tanh(), nn.Linear(hidden, 3))

        def widen(self, factor):
            return Head(int(self[0].out_features * factor))

    model = qnet()
    model.head = Head(8).double()
    x = torch.randn(4, 2, 5, 5, dtype=torch.float64)
    before = model(x).detach()
    inject_plasticity(model, "head", grow=3.0)
    assert isinstance(model.head.fresh, Head) and model.head.fresh[0].out_features == 24
    assert torch.equal(model(x), before)


def test_reinjection_and_target_mirroring():
    model = qnet()
    x = torch.randn(4, 2, 5, 5, dtype=torch.float64)
    target = mirror(model)
    inject_plasticity(model, "head")
    with pytest.raises(ValueError, match="mirror"):
        sync_target(model, target)
    target = mirror(model)
    assert torch.equal(target(x), model(x)) and not any(p.requires_grad for p in target.parameters())
    before = model(x).detach()
    inject_plasticity(model, "head")  # inject again: the fresh head's architecture is reused
    assert torch.equal(model(x), before)
    assert isinstance(model.head.old, InjectedHead) and isinstance(model.head.fresh, nn.Sequential)
    with pytest.raises(ValueError, match="no submodule"):
        inject_plasticity(model, "nope")


def test_the_agents_q_network_plugs_in():
    qnet_mod = pytest.importorskip("replab.rl.qnet")
    from replab.intervene import Schedule

    torch.manual_seed(0)
    encoder = qnet_mod.minatar_encoder(4)
    head = qnet_mod.QHead(16 * 8 * 8, 6, hidden=32, noisy=False, dueling=True)
    online = qnet_mod.QNetwork(encoder, head).double()
    target = mirror(online)
    opt = torch.optim.Adam(online.parameters(), lr=1e-3)
    obs = torch.rand(5, 4, 10, 10, dtype=torch.float64)
    before = online(obs).detach()
    holder = {"target": target}
    schedule = Schedule.parse(["inject@100"], on_change=[lambda m: holder.update(target=mirror(m))])
    schedule.apply(100, online, optimizer=opt)
    assert torch.equal(online(obs), before) and torch.equal(holder["target"](obs), before)
    assert sum(p.numel() for p in online.parameters() if p.requires_grad) == sum(
        p.numel() for p in target.parameters()
    )
