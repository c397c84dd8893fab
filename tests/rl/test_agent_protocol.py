"""The agent protocol (`replab.rl.agent`): every intervention × every agent, through one code path.

Per cell: the output is unchanged where the method promises it (injection, ReDo); every target network and
key encoder has the online network's structure and values after the intervention and keeps tracking it
during the next updates; re-drawn weights come from the agent's initialiser; the optimisers own exactly
the trainable parameters; training continues with finite losses."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from replab.intervene import Inject, InjectedHead, LayerNorm, ReDo, Reset, ShrinkPerturb
from replab.rl.agent import intervene, model_of, part, unique
from replab.rl.buffers import Batch
from replab.rl.curl import CURL, curl_projection
from replab.rl.qnet import NoisyLinear, feature_dim
from replab.rl.rainbow import DQN, Rainbow, RainbowConfig, dqn_config
from replab.rl.reward_prediction import RewardPrediction
from replab.rl.sac import SAC

SAC_KW = dict(
    hidden=32, num_layers=2, num_filters=8, feature_dim=16, actor_update_freq=1, target_update_freq=1
)
RAINBOW_KW = dict(encoder="minatar", obs_scale=1.0, hidden=32, target_update=3, lr=1e-3)


def sac(curl=False):
    torch.manual_seed(0)
    if curl:
        return SAC(
            (6, 22, 22), 2, frames=2, augment="crop", augment_options={"crop_size": 18}, curl=True, **SAC_KW
        )
    return SAC((6, 18, 18), 2, frames=2, **SAC_KW)


def rainbow(curl=False, dqn=False):
    torch.manual_seed(0)
    cfg = dqn_config(**RAINBOW_KW) if dqn else RainbowConfig(atoms=11, **RAINBOW_KW)
    agent = (DQN if dqn else Rainbow)((4, 10, 10), 3, cfg=cfg, generator=torch.Generator().manual_seed(1))
    if curl:
        enc = agent.online.encoder
        augment = lambda x: torch.roll(x, 1, dims=-1)  # noqa: E731 (a deterministic stand-in augmentation)
        width = feature_dim(enc, (4, 10, 10))
        agent.add_aux(
            CURL(enc, 8, augment=augment, projection=curl_projection(width, 16, 8), momentum=0.9), 1.0
        )
    return agent


AGENTS = {
    "sac": lambda: sac(),
    "sac+curl": lambda: sac(curl=True),
    "rainbow": lambda: rainbow(),
    "rainbow+curl": lambda: rainbow(curl=True),
    "dqn": lambda: rainbow(dqn=True),
}


def batch(agent, b=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    pixels = isinstance(agent, SAC)
    shape = (6, 22, 22) if pixels and agent.curl is not None else (6, 18, 18) if pixels else (4, 10, 10)
    high = 255 if pixels else 2
    action = torch.rand(b, 2, generator=g) * 2 - 1 if pixels else torch.randint(0, 3, (b,), generator=g)
    return Batch(
        obs=torch.randint(0, high, (b, *shape), dtype=torch.uint8, generator=g),
        action=action,
        reward=torch.rand(b, generator=g),
        discount=torch.full((b,), 0.99),
        next_obs=torch.randint(0, high, (b, *shape), dtype=torch.uint8, generator=g),
        steps=torch.ones(b, dtype=torch.int64),
        weight=torch.ones(b),
        index=np.zeros(b, np.int64),
    )


@torch.no_grad()
def outputs(agent, b) -> list[torch.Tensor]:
    """Every network's output in eval mode (the deterministic view): Q-values, SAC's critic and mean action."""
    nets = agent.networks()
    modes = {n: m.training for n, m in nets.items()}
    for m in nets.values():
        m.eval()
    try:
        if isinstance(agent, SAC):
            obs = agent._view(b.obs)
            return [*agent.critic(obs, b.action), agent.actor(obs, sample=False)[0]]
        return [agent.online(b.obs)]
    finally:
        for n, m in nets.items():
            m.train(modes[n])


def state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)


def plant_dead_units(agent):
    """Make a few hidden units of a Linear layer followed by an activation dead on every input."""
    with torch.no_grad():
        if isinstance(agent, SAC):
            agent.critic.q1[0].bias[:3] = -1e4
            agent.actor.trunk[0].bias[:2] = -1e4
            agent.critic.encoder.convs[0].bias[:2] = -1e4
        else:
            first = agent.online.encoder[1]  # the conv after Scale
            first.bias[:3] = -1e4


def check_optimizers_own_exactly_the_trainable_parameters(agent):
    trainable = unique(p for net in agent.networks().values() for p in net.parameters())
    trainable += [p for o, _ in agent.aux for p in o.parameters() if p.requires_grad]
    if isinstance(agent, SAC):
        trainable.append(agent.log_alpha)
    held = {id(p) for opt in agent.optimizers().values() for g in opt.param_groups for p in g["params"]}
    assert held == {id(p) for p in trainable}
    owned = agent.owned_parameters()
    for name, opt in agent.optimizers().items():
        mine = [id(p) for g in opt.param_groups for p in g["params"]]
        assert len(mine) == len(set(mine)) and set(mine) == {id(p) for p in owned[name]}, name
        assert all(p.requires_grad for g in opt.param_groups for p in g["params"])


def check_shadows_mirror_their_online_networks(agent):
    for s in agent.shadows():
        a, b = s.online.state_dict(), s.target.state_dict()
        assert a.keys() == b.keys(), s.attr
        assert all(not p.requires_grad for p in s.target.parameters())


def ema_targets_move(agent, b, before):
    """After updates, every EMA shadow parameter whose source is trainable has moved (it is tracked)."""
    for s in agent.shadows():
        if s.rule != "ema" or s.tau == 0:
            continue
        key = (id(s.owner), s.attr)
        for (name, t), (_, src) in zip(s.target.named_parameters(), s.online.named_parameters()):
            if src.requires_grad and name in before[key]:
                assert not torch.equal(t, before[key][name]), f"{s.attr}.{name} is not tracked"


ACTIONS = {
    "reset": Reset("head"),
    "shrink_perturb": ShrinkPerturb(),
    "inject": Inject("head"),
    "redo": ReDo(tau=0.0),
    "layernorm": LayerNorm(),
}


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("kind", list(AGENTS))
def test_every_intervention_on_every_agent(kind, action):
    torch.set_num_threads(1)
    agent = AGENTS[kind]()
    b = batch(agent)
    for t in range(1, 4):  # optimiser state exists before the intervention
        agent.update(batch(agent, seed=t), t)
    if action == "redo":
        plant_dead_units(agent)
    noisy = any(isinstance(m, NoisyLinear) for m in part(agent, "head").modules())
    before_out = outputs(agent, b)
    online_before = {(id(s.owner), s.attr): state(s.online) for s in agent.shadows()}
    target_before = {(id(s.owner), s.attr): state(s.target) for s in agent.shadows()}
    before_params = {n: p.detach().clone() for n, p in model_of(agent).named_parameters()}
    if action == "inject" and noisy:  # the method is defined for heads without noise (Double DQN, §2.6)
        with pytest.raises(ValueError, match="noisy"):
            intervene(agent, ACTIONS[action], generator=torch.Generator().manual_seed(0))
        assert all(torch.equal(p, before_params[n]) for n, p in model_of(agent).named_parameters())
        return
    info = intervene(agent, ACTIONS[action], batch=b, generator=torch.Generator().manual_seed(0))

    after_out = outputs(agent, b)
    if action in ("inject", "redo"):  # function-preserving by construction
        for x, y in zip(before_out, after_out):
            torch.testing.assert_close(y, x, rtol=1e-5, atol=1e-5)  # float32 re-association of the sum
    if action == "redo":
        assert info["recycled"] >= 3
    if action in ("reset", "layernorm"):
        assert any(not torch.allclose(x, y) for x, y in zip(before_out, after_out))
    if action == "inject":
        heads = [m for m in model_of(agent).modules() if isinstance(m, InjectedHead)]
        assert len(heads) == (3 if isinstance(agent, SAC) else 1)
    if action == "layernorm":
        assert any(isinstance(m, nn.LayerNorm | nn.GroupNorm) for m in model_of(agent).modules())

    check_optimizers_own_exactly_the_trainable_parameters(agent)
    check_shadows_mirror_their_online_networks(agent)
    for s in agent.shadows():  # a shadow of a changed network holds its values; the others are left alone
        key = (id(s.owner), s.attr)
        changed = not same(online_before[key], state(s.online))
        assert same(state(s.target), state(s.online) if changed else target_before[key]), s.attr
    if isinstance(agent, SAC) and agent.curl is not None:
        assert agent.curl.key_encoder is agent.critic_target.encoder

    snapshot = {
        (id(s.owner), s.attr): {n: p.detach().clone() for n, p in s.target.named_parameters()}
        for s in agent.shadows()
    }
    for t in range(4, 7):
        metrics = agent.update(batch(agent, seed=t), t)
        assert all(np.isfinite(v) for v in metrics.values()), metrics
    ema_targets_move(agent, b, snapshot)
    if not isinstance(agent, SAC):  # target_update=3: the 6th update copied online into the target
        for k, v in agent.online.state_dict().items():
            assert torch.equal(agent.target.state_dict()[k], v)


def orthogonal_rows_or_columns(w: torch.Tensor) -> bool:
    w = w.reshape(w.shape[0], -1)
    m = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return torch.allclose(m, torch.eye(m.shape[0]), atol=1e-4)


def test_resets_draw_from_the_agents_own_initialiser():
    agent = sac()
    intervene(agent, Reset("head"), generator=torch.Generator().manual_seed(0))
    for head in (agent.critic.q1, agent.critic.q2, agent.actor.trunk):  # SAC: orthogonal, bias 0 [R]
        for layer in head:
            if isinstance(layer, nn.Linear):
                assert orthogonal_rows_or_columns(layer.weight) and torch.all(layer.bias == 0)
    plant_dead_units(agent)
    intervene(agent, ReDo(tau=0.0), batch=batch(agent), generator=torch.Generator().manual_seed(0))
    conv = agent.critic.encoder.convs[0].weight  # delta-orthogonal: only the centre tap is non-zero
    assert torch.all(conv[:2, :, 0, 0] == 0) and torch.all(conv[:2, :, 1, 1] != 0)
    dqn = rainbow(dqn=True)  # Rainbow/DQN: PyTorch's default, |w| <= 1/sqrt(fan_in)
    intervene(dqn, Reset("head"), generator=torch.Generator().manual_seed(0))
    for layer in dqn.online.head.modules():
        if isinstance(layer, nn.Linear):
            assert layer.weight.abs().max() <= layer.in_features**-0.5


def test_sac_injection_keeps_the_soft_update_on_the_fresh_heads():
    """The bug this protocol fixes: the EMA groups captured at construction never saw the fresh head."""
    agent = sac()
    intervene(agent, Inject("critic.q1"))
    assert isinstance(agent.critic_target.q1, InjectedHead)
    fresh = agent.critic_target.q1.fresh[0].weight.clone()
    for t in range(1, 3):
        agent.update(batch(agent, seed=t), t)
    assert not torch.equal(agent.critic_target.q1.fresh[0].weight, fresh)


def test_rainbow_curl_key_encoder_is_resynced_after_an_encoder_change():
    agent = rainbow(curl=True)
    curl = agent.aux[0][0]
    intervene(agent, ShrinkPerturb(), generator=torch.Generator().manual_seed(0))
    for k, v in agent.online.encoder.state_dict().items():
        assert torch.equal(curl.key_encoder.state_dict()[k], v)
    key = copy.deepcopy(curl.key_encoder.state_dict())
    intervene(agent, Reset("head"))  # the encoder did not change: its key encoder keeps its own values
    assert all(torch.equal(curl.key_encoder.state_dict()[k], v) for k, v in key.items())


def test_unknown_part_names_the_roles_and_networks():
    with pytest.raises(ValueError, match="role.*encoder.*head"):
        intervene(sac(), Reset("trunk"))


def test_reward_prediction_composes_with_curl_on_both_agents():
    for agent in (sac(curl=True), rainbow(curl=True)):
        pixels = isinstance(agent, SAC)
        enc = agent.critic.encoder if pixels else agent.online.encoder
        width = 16 if pixels else feature_dim(enc, (4, 10, 10))
        kw = dict(action_dim=2) if pixels else dict(n_actions=3)
        agent.add_aux(RewardPrediction(enc, width, hidden=8, **kw), 0.5)
        check_optimizers_own_exactly_the_trainable_parameters(agent)
        m = agent.update(batch(agent), 1)
        assert "loss/reward_prediction" in m and "loss/curl" in m


def test_sac_curl_reward_prediction_reset_schedule_and_monitor_compose_without_glue():
    """SAC + CURL + a second auxiliary loss + a reset schedule + a Monitor, trained by the loop."""
    from replab.envs import make
    from replab.intervene import Schedule
    from replab.rl.agent import encoder_monitor
    from replab.rl.buffers import FrameReplay
    from replab.rl.loop import train

    torch.set_num_threads(1)
    env = make("pointmass", size=22, episode_steps=60)
    agent = SAC((9, 22, 22), 2, augment="crop", augment_options={"crop_size": 18}, curl=True, **SAC_KW)
    agent.add_aux(RewardPrediction(agent.critic.encoder, 16, action_dim=2, hidden=16), 0.5)
    replay = FrameReplay(
        400,
        (3, 22, 22),
        frame_stack=3,
        action_shape=(2,),
        action_dtype=torch.float32,
        batch_size=8,
        verbose=False,
    )
    logged = []
    obs = torch.as_tensor(np.stack([env.reset(seed=i)[0] for i in range(32)]))
    monitor = encoder_monitor(agent, obs, lambda m, t: logged.append((t, m)), every=40)
    schedule = Schedule.parse(["reset:module=head@80", "shrink_perturb@100"])
    hist = train(
        agent,
        env,
        replay,
        agent_steps=120,
        learn_start=50,
        random_steps=50,
        seed=0,
        schedule=schedule,
        monitor=monitor,
    )
    assert [r["action"] for r in hist.interventions] == ["reset", "shrink_perturb"]
    probed = [(t, m) for t, m in logged if "probe/srank/encoder" in m]
    assert [t for t, _ in probed] == [40, 80, 120]
    assert [t for t, m in logged if m == {"train/intervention": 1.0}] == [80, 100]  # panel markers
    assert all(np.isfinite(m["probe/srank/encoder"]) and m["probe/srank/encoder"] >= 1 for _, m in probed)
    m = agent.update(replay.sample(), 121)
    assert {"loss/curl", "loss/reward_prediction", "loss/critic"} <= set(m) and all(
        np.isfinite(list(m.values()))
    )
    check_optimizers_own_exactly_the_trainable_parameters(agent)


def test_redo_after_injection_recycles_the_encoder_and_keeps_every_output():
    agent = rainbow(dqn=True)
    intervene(agent, Inject("head"), generator=torch.Generator().manual_seed(0))
    plant_dead_units(agent)
    b = batch(agent)
    before = outputs(agent, b)
    info = intervene(agent, ReDo(tau=0.0), batch=b, generator=torch.Generator().manual_seed(0))
    assert info["recycled"] >= 3
    torch.testing.assert_close(outputs(agent, b)[0], before[0], rtol=1e-5, atol=1e-5)
    frozen = agent.online.head.old.advantage[0].weight  # a consumer: the dead units' columns are zeroed
    assert torch.all(frozen.view(frozen.shape[0], 16, -1)[:, :3] == 0)


def test_the_documented_user_agent_takes_every_intervention():
    """docs/architecture.md's example agent, executed as written (so the documentation stays true)."""
    import pathlib
    import re

    text = (pathlib.Path(__file__).parents[2] / "docs" / "architecture.md").read_text()
    code = re.search(r"### A user.s own agent\n.*?```python\n(.*?)```", text, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "architecture.md", "exec"), scope)
    agent = scope["MyDQN"](4, 2)
    g = torch.Generator().manual_seed(0)
    b = Batch(
        obs=torch.randn(16, 4, generator=g), action=torch.randint(0, 2, (16,), generator=g),
        reward=torch.rand(16, generator=g), discount=torch.full((16,), 0.99), next_obs=torch.randn(16, 4, generator=g),
        steps=torch.ones(16), weight=torch.ones(16), index=np.zeros(16, np.int64),
    )  # fmt: skip
    for t in range(1, 4):
        agent.update(b, t)
    before = agent.q(b.obs).detach()
    intervene(agent, Inject("head"), generator=g)
    torch.testing.assert_close(agent.q(b.obs), before, rtol=1e-6, atol=1e-6)
    assert isinstance(agent.q_target[2], InjectedHead)
    for action in (ReDo(tau=0.0), Reset("head"), ShrinkPerturb(), LayerNorm()):
        intervene(agent, action, batch=b, generator=g)
        check_optimizers_own_exactly_the_trainable_parameters(agent)
        assert np.isfinite(agent.update(b, 5)["loss/td"])


def test_surgery_outside_the_protocol_is_refused_not_silently_untracked():
    """inject_plasticity(agent.critic, "q1") by hand used to leave the soft update on the old head."""
    from replab.intervene import inject_plasticity

    agent = sac()
    inject_plasticity(agent.critic, "q1")
    with pytest.raises(RuntimeError, match="outside replab.rl.agent.intervene"):
        agent.update(batch(agent), 1)
