"""Exact policy-evaluation environments (seed004 §S3.6): Mountain Car ground truth, the chain.

Tolerances: the rollouts run the same float64 operations as gymnasium's MountainCar-v0 (both numpy/Python
float64 elementwise), but through different code, so values are compared with rtol 1e-9.
"""

import gymnasium as gym
import numpy as np
import pytest

from replab.envs import mountain_car_eval as mc


def _gym_value(state, gamma=mc.GAMMA):
    """V^π by stepping gymnasium's own MountainCar-v0 (reward × 0.1), truncated like the spec."""
    env = gym.make("MountainCar-v0").unwrapped
    env.reset(seed=0)
    env.state = np.array(state, dtype=np.float64)
    value = 0.0
    for t in range(mc.horizon(gamma)):
        _, reward, terminated, _, _ = env.step(0 if env.state[1] < 0 else 2)
        value += gamma**t * 0.1 * reward
        if terminated:
            break
    return value


def test_dynamics_and_values_match_gymnasium():
    states = mc.sample_states(np.random.default_rng(0), 12)
    ours = mc.true_values(states)
    ref = np.array([_gym_value(s) for s in states])
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def test_ground_truth_follows_the_spec():
    """§S3.6: γ = 0.95, −0.1 per step, truncation at γ^t < 1e-6; so V ∈ [−0.1/(1−γ), −0.1]."""
    assert mc.horizon() == 270 and 0.95**269 >= 1e-6 > 0.95**270
    v = mc.true_values(mc.sample_states(np.random.default_rng(1), 2000))
    assert v.max() == pytest.approx(-0.1) and v.min() > -2.0
    # a state one step from the goal is worth exactly one reward; each value is −0.1(1−γ^T)/(1−γ)
    assert mc.true_values(np.array([[0.49, 0.05]]))[0] == pytest.approx(-0.1)
    steps = np.log(1 - v / -2.0) / np.log(0.95)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)
    # the bottom of the valley at rest needs swinging: many steps, far below the states near the goal
    assert mc.true_values(np.array([[-0.5, 0.0]]))[0] < -1.9


def test_transitions_are_the_policy_and_mark_terminals():
    s, r, s2, disc = mc.transitions(np.random.default_rng(2), 500)
    pos, vel, done = mc.step(s[:, 0], s[:, 1], mc.policy(s[:, 1]))
    np.testing.assert_array_equal(s2, np.stack([pos, vel], 1))
    assert (r == -0.1).all() and set(np.unique(disc)) <= {0.0, 0.95} and (disc == 0).any()
    # Bellman consistency of the ground truth on these transitions: V(s) = r + γ(1−done)V(s′), up to the
    # truncation (a rollout of 270 steps against one of 269 from s′): |error| ≤ 2·γ^269
    v, v2 = mc.true_values(s), mc.true_values(s2)
    assert np.abs(v - (r + disc * v2)).max() <= 2 * 0.95**269 + 1e-12


def test_tabular_td_on_the_chain_converges_to_the_exact_values():
    n, gamma = 6, 0.9
    rng, w = np.random.default_rng(0), np.zeros(n)
    for _ in range(3000):
        s, r, s2, disc = mc.chain_transitions(rng, n, 8, gamma)
        delta = s @ w - (r + disc * (s2 @ w))
        w -= 0.5 * (delta[:, None] * s).mean(0)
    np.testing.assert_allclose(w, mc.chain_values(n, gamma), atol=1e-3)
