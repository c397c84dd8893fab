"""reset, shrink_perturb, add_layernorm, ReDo and the intervention Schedule."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replab.intervene import (
    Inject,
    ReDo,
    Reset,
    Schedule,
    ShrinkPerturb,
    add_layernorm,
    recyclable_layers,
    redo,
    reset,
    shrink_perturb,
)
from replab.probe import unit_scores


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).double()


def adam_stepped(model, steps=2):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.randn(8, 6, dtype=torch.float64)
    for _ in range(steps):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    return opt


def test_reset_reinitialises_in_place_reproducibly_and_drops_moments():
    a, b = mlp(), mlp()
    opt = adam_stepped(a)
    head = a[4]
    w = head.weight
    reset(head, optimizer=opt, generator=torch.Generator().manual_seed(3))
    reset(b[4], generator=torch.Generator().manual_seed(3))
    assert head.weight is w  # same tensor: the optimiser keeps stepping it
    assert torch.equal(head.weight, b[4].weight) and not torch.equal(head.weight, mlp()[4].weight)
    assert head.weight not in opt.state and a[0].weight in opt.state
    opt2 = adam_stepped(b)
    reset(b[4], optimizer=opt2, reset_optimizer_state=False)
    assert b[4].weight in opt2.state


def test_shrink_perturb_is_the_convex_move():
    model = mlp()
    before = {k: v.clone() for k, v in model.named_parameters()}
    shrink_perturb(model, 0.5, 0.0)
    assert all(torch.equal(p, 0.5 * before[k]) for k, p in model.named_parameters())
    model, g = mlp(), torch.Generator().manual_seed(0)
    model[0].weight.requires_grad_(False)
    shrink_perturb(model, 0.8, 0.1, noise_source="gaussian", generator=g)
    g = torch.Generator().manual_seed(0)
    for k, p in model.named_parameters():
        if k == "0.weight":
            assert torch.equal(p, before[k])  # frozen parameters are left alone
        else:
            noise = torch.randn(p.shape, generator=g, dtype=p.dtype)
            assert torch.allclose(p, 0.8 * before[k] + 0.1 * noise, atol=1e-15)
    with pytest.raises(ValueError, match="shrink"):
        shrink_perturb(model, 1.5, 0.1)


def test_add_layernorm_inserts_before_hidden_activations_and_learns():
    model = mlp()
    ln = add_layernorm(model)
    assert [type(m).__name__ for m in ln] == [
        "Linear",
        "LayerNorm",
        "ReLU",
        "Linear",
        "LayerNorm",
        "ReLU",
        "Linear",
    ]
    assert len(model) == 5  # the original is untouched
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2))
    assert isinstance(add_layernorm(conv)[1], nn.GroupNorm)
    with pytest.raises(ValueError, match="no nn.Linear"):
        add_layernorm(nn.Sequential(nn.Linear(2, 2)))
    # it still learns: the loss falls over 20 SGD steps
    x, y = torch.randn(32, 6, dtype=torch.float64), torch.randn(32, 3, dtype=torch.float64)
    opt = torch.optim.SGD(ln.parameters(), lr=0.1)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.mse_loss(ln(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_redo_reinitialises_exactly_the_dormant_units():
    model = mlp()
    opt = adam_stepped(model)
    x = torch.randn(64, 6, dtype=torch.float64)
    with torch.no_grad():  # dead on every input: huge negative bias before the ReLU
        model[0].bias[[1, 5, 6]] = -1e4
        model[2].bias[[0, 15]] = -1e4
    h1 = model[1](model[0](x))
    dead1 = torch.nonzero(unit_scores(h1) <= 0).flatten().tolist()
    dead2 = torch.nonzero(unit_scores(model[3](model[2](h1))) <= 0).flatten().tolist()
    assert dead1 == [1, 5, 6] and {0, 15} <= set(dead2)  # (others may die naturally)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out_before = model(x).detach()
    counts = redo(model, x, tau=0.0, optimizer=opt, generator=torch.Generator().manual_seed(0))
    assert counts == {"0": 3, "2": len(dead2)}
    after = model.state_dict()
    w0, w2, w4 = (after[f"{k}.weight"] for k in "024")
    b0, b2, b4 = (before[f"{k}.weight"] for k in "024")
    alive1 = [i for i in range(16) if i not in dead1]
    alive2 = [i for i in range(16) if i not in dead2]
    # incoming rows: dormant units re-drawn, the others untouched (apart from zeroed outgoing columns)
    assert torch.equal(w0[alive1], b0[alive1]) and not torch.equal(w0[dead1], b0[dead1])
    assert torch.equal(w2[alive2][:, alive1], b2[alive2][:, alive1])
    assert not torch.equal(w2[dead2][:, alive1], b2[dead2][:, alive1])
    assert torch.all(after["0.bias"][dead1] == 0) and torch.all(after["2.bias"][dead2] == 0)
    assert torch.equal(after["0.bias"][alive1], before["0.bias"][alive1])
    # outgoing columns of dormant units are zero; the output layer is otherwise untouched
    assert torch.all(w2[:, dead1] == 0) and torch.all(w4[:, dead2] == 0)
    assert torch.equal(w4[:, alive2], b4[:, alive2])
    # the optimiser moments of the recycled weights are zeroed
    assert torch.all(opt.state[model[0].weight]["exp_avg"][dead1] == 0)
    assert torch.all(opt.state[model[4].weight]["exp_avg_sq"][:, dead2] == 0)
    assert torch.all(opt.state[model[0].weight]["exp_avg"][alive1] != 0)
    # recycled units have zero outgoing weights, so the function is unchanged
    assert torch.allclose(model(x), out_before, atol=1e-12)
    assert redo(model, x, tau=0.0) == {"0": 0, "2": 0}  # nothing dormant any more


def test_redo_on_a_conv_encoder_zeroes_the_flattened_columns():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 9, 2)).double()
    with torch.no_grad():
        net[0].bias[2] = -1e4
    x = torch.randn(16, 1, 5, 5, dtype=torch.float64)
    assert [(r.name, list(r.consumers)) for r in recyclable_layers(net, x)] == [("0", ["3"])]
    assert redo(net, x, tau=0.0) == {"0": 1}
    assert torch.all(net[3].weight[:, 18:27] == 0) and torch.all(net[3].weight[:, :18] != 0)


def test_schedule_applies_actions_at_their_steps_and_calls_hooks():
    model = mlp()
    seen = []
    schedule = (
        Schedule(on_change=[lambda m: seen.append(m)]).at(3, Reset("4")).every(5, ShrinkPerturb(1.0, 0.0))
    )
    assert schedule.due(0) == [] and schedule.due(1) == []
    assert [a.name for a in schedule.due(3)] == ["reset"] and [a.name for a in schedule.due(10)] == [
        "shrink_perturb"
    ]
    w = model[4].weight.clone()
    assert schedule.apply(3, model) == [{"step": 3, "action": "reset"}]
    assert not torch.equal(model[4].weight, w) and seen == [model]
    assert schedule.apply(4, model) == [] and len(seen) == 1


def test_schedule_parse_and_redo_batch():
    s = Schedule.parse(
        ["inject:grow=2@100", "redo:tau=0.025@every50", "shrink_perturb:shrink=0.9,noise=0.01@every10"]
    )
    assert [(e.at, e.every) for e in s.events] == [(100, None), (None, 50), (None, 10)]
    assert s.events[0].action == Inject(grow=2) and s.events[1].action == ReDo(tau=0.025)
    for bad in ("inject", "fly@3", "inject:grow@3", "reset:nope=1@3"):
        with pytest.raises(ValueError):
            Schedule.parse([bad])
    model, calls = mlp(), []

    def batch():
        calls.append(1)
        return torch.randn(16, 6, dtype=torch.float64)

    records = Schedule().every(2, ReDo(0.0)).apply(2, model, batch=batch)
    assert records[0]["action"] == "redo" and "recycled" in records[0] and calls == [1]
    with pytest.raises(ValueError, match="batch"):
        Schedule().at(1, ReDo()).apply(1, model)
