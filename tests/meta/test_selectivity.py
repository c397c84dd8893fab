"""Selectivity (seed004 §S6.2, eq. 6.2, §S6.7): 0 without a state change, 1 for a perfectly selective
transition; the gridworld; the evaluation's alignment measures; a short joint training raises selectivity."""

import pytest
import torch

from replab.meta import gridworld
from replab.meta.selectivity import (
    ContinuousFactors,
    FactorNet,
    alignment,
    continuous_step,
    coordinate_isolation,
    covered_directions,
    evaluate,
    selectivity,
    train_step,
)


def test_selectivity_is_zero_without_a_state_change():
    h = torch.randn(5, 4)
    assert selectivity(h, h.clone()).abs().max() == 0
    assert selectivity(h, h.clone(), directed=False).abs().max() == 0


def test_selectivity_is_one_for_a_perfectly_selective_transition():
    h = torch.randn(6, 4)
    eps = 1e-6
    for k in range(4):
        nxt = h.clone()
        nxt[:, k] += 0.5  # only feature k changes, upwards
        sel = selectivity(h, nxt, eps)
        torch.testing.assert_close(sel[:, k], torch.ones(6), atol=4 * eps, rtol=0)
        assert sel[:, [j for j in range(4) if j != k]].abs().max() < 1e-6
        # directed: decreasing feature k is −1; undirected: +1
        down = h.clone()
        down[:, k] -= 0.5
        torch.testing.assert_close(selectivity(h, down, eps)[:, k], -torch.ones(6), atol=4 * eps, rtol=0)
        torch.testing.assert_close(
            selectivity(h, down, eps, directed=False)[:, k], torch.ones(6), atol=4 * eps, rtol=0
        )


def test_selectivity_shares_the_change_between_features():
    h = torch.zeros(1, 3)
    sel = selectivity(h, torch.tensor([[0.3, -0.1, 0.0]]), eps=1e-9)
    torch.testing.assert_close(sel, torch.tensor([[0.75, -0.25, 0.0]]), atol=1e-6, rtol=0)


def test_gridworld_moves_clip_and_render():
    xy = torch.tensor([[0, 0], [10, 10], [5, 5]])
    assert gridworld.step(xy, torch.tensor([0, 1, 3])).tolist() == [[0, 0], [10, 10], [6, 5]]
    img = gridworld.render(xy)
    assert img.shape == (3, 1, 12, 12) and img.sum((1, 2, 3)).tolist() == [4, 4, 4]
    assert img[2, 0, 5:7, 5:7].sum() == 4
    assert len(gridworld.all_positions().unique(dim=0)) == 121


def test_alignment_and_directions_of_known_correlations():
    perfect = [[1, 0], [-1, 0], [0, 1], [0, -1]]
    assert alignment(perfect) == 1 and covered_directions(perfect) == 4
    mixed = [[0.7, 0.7], [-0.7, 0.7], [0.7, -0.7], [0.6, 0.6]]
    assert alignment(mixed) < 0.05 and covered_directions(mixed) == 0
    assert coordinate_isolation(perfect) == 1 and abs(coordinate_isolation(mixed)) < 1e-12
    one_coordinate = [[1, 0], [-0.9, 0.1], [0.95, 0], [0.8, 0.2]]  # alignment 0.84, y never isolated
    assert alignment(one_coordinate) > 0.8 and abs(coordinate_isolation(one_coordinate) + 0.6) < 1e-12


def test_evaluate_recovers_correlations_of_a_hand_set_feature():
    net = FactorNet(4)
    net.encode = lambda s: (torch.stack([s.flatten(1).argmax(1) % 12 / 12.0] * 4, 1), torch.zeros(len(s), 32))
    ev = evaluate(net)
    torch.testing.assert_close(torch.tensor(ev["corr"])[:, 0], torch.ones(4), atol=1e-5, rtol=0)


def test_the_selectivity_gradient_trains_f_through_both_states():
    torch.manual_seed(0)
    net = FactorNet(4)
    xy = gridworld.sample_positions(64, torch.Generator().manual_seed(1))
    a = torch.randint(0, 4, (64,), generator=torch.Generator().manual_seed(2))
    s, s2 = gridworld.render(xy), gridworld.render(gridworld.step(xy, a))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    before = selectivity(net(s), net(s2))[torch.arange(64), a].mean()
    for _ in range(30):  # ascend sel of feature k = a (each action paired with one feature)
        loss = -selectivity(net(s), net(s2))[torch.arange(64), a].mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = selectivity(net(s), net(s2))[torch.arange(64), a].mean()
    assert after > before + 0.2


def test_policies_get_only_reinforce_gradients():
    torch.manual_seed(0)
    net = FactorNet(4)
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: the step leaves the gradients to inspect
    train_step(net, opt, gridworld.sample_positions(32), lam=0.0, recon=False)
    assert net.policies.weight.grad.abs().sum() > 0
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in net.trunk.parameters())


def test_continuous_variant_steps():
    torch.manual_seed(0)
    model = ContinuousFactors(2)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    m = continuous_step(model, opt, gridworld.sample_positions(16), n_phi=4)
    assert m["sel"] > 0 and all(v == v for v in m.values())  # finite, not NaN
    with pytest.raises(ValueError, match="eps must be > 0"):
        selectivity(torch.zeros(1, 2), torch.zeros(1, 2), eps=0)
