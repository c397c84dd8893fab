"""The RL² meta-learner (seed003 §C.2.1, §C.8): its hidden state is carried across the episodes of a trial and
reset between trials; per-task reward whitening statistics; GAE over a whole trial; the agent protocol."""

import numpy as np
import torch

from replab.meta.egoroom import EgoRoomCore
from replab.meta.rl2 import RL2, Step
from replab.meta.rollout import run_trials
from replab.meta.whiten import RunningWhitener


def _trial(seed=0, n=3, episodes=2, steps=4):
    agent = RL2(hidden=16, seed=seed)
    core = EgoRoomCore(n, "random", seed)
    core.target[:] = 0
    ro = run_trials(
        agent, core, lambda o, r: r, RunningWhitener(1), np.zeros(n, int), episodes=episodes, steps=steps
    )
    return agent, ro


def test_hidden_state_is_carried_across_episodes_within_a_trial():
    agent, ro = _trial()
    # the step-by-step acting equals one GRU pass over the whole trial from a zero state: no reset at the
    # episode boundary (step 4), and the done flag is an input there
    with torch.no_grad():
        logits, values, _ = agent.policy(ro["obs"], ro["prev_action"], ro["prev_reward"], ro["done"])
    logp = torch.distributions.Categorical(logits=logits).log_prob(ro["action"])
    torch.testing.assert_close(logp, ro["logp"], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(values, ro["value"], rtol=1e-4, atol=1e-5)
    assert ro["done"][4].eq(1).all() and ro["done"][[0, 1, 2, 3, 5, 6, 7]].eq(0).all()
    # resetting at the boundary would give different outputs for the second episode
    with torch.no_grad():
        second, _, _ = agent.policy(
            ro["obs"][4:], ro["prev_action"][4:], ro["prev_reward"][4:], ro["done"][4:]
        )
    assert (second - logits[4:]).abs().max() > 1e-4


def test_hidden_state_is_reset_between_trials():
    agent, _ = _trial()
    assert agent.h.abs().sum() > 0  # the state at the end of a trial
    agent.begin_trial(3)
    assert agent.h.abs().sum() == 0
    step = Step(np.zeros((3, 3, 15, 15), np.uint8), torch.full((3,), -1), torch.zeros(3), torch.zeros(3))
    agent.act(step)
    a = agent.last["value"]
    fresh = RL2(hidden=16, seed=0)
    fresh.policy.load_state_dict(agent.policy.state_dict())
    fresh.begin_trial(3)
    fresh.act(step)
    torch.testing.assert_close(a, fresh.last["value"])


def test_whitening_statistics_per_task_and_shared():
    rng = np.random.default_rng(0)
    w, shared = RunningWhitener(3), RunningWhitener(1)
    seen = {0: [], 1: [], 2: []}
    for _ in range(50):  # one time step of 8 parallel trials at a time
        keys = rng.integers(0, 3, 8)
        r = rng.normal(keys * 10.0, keys + 1.0)
        w.update(torch.as_tensor(r), torch.as_tensor(keys))
        shared.update(torch.as_tensor(r), torch.zeros(8, dtype=torch.long))
        for k, v in zip(keys, r):
            seen[int(k)].append(v)
    for k in range(3):
        assert w.count[k] == len(seen[k])
        np.testing.assert_allclose(w.mean[k], np.mean(seen[k]), rtol=1e-10)
        np.testing.assert_allclose(w.var[k], np.var(seen[k]), rtol=1e-10)
    allr = np.concatenate(list(seen.values()))
    np.testing.assert_allclose(shared.mean[0], allr.mean(), rtol=1e-10)
    np.testing.assert_allclose(shared.var[0], allr.var(), rtol=1e-10)
    # whitened per task: each task's own rewards have mean 0 and variance 1 under its statistics
    for k in range(3):
        z = w.whiten(torch.as_tensor(seen[k]), torch.full((len(seen[k]),), k)).numpy()
        np.testing.assert_allclose([z.mean(), z.var()], [0.0, 1.0], atol=1e-6)


def test_gae_over_the_trial_matches_a_direct_sum():
    agent = RL2(hidden=8, gamma=0.9, gae_lambda=0.8)
    r, v = torch.randn(6, 2), torch.randn(6, 2)
    adv, ret = agent.advantages(r, v)
    nxt = torch.cat([v[1:], torch.zeros(1, 2)])
    delta = r + 0.9 * nxt - v
    direct = torch.stack([sum((0.9 * 0.8) ** (j - t) * delta[j] for j in range(t, 6)) for t in range(6)])
    torch.testing.assert_close(adv, direct)
    torch.testing.assert_close(ret, adv + v)


def test_ppo_update_and_the_agent_protocol():
    from replab.intervene.schedule import Reset
    from replab.rl.agent import intervene, part, watched_encoder

    agent, ro = _trial(n=4)
    m = agent.update(ro, 0)
    assert np.isfinite(list(m.values())).all() and m["approx_kl"] > -1
    enc = watched_encoder(agent)()
    assert enc(ro["obs"][0]).shape == (4, 32)
    before = part(agent, "encoder").fc.weight.clone()
    intervene(agent, Reset(module="encoder"))
    assert not torch.equal(before, part(agent, "encoder").fc.weight)


def test_auxiliary_objectives_join_the_update():
    class Aux(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def loss(self, batch, *, features=None):
            return (self.w * batch.obs.float().mean() / 255) ** 2, {}

    agent, ro = _trial(n=4)
    aux = Aux()
    agent.add_aux(aux, 1.0)
    agent.update(ro, 0)
    assert aux.w.item() < 1.0  # Adam stepped the objective's parameter down its gradient
