import pytest
import torch

from replab.gfn.gflownet import GFlowNet
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.mcmc import MetropolisHastings
from replab.gfn.metrics import EmpiricalDistribution, l1_distance
from replab.gfn.replay import StateReplay
from replab.gfn.sampler import exploration_log_probs, sample_trajectories


def test_trajectories_are_valid_paths_ending_at_terminals():
    env = HyperGrid(3, 5)
    trajs = sample_trajectories(env, None, 50, generator=torch.Generator().manual_seed(0))
    assert env.is_terminal(trajs.terminal).all()
    s, a, s_next = trajs.transitions()
    assert len(s) == int(trajs.lengths.sum())
    assert torch.equal(env.step(s, a), s_next)
    assert not env.is_terminal(s).any()  # terminal states are never left
    assert (trajs.states[:, 0] == 0).all()


def test_exploration_mixture_and_temperature():
    logits = torch.tensor([[10.0, 0.0, -10.0]])
    mask = torch.tensor([[True, True, False]])
    p = exploration_log_probs(logits, mask, epsilon=1.0).exp()
    assert torch.allclose(p, torch.tensor([[0.5, 0.5, 0.0]]))
    p = exploration_log_probs(logits, mask, temperature=0.0 + 1e-9).exp()
    assert torch.allclose(p, torch.tensor([[0.5, 0.5, 0.0]]), atol=1e-6)
    p = exploration_log_probs(logits, mask, epsilon=0.2).exp()
    assert p[0, 2] == 0 and p[0, 1].item() == pytest.approx(
        0.8 * torch.sigmoid(torch.tensor(-10.0)).item() + 0.1
    )


def test_empirical_distribution_keeps_the_last_window():
    emp = EmpiricalDistribution(5, window=3)
    emp.add(torch.tensor([0, 1]))
    emp.add(torch.tensor([2, 3]))  # window now holds 1, 2, 3
    assert emp.counts.tolist() == [0, 1, 1, 1, 0] and emp.total == 4
    emp.add(torch.tensor([4, 4, 4, 4]))  # more than the window at once
    assert emp.counts.tolist() == [0, 0, 0, 0, 3]
    assert emp.ever.tolist() == [True] * 5
    assert emp.modes_found(torch.tensor([True, False, False, False, True])) == 2
    assert torch.allclose(emp.frequencies(), torch.tensor([0, 0, 0, 0, 1.0], dtype=torch.float64))


def test_l1_distance_known_value():
    p = torch.tensor([0.5, 0.5, 0.0])
    u = torch.tensor([1.0, 0.0, 0.0])
    assert l1_distance(p, u, torch.tensor([True, True, False])) == pytest.approx(0.5)


def test_mcmc_samples_the_target_distribution():
    env = HyperGrid(2, 4, R0=0.1)
    chains = MetropolisHastings(env, n_chains=64, generator=torch.Generator().manual_seed(0))
    emp = EmpiricalDistribution(16, window=10**6)
    for _ in range(300):  # burn-in
        chains.step()
    for _ in range(1500):
        emp.add(chains.step())
    p = env.true_distribution()
    assert (emp.frequencies() - p).abs().max() < 0.01
    assert (emp.counts[~env.reachable()] == 0).all()
    assert 0 < chains.accepted < chains.proposed


def test_mcmc_counts_only_accepted_moves_when_asked():
    env = HyperGrid(2, 4, R0=0.001)
    chains = MetropolisHastings(
        env, n_chains=8, count_rejected=False, generator=torch.Generator().manual_seed(0)
    )
    visited = sum(len(chains.step()) for _ in range(50))
    assert visited == chains.accepted < chains.proposed


def test_replay_uniform_and_prioritized():
    g = torch.Generator().manual_seed(0)
    buf = StateReplay(4, 2, "prioritized", alpha=1.0, generator=g)
    buf.add(torch.tensor([[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]]))  # the oldest row is overwritten
    assert len(buf) == 4 and sorted(buf.states[:, 0].tolist()) == [1, 2, 3, 4]
    states, slots = buf.sample(8)
    buf.update_priorities(torch.arange(4), torch.tensor([0.0, 0.0, 0.0, 5.0]))
    states, slots = buf.sample(200)
    assert (slots == 3).float().mean() > 0.99
    with pytest.raises(ValueError):
        StateReplay(0, 2)
    with pytest.raises(ValueError):
        StateReplay(4, 2, "top-k")


def test_unique_rows_inverts_exactly_in_both_code_paths():
    from replab.gfn.env import unique_rows

    g = torch.Generator().manual_seed(0)
    small = torch.randint(-3, 4, (500, 5), generator=g)  # packed into one int64 key per row
    wide = torch.cat([small[:, :2] * 2**40, small[:, 2:]], 1)  # spans too wide to pack: unique(dim=0)
    for rows in (small, wide):
        uniq, inverse = unique_rows(rows)
        assert torch.equal(uniq[inverse], rows)
        assert len(uniq) == len(torch.unique(rows, dim=0))
    assert unique_rows(torch.zeros(0, 3, dtype=torch.long))[1].shape == (0,)


def test_flow_matching_inputs_equal_the_per_row_evaluation():
    """fm_inputs evaluates each distinct state once; values and gradients equal the row-by-row ones."""
    env = HyperGrid(3, 5, R0=0.1)
    gfn = GFlowNet(env, "fm", hidden=16, generator=torch.Generator().manual_seed(0))
    states = gfn.sample(32).transitions()[2]
    log_in, in_mask, log_out, out_mask, _, terminal = gfn.fm_inputs(states)
    parents, actions, mask = env.parents(states)
    for k in range(len(states)):
        row = gfn.net(env.features(parents[k]))  # every parent slot, row by row
        want = row.gather(1, actions[k, :, None]).squeeze(1)
        assert torch.allclose(log_in[k][mask[k]], want[mask[k]], atol=1e-6)
        if not terminal[k]:
            assert torch.allclose(log_out[k], gfn.net(env.features(states[k : k + 1]))[0], atol=1e-6)
    loss = (log_in * in_mask).sum() + (log_out * out_mask).sum()
    grad = torch.autograd.grad(loss, list(gfn.net.parameters()))
    ref = 0.0
    for k in range(len(states)):
        ref = (
            ref
            + (gfn.net(env.features(parents[k])).gather(1, actions[k, :, None]).squeeze(1) * mask[k]).sum()
        )
        if not terminal[k]:
            ref = ref + (gfn.net(env.features(states[k : k + 1]))[0] * out_mask[k]).sum()
    ref_grad = torch.autograd.grad(ref, list(gfn.net.parameters()))
    assert all(torch.allclose(a, b, atol=1e-4, rtol=1e-4) for a, b in zip(grad, ref_grad, strict=True))
