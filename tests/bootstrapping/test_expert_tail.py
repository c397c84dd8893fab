"""The experts' tail rule (`replab.envs._expert_buffer`): the return of a step cut at `horizon` continues
over the next `tail` steps of the same rollout instead of stopping at the cut."""

import numpy as np
import pytest

from replab.envs import cartpole_expert, minatar_expert

H, TAIL, GAMMA = 30, 50, 0.99


@pytest.mark.parametrize("expert", [cartpole_expert, minatar_expert], ids=["cartpole", "minatar"])
def test_a_cut_steps_return_continues_over_the_tail(expert):
    """Three collections of one seed draw the same first rollout: stored for H steps with no tail (returns
    cut at H), for H steps with a tail of 50 (returns over the first H + 50 steps), and for H + 50 steps with
    no tail (its rewards give the tail's). ε = 0: the first episode outlives H + 50 steps (asserted)."""
    cut = expert.collect(H, seed=2, epsilon=0.0, gamma=GAMMA, horizon=H, tail=0)
    tailed = expert.collect(H, seed=2, epsilon=0.0, gamma=GAMMA, horizon=H, tail=TAIL)
    full = expert.collect(H + TAIL, seed=2, epsilon=0.0, gamma=GAMMA, horizon=H + TAIL, tail=0)
    assert not full["terminal"].any() and (full["traj"] == 0).all()  # one rollout of H + 50 steps
    for d in (cut, tailed):
        np.testing.assert_array_equal(d["obs"], full["obs"][:H])
        np.testing.assert_array_equal(d["reward"], full["reward"][:H])
        assert d["last"][-1] and not d["terminal"][-1] and d["last"].sum() == 1
        assert d["next_action"][-1] == full["action"][H]  # the behaviour's action at the cut's next_obs
    r = full["reward"].astype(np.float64)
    g = np.array([sum(GAMMA**j * r[t + j] for j in range(len(r) - t)) for t in range(len(r))])
    g_cut = np.array([sum(GAMMA**j * r[t + j] for j in range(H - t)) for t in range(H)])
    np.testing.assert_allclose(tailed["returns"], g[:H], rtol=1e-5)  # continued over the tail
    np.testing.assert_allclose(cut["returns"], g_cut, rtol=1e-5, atol=1e-6)  # cut at H
    # at the last (cut, non-terminal) row they differ by γ·G_H, which is > 0 iff a reward falls in the tail
    assert r[H:].sum() > 0, "no reward within the tail: pick another seed"
    gap = tailed["returns"][-1] - cut["returns"][-1]
    np.testing.assert_allclose(gap, GAMMA * g[H], rtol=1e-5)
    assert gap > 1e-3
    # earlier rows follow G_t = r_t + γ G_{t+1} in both
    for d in (cut, tailed):
        np.testing.assert_allclose(
            d["returns"][:-1], d["reward"][:-1] + GAMMA * d["returns"][1:], rtol=1e-5, atol=1e-6
        )
