"""The heuristic CartPole expert's buffer (§S2.6b): consecutive trajectories, returns, logged next actions."""

import numpy as np
import pytest

from replab.envs.cartpole_expert import HORIZON, collect, expert_action


def test_expert_rule():
    obs = np.array([[0, 0, 0.1, -0.1], [0, 0, 0.1, -0.3], [0, 0, -0.01, 0.0]])
    assert expert_action(obs).tolist() == [1, 0, 0]  # θ + 0.5θ̇ = 0.05, −0.05, −0.01


def test_the_greedy_expert_balances_for_the_whole_limit():
    d = collect(2 * HORIZON, seed=3, epsilon=0.0, tail=10)
    assert not d["terminal"].any() and np.bincount(d["traj"]).tolist() == [HORIZON, HORIZON]


def test_buffer_is_consistent_with_itself():
    gamma = 0.99
    d = collect(3000, seed=1, epsilon=0.3, gamma=gamma, tail=40)  # ε = 0.3: some episodes fail
    assert len(d["obs"]) == 3000 and d["terminal"].any()
    same = d["traj"][1:] == d["traj"][:-1]
    assert np.array_equal(~same, d["last"][:-1]) and d["last"][-1]
    np.testing.assert_array_equal(d["next_obs"][:-1][same], d["obs"][1:][same])
    np.testing.assert_array_equal(d["next_action"][:-1][same], d["action"][1:][same])
    assert np.array_equal(d["pos"][1:][same], d["pos"][:-1][same] + 1)
    # returns: G_t = r_t + γ G_{t+1} inside a trajectory; 1 at a terminal step
    np.testing.assert_allclose(d["returns"][:-1][same], 1 + gamma * d["returns"][1:][same], rtol=1e-5)
    np.testing.assert_allclose(d["returns"][d["terminal"]], 1.0)
    # a trajectory cut at the limit keeps the continued rollout's return (> 1 unless it failed right after)
    cut = d["last"] & ~d["terminal"] & (d["pos"] == HORIZON - 1)
    assert (d["returns"][cut] >= 1.0).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"epsilon must be in \[0, 1\], got 2"):
        collect(10, 0, epsilon=2)
    with pytest.raises(ValueError, match="n must be >= 1"):
        collect(0, 0)


def test_same_seed_same_buffer_other_seed_other_buffer():
    a, b, c = collect(600, seed=5, tail=5), collect(600, seed=5, tail=5), collect(600, seed=6, tail=5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["obs"], c["obs"])
