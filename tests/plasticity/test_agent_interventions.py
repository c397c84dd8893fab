"""Interventions inside the agents' training loop (`replab.rl.loop.train(schedule=...)`): injection at
step T leaves the Q-values unchanged, the target network mirrors the online one, the trainable count is
kept; growth through `QHead.widen`; noisy heads are refused by injection but can be reset."""

import numpy as np
import pytest
import torch

from replab.envs import make
from replab.intervene import Inject, InjectedHead, Reset, Schedule, inject_plasticity, mirror, reset
from replab.rl.buffers import FrameReplay
from replab.rl.loop import train
from replab.rl.qnet import NoisyLinear, QHead
from replab.rl.rainbow import DQN, dqn_config

pytest.importorskip("minatar")


def n_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def setup(seed=0, double=False):
    torch.manual_seed(seed)
    env = make("minatar:breakout")
    cfg = dqn_config(double=True, encoder="minatar", obs_scale=1.0, hidden=32, target_update=7, lr=1e-3)
    agent = DQN(env.observation_space.shape, env.action_space.n, cfg=cfg, rng=np.random.default_rng(seed))
    if double:  # Scale casts uint8 to float32; a float64 network needs float64 inputs
        agent.online.encoder[0] = ToDouble()
        agent.online.double()
        agent.target = mirror(agent.online)
        agent.reset_optimizer()
    replay = FrameReplay(500, env.observation_space.shape, batch_size=8, verbose=False)
    return agent, env, replay


class ToDouble(torch.nn.Module):
    def forward(self, x):
        return x.double()


class Record:
    """A schedule action that records the online network's Q-values and trainable count on fixed states."""

    name = "record"

    def __init__(self, x, log):
        self.x, self.log = x, log

    def __call__(self, model, *, optimizer, batch, generator):
        with torch.no_grad():
            self.log.append((model(self.x).clone(), n_trainable(model)))
        return {}


@pytest.mark.parametrize("grow", [1.0, 2.0])
def test_loop_injection_keeps_q_identical_target_mirrors_and_count(grow):
    agent, env, replay = setup(double=True)
    x = torch.randint(0, 2, (16, *env.observation_space.shape), dtype=torch.uint8)
    log = []
    sched = Schedule(generator=torch.Generator().manual_seed(3))
    T = 40
    sched.at(T, Record(x, log)).at(T, Inject("head", grow=grow)).at(T, Record(x, log))
    hist = train(agent, env, replay, agent_steps=T, learn_start=20, update_every=2, seed=0, schedule=sched)
    assert hist.counters.updates == 11  # updates at 20, 22, ..., 40: the head had been trained
    (q0, n0), (q1, n1) = log
    assert q0.dtype == torch.float64 and torch.equal(q0, q1)  # |ΔQ| = 0 exactly at injection
    assert isinstance(agent.online.head, InjectedHead)
    if grow == 1.0:
        assert n1 == n0  # trainable parameter count unchanged by plain injection
    else:
        assert agent.online.head.fresh.hidden == 64 and n1 > n0  # QHead.widen: 2× the hidden units
    # the target network was re-synced to the injected structure and equals the online network
    assert isinstance(agent.target.head, InjectedHead)
    assert agent.target.state_dict().keys() == agent.online.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(agent.target.state_dict().values(),
                                                 agent.online.state_dict().values()))  # fmt: skip
    assert not any(p.requires_grad for p in agent.target.parameters())
    assert hist.interventions == [
        {"step": T, "action": "record"},
        {"step": T, "action": "inject"},
        {"step": T, "action": "record"},
    ]
    # the optimiser now steps the fresh head and no longer the frozen old head
    opt_ids = {id(p) for g in agent.optimizer.param_groups for p in g["params"]}
    assert all(id(p) in opt_ids for p in agent.online.head.fresh.parameters())
    assert not any(id(p) in opt_ids for p in agent.online.head.old.parameters())


def test_training_continues_after_injection_and_moves_only_fresh_head_and_encoder():
    agent, env, replay = setup()
    sched = Schedule(generator=torch.Generator().manual_seed(3)).at(30, Inject("head"))
    train(agent, env, replay, agent_steps=30, learn_start=10, seed=0, schedule=sched)
    head = agent.online.head
    frozen = [p.clone() for p in list(head.old.parameters()) + list(head.fresh_copy.parameters())]
    fresh = [p.clone() for p in head.fresh.parameters()]
    enc = [p.clone() for p in agent.online.encoder.parameters()]
    for t in range(31, 45):  # more updates with the agent's own optimiser, target updates included
        agent.update(replay.sample(), t)
    now = list(head.old.parameters()) + list(head.fresh_copy.parameters())
    assert all(torch.equal(a, b) for a, b in zip(frozen, now))
    assert any(not torch.equal(a, b) for a, b in zip(fresh, head.fresh.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(enc, agent.online.encoder.parameters()))
    # the periodic target copy works on the injected structure (7 updates per copy)
    assert isinstance(agent.target.head, InjectedHead)


def test_loop_head_reset_changes_q_and_drops_its_adam_state():
    agent, env, replay = setup()
    x = torch.randint(0, 2, (16, *env.observation_space.shape), dtype=torch.uint8)
    log = []
    sched = Schedule(generator=torch.Generator().manual_seed(3))
    sched.at(30, Record(x, log)).at(30, Reset("head")).at(30, Record(x, log))
    train(agent, env, replay, agent_steps=30, learn_start=10, seed=0, schedule=sched)
    (q0, n0), (q1, n1) = log
    assert not torch.equal(q0, q1) and n0 == n1
    assert all(p not in agent.optimizer.state for p in agent.online.head.parameters())
    assert any(p in agent.optimizer.state for p in agent.online.encoder.parameters())
    assert all(torch.equal(a, b) for a, b in zip(agent.target.parameters(), agent.online.parameters()))


def test_qhead_widen_and_noisy_heads():
    head = QHead(20, 4, hidden=8, dueling=True, noisy=False)
    wide = head.widen(2)
    assert wide.hidden == 16 and wide.dueling and wide(torch.randn(3, 20)).shape == (3, 4)
    with pytest.raises(ValueError, match="factor"):
        head.widen(0)
    noisy = QHead(20, 4, hidden=8, noisy=True)
    net = torch.nn.Sequential()
    net.add_module("head", noisy)
    with pytest.raises(ValueError, match="noisy"):
        inject_plasticity(net, "head")
    # a noisy head can be reset (NoisyLinear.reset_parameters: Fortunato et al. §3.2 init)
    layer = noisy.advantage[0]
    before = layer.weight_mu.clone()
    with torch.no_grad():
        layer.weight_sigma.mul_(3)
    reset(noisy, generator=torch.Generator().manual_seed(0))
    assert isinstance(layer, NoisyLinear) and not torch.equal(before, layer.weight_mu)
    assert torch.allclose(layer.weight_sigma, torch.full_like(layer.weight_sigma, 0.1 / 20**0.5))


def test_measurement_actions_do_not_resync_the_target():
    agent, env, replay = setup()
    x = torch.randint(0, 2, (4, *env.observation_space.shape), dtype=torch.uint8)
    probe = Record(x, [])
    probe.modifies = False
    target = agent.target
    hist = train(
        agent, env, replay, agent_steps=20, learn_start=10, seed=0, schedule=Schedule().at(20, probe)
    )
    assert agent.target is target and hist.interventions == [{"step": 20, "action": "record"}]
    assert any(not torch.equal(a, b) for a, b in zip(target.parameters(), agent.online.parameters()))
