"""Rainbow/DQN: the C51 projection on hand-computed cases, noisy layers' eval mode, flags, learning."""

import numpy as np
import pytest
import torch

from replab.rl.buffers import FrameReplay
from replab.rl.qnet import NoisyLinear
from replab.rl.rainbow import DQN, Rainbow, RainbowConfig, dqn_config, project_distribution


def test_c51_projection_hand_computed():
    support = torch.tensor([-1.0, 0.0, 1.0])
    probs = torch.tensor([[0.2, 0.3, 0.5]] * 3)
    returns = torch.tensor([0.5, 0.25, -3.0])
    discounts = torch.tensor([0.5, 1.0, 0.0])
    out = project_distribution(probs, returns, discounts, support)
    # row 0: Tz = [0, .5, 1] -> .2 on atom 1; .3 split .15/.15 on atoms 1, 2; .5 on atom 2
    # row 1: Tz = [-.75, .25, 1.25 -> 1] -> .2 split .15/.05; .3 split .225/.075; .5 on atom 2
    # row 2: terminal, R = -3 clamps to V_min: all mass on atom 0
    expected = torch.tensor([[0.0, 0.35, 0.65], [0.15, 0.275, 0.575], [1.0, 0.0, 0.0]])
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(out.sum(1), torch.ones(3))


def test_noisy_layer_eval_mode_uses_the_means_and_train_mode_the_noise():
    torch.manual_seed(0)
    layer = NoisyLinear(5, 3, sigma0=0.5)
    x = torch.randn(4, 5)
    layer.reset_noise(torch.Generator().manual_seed(1))
    noisy_a = layer(x)
    layer.reset_noise(torch.Generator().manual_seed(2))
    assert not torch.allclose(noisy_a, layer(x))  # fresh noise, different outputs
    layer.eval()
    mean = x @ layer.weight_mu.T + layer.bias_mu
    assert torch.allclose(layer(x), mean)
    layer.reset_noise(torch.Generator().manual_seed(3))
    assert torch.allclose(layer(x), mean)  # eval mode ignores the noise


def test_act_without_exploration_is_the_greedy_action_of_the_mean_network():
    cfg = RainbowConfig(encoder="minatar", obs_scale=1.0, hidden=16, noisy_sigma0=2.0)
    agent = Rainbow((2, 10, 10), 4, cfg)
    obs = np.random.default_rng(0).integers(0, 2, (2, 10, 10)).astype(np.uint8)
    agent.online.eval()
    greedy = int(agent.q_values(agent.online, torch.from_numpy(obs)[None]).argmax())
    agent.online.train()
    assert all(agent.act(obs, explore=False) == greedy for _ in range(5))
    assert agent.online.training  # the train/eval mode is restored
    explored = {agent.act(obs, explore=True) for _ in range(50)}
    assert len(explored) > 1  # noisy nets explore


def test_dqn_is_rainbow_with_every_component_off():
    agent = DQN((2, 10, 10), 3, cfg=dqn_config(encoder="minatar", obs_scale=1.0, epsilon_decay=10))
    assert isinstance(agent, Rainbow) and not agent.cfg.distributional and not agent.cfg.noisy
    assert agent.online(torch.zeros(5, 2, 10, 10, dtype=torch.uint8)).shape == (5, 3)
    assert not any(isinstance(m, NoisyLinear) for m in agent.online.modules())
    assert agent.online.head.value is None  # no dueling stream
    assert agent.epsilon() == 1.0
    for _ in range(10):
        agent.act(np.zeros((2, 10, 10), np.uint8), explore=True)
    assert agent.epsilon() == pytest.approx(0.01)


def test_config_validation_names_the_bad_value():
    with pytest.raises(ValueError, match="encoder must be one of"):
        RainbowConfig(encoder="resnet")
    with pytest.raises(ValueError, match="v_min must be < v_max"):
        RainbowConfig(v_min=1.0, v_max=-1.0)


def tiny_replay(prioritized):
    rng = np.random.default_rng(0)
    replay = FrameReplay(200, (2, 10, 10), n_step=3, batch_size=16, prioritized=prioritized, verbose=False)
    replay.add_first(rng.integers(0, 2, (2, 10, 10)).astype(np.uint8))
    for t in range(60):
        obs = rng.integers(0, 2, (2, 10, 10)).astype(np.uint8)
        replay.add(int(rng.integers(3)), float(rng.normal()), obs, t % 20 == 19, False)
        if t % 20 == 19:
            replay.add_first(obs)
    return replay


def c51_target_entropy(agent, batch):
    """H(m) of the projected target: the floor of the C51 cross-entropy (fixed target, no double Q)."""
    with torch.no_grad():
        p = agent.target(batch.next_obs).softmax(-1)
        a = (p * agent.support).sum(-1).argmax(1)
        m = project_distribution(p[torch.arange(len(a)), a], batch.reward, batch.discount, agent.support)
        return float((-(m * m.clamp_min(1e-12).log()).sum(1) * batch.weight).mean())


@pytest.mark.parametrize("distributional", [True, False], ids=["c51", "dqn"])
def test_td_loss_falls_on_a_fixed_batch(distributional):
    torch.manual_seed(0)
    # a fixed target (no noise, no double Q, no target copy) so the loss has a fixed minimum
    common = dict(encoder="minatar", obs_scale=1.0, hidden=32, lr=1e-3, target_update=10**6)
    cfg = RainbowConfig(noisy=False, double=False, **common) if distributional else dqn_config(**common)
    agent = Rainbow((2, 10, 10), 3, cfg, generator=torch.Generator().manual_seed(0))
    replay = tiny_replay(prioritized=distributional)
    batch = replay.sample()
    floor = c51_target_entropy(agent, batch) if distributional else 0.0
    first = agent.update(batch, 0)["loss/td"] - floor
    for step in range(1, 40):
        last = agent.update(batch, step)["loss/td"] - floor
    assert last < 0.5 * first
    assert agent.last_priorities.shape == (16,) and (agent.last_priorities >= 0).all()


def test_full_rainbow_update_runs_with_prioritized_replay():
    agent = Rainbow((2, 10, 10), 3, RainbowConfig(encoder="minatar", obs_scale=1.0, hidden=16))
    replay = tiny_replay(prioritized=True)
    for step in range(3):
        batch = replay.sample(beta=0.4)
        metrics = agent.update(batch, step)
        replay.update_priorities(batch.index, agent.last_priorities)
    assert np.isfinite(metrics["loss/td"]) and replay.max_priority > 1.0


def test_target_network_is_copied_every_target_update_updates():
    cfg = RainbowConfig(encoder="minatar", obs_scale=1.0, hidden=16, target_update=3, lr=1e-2)
    agent = Rainbow((2, 10, 10), 3, cfg)
    batch = tiny_replay(prioritized=False).sample()

    def same():
        return all(torch.equal(a, b) for a, b in zip(agent.online.parameters(), agent.target.parameters()))

    assert same()
    agent.update(batch, 0)
    agent.update(batch, 1)
    assert not same()
    agent.update(batch, 2)
    assert same()
