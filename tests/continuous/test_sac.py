"""SAC (+ RAD, + CURL) on PointMass: a smoke run of a few hundred steps, stopped gradients, optimizer
ownership, the critic target's known answer."""

import numpy as np
import pytest
import torch

from replab.envs import make
from replab.rl.buffers import Batch, FrameReplay
from replab.rl.loop import train
from replab.rl.sac import SAC
from replab.rl.sac_nets import _chw_columns

SMALL = dict(hidden=32, num_layers=2, num_filters=8, feature_dim=16)


def batch(b=8, shape=(9, 20, 20), seed=0):
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.randint(0, 255, (b, *shape), dtype=torch.uint8, generator=g),
        action=torch.rand(b, 2, generator=g) * 2 - 1,
        reward=torch.rand(b, generator=g),
        discount=torch.full((b,), 0.99),
        next_obs=torch.randint(0, 255, (b, *shape), dtype=torch.uint8, generator=g),
        steps=torch.ones(b, dtype=torch.int64),
        weight=torch.ones(b),
        index=np.zeros(b, np.int64),
    )


def test_smoke_pixel_curl_sac_runs_a_few_hundred_steps():
    torch.set_num_threads(1)
    env = make("pointmass", size=20, episode_steps=100)
    agent = SAC((9, 20, 20), 2, augment="crop", augment_options={"crop_size": 16}, curl=True, **SMALL)
    replay = FrameReplay(
        1000,
        (3, 20, 20),
        frame_stack=3,
        action_shape=(2,),
        action_dtype=torch.float32,
        batch_size=16,
        verbose=False,
    )
    hist = train(agent, env, replay, agent_steps=200, learn_start=100, random_steps=100, seed=0)
    assert hist.counters.updates == 101 and hist.counters.env_steps == 800 and hist.counters.games == 8
    m = agent.update(replay.sample(), 201)
    assert all(np.isfinite(v) for v in m.values()) and "loss/curl" in m and "loss/actor" in m
    a = agent.act(env.reset(seed=1)[0], explore=False)
    assert a.shape == (2,) and np.all(np.abs(a) <= 1)
    assert agent.critic.encoder.obs_shape == (9, 16, 16)  # the network sees the crop


