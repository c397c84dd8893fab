import pytest
import torch

from replab.gfn.exact import policy_table, sampling_distribution
from replab.gfn.hypergrid import HyperGrid
from replab.gfn.metrics import l1_distance
from replab.gfn.sampler import sample_trajectories


@pytest.mark.parametrize("n,H,forced", [(2, 8, True), (4, 8, True), (3, 5, True), (3, 5, False)])
def test_uniform_policy_distribution_sums_to_one(n, H, forced):
    env = HyperGrid(n, H, forced_termination=forced)
    u = sampling_distribution(env, policy_table(env, lambda s: torch.zeros(len(s), env.n_actions)))
    assert float(u.sum()) == pytest.approx(1.0, abs=1e-12)
    assert (u[~env.reachable()] == 0).all() and (u[env.reachable()] > 0).all()


def _enumerate(env, table, state, prob, out):
    """Brute force over every trajectory: the probability of each terminal cell."""
    s = torch.tensor([state])
    if env.is_terminal(s)[0]:
        out[int(env.flat_index(s))] += prob
        return
    cell = int(env.flat_index(s))
    for a in torch.nonzero(env.forward_mask(s)[0]).squeeze(1).tolist():
        _enumerate(
            env, table, env.step(s, torch.tensor([a]))[0].tolist(), prob * float(table[cell, a].exp()), out
        )


@pytest.mark.parametrize("forced", [True, False])
def test_dp_matches_trajectory_enumeration(forced):
    env = HyperGrid(2, 4, forced_termination=forced)
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 3, generator=g, dtype=torch.float64)
    table = policy_table(env, lambda s: logits[env.flat_index(s)])
    want = torch.zeros(16, dtype=torch.float64)
    _enumerate(env, table, [0, 0, 0], 1.0, want)
    assert torch.allclose(sampling_distribution(env, table), want, atol=1e-12)


def test_dp_matches_sampling_frequencies():
    env = HyperGrid(2, 5)
    g = torch.Generator().manual_seed(1)
    weights = torch.randn(env.features(env.initial(1)).shape[1], env.n_actions, generator=g)

    def logits_fn(states):
        return env.features(states) @ weights

    u = sampling_distribution(env, policy_table(env, logits_fn))
    trajs = sample_trajectories(env, logits_fn, 40_000, generator=g)
    freq = torch.bincount(env.flat_index(trajs.terminal), minlength=25).double() / 40_000
    assert (freq - u).abs().max() < 0.01


def test_consistent_flows_give_the_target_distribution(flows):
    env = HyperGrid(3, 4, R0=0.01)
    table = flows(env)  # π(a|s) = F(s,a) / Σ F(s,·)  (seed004 §S4.2, Prop. 2)
    u = sampling_distribution(env, policy_table(env, lambda s: table[env.flat_index(s)]))
    p = env.true_distribution()
    assert l1_distance(p, u, env.reachable()) < 1e-12


def test_shape_is_validated():
    env = HyperGrid(2, 4)
    with pytest.raises(ValueError, match="shape"):
        sampling_distribution(env, torch.zeros(3, 3))
