"""ClonEx-SAC: the KL term is 0 when current = stored, best-return exploration picks the planted best head,
the agent trains through the shared loop, and the physics variants change what they say (seed002 §9.5)."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from replab.continual.best_return import best_return_head, head_returns
from replab.continual.clonex import ClonExSAC, gaussian_kl
from replab.envs.physics_variants import PENDULUM4, make_physics, make_task
from replab.rl.agent import intervene
from replab.rl.buffers import FrameReplay
from replab.rl.loop import train


def replay_for(env, n=64, seed=0):
    dim, adim = env.observation_space.shape[0], env.action_space.shape[0]
    r = FrameReplay(500, (dim,), frame_dtype=torch.float32, action_shape=(adim,), action_dtype=torch.float32,
                    batch_size=n, rng=np.random.default_rng(seed), verbose=False)  # fmt: skip
    return r


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu_p, mu_q = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    ls_p, ls_q = torch.randn(5, 3, generator=g) * 0.3, torch.randn(5, 3, generator=g) * 0.3
    want = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu_p, ls_p.exp()), torch.distributions.Normal(mu_q, ls_q.exp())
    ).sum(-1)
    torch.testing.assert_close(gaussian_kl(mu_p, ls_p, mu_q, ls_q), want, rtol=1e-5, atol=1e-6)


def trained_on_first_task(direction="current_stored", bc_coef=1.0):
    torch.set_num_threads(1)
    env = make_task(PENDULUM4, 0)
    agent = ClonExSAC(env.observation_space.shape[0], 1, 4, hidden=32, layers=2, expert_samples=200,
                      kl_direction=direction, bc_coef=bc_coef, seed=0)  # fmt: skip
    replay = replay_for(env)
    train(agent, env, replay, agent_steps=150, learn_start=100, random_steps=100, seed=0)
    n = agent.end_task(replay)
    assert n == min(200, len(replay)) and agent.expert["obs"].shape[0] == n
    return agent


@pytest.mark.parametrize("direction", ["current_stored", "stored_current"])
def test_kl_is_zero_when_current_equals_stored(direction):
    agent = trained_on_first_task(direction)
    e = agent.expert
    with torch.no_grad():
        assert float(agent.bc_loss(e["obs"], e["mu"], e["log_std"])) < 1e-6
        # another policy on the same states: the term is positive
        agent.actor.head.bias.add_(0.3)
        assert float(agent.bc_loss(e["obs"], e["mu"], e["log_std"])) > 1e-3


def test_bc_holds_the_stored_policy_on_the_next_task():
    kls = {}
    for coef in (0.0, 10.0):
        agent = trained_on_first_task(bc_coef=coef)
        agent.start_task(1)
        env1 = make_task(PENDULUM4, 1)
        hist = train(agent, env1, replay_for(env1), agent_steps=200, learn_start=50, random_steps=50, seed=1)
        assert hist.counters.updates == 151
        e = agent.expert
        with torch.no_grad():
            kls[coef] = float(agent.bc_loss(e["obs"], e["mu"], e["log_std"]))
    assert kls[0.0] > 1e-4  # the shared trunk moved and the old head's policy with it
    assert kls[10.0] < 0.5 * kls[0.0], kls


class Target(gym.Env):
    """One-step episodes: reward −|a − 0.5|; obs ends with the one-hot of task 3 (of 4)."""

    observation_space = gym.spaces.Box(0, 1, (6,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.array([0.3, 0.7, 0, 0, 0, 1], np.float32), {}

    def step(self, action):
        return self.reset()[0], -abs(float(action[0]) - 0.5), True, False, {}


def test_best_return_exploration_picks_the_planted_best_head_and_copies_it():
    agent = ClonExSAC(6, 1, 4, hidden=16, layers=2, seed=0)
    with torch.no_grad():  # heads 0, 1, 2 output tanh(μ) ≈ −0.6, 0.46, 0.9 with σ ≈ e^-6: head 1 is best
        agent.actor.head.weight.zero_()
        for h, mu in enumerate([-0.7, 0.5, 1.5]):
            agent.actor.head.bias[h] = torch.tensor([mu, -6.0])
    best, returns = best_return_head(agent, Target(), 3, episodes=3, seed=0)
    assert best == 1 and returns[1] == max(returns.values())
    assert returns[1] > returns[2] > returns[0]
    torch.testing.assert_close(agent.actor.head.bias[3], agent.actor.head.bias[1])
    again = head_returns(agent, Target(), [3], 3, seed=0)[3]
    assert again == pytest.approx(returns[1], abs=1e-6)  # head 3 now acts like head 1


def test_protocol_intervention_resyncs_and_reset_task_optimisers():
    from replab.intervene import Reset

    agent = ClonExSAC(7, 1, 4, hidden=16, layers=2, seed=0)
    old = agent.critic_opt
    agent.start_task(2)
    assert agent.critic_opt is not old and agent.task == 2
    intervene(agent, Reset("head"), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(agent.critic_target.h1.weight, agent.critic.h1.weight)


def test_physics_variants_change_the_dynamics():
    base, heavy, strong = (
        make_physics("pendulum"),
        make_physics("pendulum", mass=1.6),
        make_physics("pendulum", gravity=15.0),
    )
    outs = []
    for env in (base, heavy, strong):
        env.reset(seed=0)
        outs.append(env.step(np.array([1.0], np.float32))[0])
    assert not np.allclose(outs[0], outs[1]) and not np.allclose(outs[0], outs[2])
    inv = make_physics("pendulum", invert_action=True)
    inv.reset(seed=0)
    base.reset(seed=0)
    np.testing.assert_allclose(
        inv.step(np.array([1.0], np.float32))[0], base.step(np.array([-1.0], np.float32))[0]
    )
    obs, _ = make_task(PENDULUM4, 2).reset(seed=0)
    np.testing.assert_array_equal(obs[-4:], [0, 0, 1, 0])
    with pytest.raises(ValueError, match="cannot change"):
        make_physics("pendulum", power=2.0)


def test_mountaincar_variants_and_the_cw_extra():
    import importlib.util

    from replab.envs.physics_variants import CW10, CW20, make_metaworld

    base, strong = make_physics("mountaincar"), make_physics("mountaincar", power=0.003)
    outs = []
    for env in (base, strong):
        env.reset(seed=0)
        outs.append(env.step(np.array([1.0], np.float32))[0])
    assert outs[1][1] > outs[0][1]  # a stronger engine accelerates more from the same state
    assert make_physics("mountaincar", goal=0.3).unwrapped.goal_position == 0.3
    with pytest.raises(ValueError, match="goal must be in"):
        make_physics("mountaincar", goal=0.9)
    assert len(CW10) == 10 and CW20 == CW10 + CW10 and CW10[0] == "hammer-v3"
    if importlib.util.find_spec("metaworld") is None:
        with pytest.raises(ImportError, match=r"replab\[cw\]"):
            make_metaworld("hammer-v3")
    with pytest.raises(ValueError, match="unknown Continual World task"):
        make_metaworld("hamer-v3")