def test_actor_loss_does_not_train_the_convs_and_targets_are_never_optimised():
    agent = SAC((9, 20, 20), 2, actor_update_freq=1, **SMALL)
    for group in agent.critic_opt.param_groups:
        group["lr"] = 0.0  # only the actor and α can move
    convs = [p.clone() for p in agent.critic.encoder.convs.parameters()]
    trunk = [p.clone() for p in agent.actor.trunk.parameters()]
    agent.update(batch(), 1)
    assert all(torch.equal(a, b) for a, b in zip(convs, agent.critic.encoder.convs.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(trunk, agent.actor.trunk.parameters()))
    assert agent.actor.encoder.convs is agent.critic.encoder.convs  # tied
    assert all(p.grad is None for p in agent.critic_target.parameters())
    conv_ids = {id(p) for p in agent.critic.encoder.convs.parameters()}
    assert not conv_ids & {id(p) for g in agent.actor_opt.param_groups for p in g["params"]}


def test_curl_keys_come_from_the_target_encoder_and_get_no_gradient():
    agent = SAC((9, 20, 20), 2, augment="crop", augment_options={"crop_size": 16}, curl=True, **SMALL)
    assert agent.curl.key_encoder is agent.critic_target.encoder
    agent.update(batch(), 1)
    assert all(p.grad is None for p in agent.critic_target.parameters())
    assert agent.curl.W.grad is not None
    owned = {id(p) for g in agent.aux_opt.param_groups for p in g["params"]}
    assert owned == {id(agent.curl.W)}  # W only; the encoder is stepped once, by encoder_opt
    quirk = SAC((9, 20, 20), 2, augment="crop", augment_options={"crop_size": 16}, curl=True,
                double_step_encoder=True, **SMALL)  # fmt: skip
    owned = {id(p) for g in quirk.aux_opt.param_groups for p in g["params"]}
    assert {id(p) for p in quirk.critic.encoder.parameters()} <= owned


def test_critic_target_matches_a_hand_computation():
    torch.manual_seed(0)
    agent = SAC((6,), 2, **{k: v for k, v in SMALL.items() if k == "hidden"})
    b = batch(4, (6,))
    b.obs, b.next_obs = b.obs.float() / 255, b.next_obs.float() / 255
    b.discount[1] = 0.0  # a terminal: no bootstrap
    torch.manual_seed(1)
    with torch.no_grad():
        _, a, logp, _ = agent.actor(b.next_obs)
        q1, q2 = agent.critic_target(b.next_obs, a)
        y = b.reward[:, None] + b.discount[:, None] * (torch.min(q1, q2) - 0.1 * logp)
        c1, c2 = agent.critic(b.obs, b.action)
        expected = ((c1 - y) ** 2).mean() + ((c2 - y) ** 2).mean()
    torch.manual_seed(1)
    m = agent.update(b, 1)
    assert m["loss/critic"] == pytest.approx(float(expected), rel=1e-5)


def test_rad_translate_and_bad_arguments():
    agent = SAC((9, 16, 16), 2, augment="translate", augment_options={"translate_size": 20}, **SMALL)
    assert agent.critic.encoder.obs_shape == (9, 20, 20)
    agent.update(batch(4, (9, 16, 16)), 1)
    with pytest.raises(ValueError, match="pixel"):
        SAC((6,), 2, curl=True)
    with pytest.raises(ValueError, match="critic_tau"):
        SAC((6,), 2, critic_tau=0.0)


def test_channels_last_encoder_equals_the_nchw_encoder():
    from replab.rl.sac_nets import PixelEncoder

    torch.manual_seed(0)
    fast = PixelEncoder((9, 20, 20), num_layers=2, num_filters=8, feature_dim=16)
    plain = PixelEncoder((9, 20, 20), num_layers=2, num_filters=8, feature_dim=16, channels_last=False)
    plain.load_state_dict(fast.state_dict())
    assert fast.convs[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randint(0, 255, (5, 9, 20, 20), dtype=torch.uint8)
    xf = x.float()
    out_fast, out_plain = fast(xf), plain(x)
    assert torch.equal(xf, x.float())  # the input is never scaled in place
    assert torch.allclose(out_fast, out_plain, atol=1e-5)
    out_fast.square().sum().backward()
    out_plain.square().sum().backward()
    for (name, a), b in zip(fast.named_parameters(), plain.parameters()):
        ga = _chw_columns(a.grad, fast._conv_chw) if name == "head.weight" else a.grad  # stored (H, W, C)
        assert torch.allclose(ga, b.grad, atol=1e-4, rtol=1e-4), name


def test_channels_last_head_storage_keeps_the_nchw_state_dict():
    from replab.rl.sac_nets import PixelEncoder

    for head in ("linear", "mlp"):
        kw = dict(num_layers=2, num_filters=4, feature_dim=8, head=head)
        torch.manual_seed(3)
        fast = PixelEncoder((6, 13, 11), **kw)
        torch.manual_seed(3)
        plain = PixelEncoder((6, 13, 11), channels_last=False, **kw)
        sd_fast, sd_plain = fast.state_dict(), plain.state_dict()
        assert all(torch.equal(sd_fast[k], sd_plain[k]) for k in sd_plain)  # the same init, same meaning
        key = "head.weight" if head == "linear" else "head.0.weight"
        first = fast.head if head == "linear" else fast.head[0]
        assert not torch.equal(first.weight, sd_fast[key])  # stored permuted
        again = PixelEncoder((6, 13, 11), **kw)
        again.load_state_dict(sd_fast)
        assert torch.equal(dict(again.named_parameters())[key], first.weight)  # round trip
        x = torch.randint(0, 255, (3, 6, 13, 11), dtype=torch.uint8)
        assert torch.allclose(fast(x), plain(x), atol=1e-5) and torch.equal(fast(x), again(x))


def _reference_update(agent, b):
    """The update of CURL seed001 §2.2 (2a–e) written plainly, one network call per use as the reference
    code: no shared conv passes or input conversions, per-tensor EMA, the actor loss's full backward."""
    import torch.nn.functional as F

    agent.updates += 1
    obs, next_obs = agent._view(b.obs, True), agent._view(b.next_obs, True)  # 2a: obs_anchor, next_obs
    with torch.no_grad():
        _, na, nlogp, _ = agent.actor(next_obs)
        t1, t2 = agent.critic_target(next_obs, na)
        y = b.reward[:, None] + b.discount[:, None] * (torch.min(t1, t2) - agent.alpha * nlogp)
    q1, q2 = agent.critic(obs, b.action, detach_encoder=agent.detach_conv_from_critic)  # 2b
    agent.critic_opt.zero_grad()
    (F.mse_loss(q1, y) + F.mse_loss(q2, y)).backward()
    agent.critic_opt.step()
    if agent.updates % agent.actor_update_freq == 0:  # 2c
        _, a, logp, _ = agent.actor(obs, detach_encoder=True)
        aq1, aq2 = agent.critic(obs, a, detach_encoder=True)
        agent.actor_opt.zero_grad()
        (agent.alpha.detach() * logp - torch.min(aq1, aq2)).mean().backward()
        agent.actor_opt.step()
        agent.alpha_opt.zero_grad()
        (agent.alpha * (-logp - agent.target_entropy).detach()).mean().backward()
        agent.alpha_opt.step()
    if agent.updates % agent.target_update_freq == 0:  # 2d
        with torch.no_grad():
            for t, s, tau in ((agent.critic_target.q1, agent.critic.q1, agent.critic_tau),
                              (agent.critic_target.q2, agent.critic.q2, agent.critic_tau),
                              (agent.critic_target.encoder, agent.critic.encoder, agent.encoder_tau)):  # fmt: skip
                for pt, ps in zip(t.parameters(), s.parameters()):
                    pt.mul_(1 - tau).add_(ps, alpha=tau)
    if agent.curl_anchor == "critic":  # 2e: z_a = encoder(obs_anchor), z_pos = target encoder(crop(obs))
        obs_pos = agent.curl_aug(b.obs)
        z_a = agent.critic.encoder(obs)
        with torch.no_grad():
            z_pos = agent.critic_target.encoder(obs_pos)
        logits = z_a @ agent.curl.W @ z_pos.T
        logits = logits - logits.max(dim=1, keepdim=True).values
        loss = F.cross_entropy(logits, torch.arange(len(logits)))
    else:  # the thesis pseudo-code: two crops drawn by CURL itself
        loss, _ = agent.curl.loss(type("B", (), {"obs": b.obs})())
    agent.encoder_opt.zero_grad()
    agent.aux_opt.zero_grad()
    loss.backward()
    agent.encoder_opt.step()
    agent.aux_opt.step()


@pytest.mark.parametrize(
    "anchor, actor_freq, target_freq, detach_conv",
    [("critic", 1, 1, False), ("critic", 2, 2, False), ("own", 2, 2, False), ("critic", 2, 1, True)],
)
def test_optimised_update_equals_the_plain_reference_update(anchor, actor_freq, target_freq, detach_conv):
    import copy

    kw = dict(augment="crop", augment_options={"crop_size": 16}, curl=True, curl_anchor=anchor)
    agent = SAC((9, 20, 20), 2, actor_update_freq=actor_freq, target_update_freq=target_freq,
                detach_conv_from_critic=detach_conv, **kw, **SMALL)  # fmt: skip
    ref = copy.deepcopy(agent)
    for step in range(4):
        b = batch(seed=step)
        torch.manual_seed(10 + step)
        m = agent.update(b, step)
        torch.manual_seed(10 + step)
        _reference_update(ref, b)
    assert ("loss/actor" in m) == (4 % actor_freq == 0)
    for (name, p), q in zip(agent.named_parameters(), ref.parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6), name  # float round-off only
    for (name, p), p0 in zip(agent.named_parameters(), SAC((9, 20, 20), 2, **kw, **SMALL).parameters()):
        if name.startswith("critic.encoder"):
            assert not torch.allclose(p, p0), name  # the compared parameters did move
    assert agent.updates == ref.updates == 4


def test_curl_anchor_arguments():
    with pytest.raises(ValueError, match="curl_anchor"):
        SAC((9, 20, 20), 2, augment="crop", augment_options={"crop_size": 16}, curl=True, curl_anchor="x")
    with pytest.raises(ValueError, match="curl_anchor='own'"):  # no RL augmentation: the query needs its own
        SAC((9, 20, 20), 2, curl=True, augment_options={"crop_size": 16})


def test_channels_last_mlp_head_matches_nchw():
    from replab.rl.sac_nets import PixelEncoder

    fast = PixelEncoder((6, 17, 21), num_layers=3, num_filters=4, feature_dim=8, head="mlp", tanh=True)
    plain = PixelEncoder((6, 17, 21), num_layers=3, num_filters=4, feature_dim=8, head="mlp", tanh=True,
                         channels_last=False)  # fmt: skip
    plain.load_state_dict(fast.state_dict())
    x = torch.randint(0, 255, (3, 6, 17, 21), dtype=torch.uint8)
    assert torch.allclose(fast(x), plain(x), atol=1e-5)


@pytest.mark.parametrize("shape", [(6,), (9, 20, 20)])
def test_soft_update_known_answer(shape):
    kw = SMALL if len(shape) == 3 else {"hidden": 32}
    agent = SAC(shape, 2, critic_tau=0.25, encoder_tau=0.5, **kw)
    with torch.no_grad():
        for p in agent.critic.parameters():
            p.add_(torch.randn_like(p))
    before = {n: p.clone() for n, p in agent.critic_target.named_parameters()}
    online = dict(agent.critic.named_parameters())
    agent.soft_update()
    assert before  # the heads always have parameters
    for n, p in agent.critic_target.named_parameters():
        tau = 0.5 if n.startswith("encoder.") else 0.25  # §2.2 d: encoder τ_enc, Q heads τ_Q
        assert torch.allclose(p, before[n] + tau * (online[n] - before[n]), atol=1e-6), n
        assert not p.requires_grad


def test_rad_random_conv_runs_on_normalised_input_and_feeds_the_encoder_0_255():
    """random_conv needs [0, 1] floats (seed001 §3.8): the agent applies the spec to x/255 and scales back,
    so the encoder's own x/255 sees exactly the augmentation of the normalised stack."""
    from replab.augment import Augment

    kw = dict(augment="crop-rand_conv", augment_options={"crop_size": 16}, seed=3, **SMALL)
    b = batch(4)
    agent, twin = SAC((9, 20, 20), 2, **kw), Augment("crop-rand_conv", frames=3, seed=3, crop_size=16)
    got = agent._view(b.obs, train=True)
    want = twin.compose(b.obs.float() / 255.0, generator=twin.generator, frames=3) * 255.0
    torch.testing.assert_close(got, want)
    assert got.shape == (4, 9, 16, 16) and b.obs.dtype == torch.uint8  # the batch itself is untouched
    assert all(np.isfinite(v) for v in agent.update(b, 1).values())
    assert agent.act(b.obs[0].numpy(), explore=False).shape == (2,)
