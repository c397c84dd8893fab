"""Training loop accounting (frames / env steps / agent steps, scores vs clipped rewards), evaluation,
and the MinAtar family."""

import numpy as np
import pytest
import torch
from fake_ale import FakeALE, fake_env

from replab.envs import make
from replab.envs.wrappers import FrameStack
from replab.rl.buffers import FrameReplay
from replab.rl.evaluate import evaluate
from replab.rl.loop import train


class FirstAction:
    """An agent that always plays action 0 and records its updates."""

    def __init__(self):
        self.updates = 0

    def act(self, obs, *, explore):
        return 0

    def update(self, batch, step):
        self.updates += 1
        self.rewards = batch.reward.clone()
        return {"loss/x": 1.0}


def test_loop_counts_frames_env_steps_agent_steps_and_unclipped_scores():
    # lives lost at frames 6, 14, 22 (game over); rewards 5 at frame 9 and 2 at frame 15
    ale = FakeALE({9: 5.0, 15: 2.0}, life_loss_frames=(6, 14, 22), lives=3)
    env = FrameStack(fake_env(ale, terminal_on_life_loss=True, screen_size=8), 2)
    replay = FrameReplay(100, (1, 8, 8), frame_stack=2, n_step=1, batch_size=4, verbose=False)
    agent = FirstAction()
    hist = train(agent, env, replay, agent_steps=12, learn_start=5, reward_clip=1.0, seed=0)
    c = hist.counters
    assert c.agent_steps == 12 and c.env_steps == 48  # env steps = agent steps × frame skip 4
    # two games of 6 agent steps, 22 frames each (no no-ops here), the second started by a reset
    assert c.frames == 44 and c.episodes == 6 and c.games == 2
    assert hist.train_scores == [(6, 7.0), (12, 7.0)]  # the game score over its 3 lives, unclipped
    assert agent.updates == 8 == c.updates
    assert replay.reward[: replay.size].max() == 1.0  # stored rewards are clipped to ±1


def test_evaluate_scores_whole_games_and_applies_epsilon():
    ale = FakeALE({9: 5.0, 15: 2.0}, life_loss_frames=(6, 14, 22), lives=3)
    env = fake_env(ale, terminal_on_life_loss=False, screen_size=8)
    assert evaluate(FirstAction(), env, 2, seed=0) == [7.0, 7.0]
    ale.actions.clear()
    evaluate(FirstAction(), env, 1, epsilon=1.0, rng=np.random.default_rng(0), seed=0)
    assert len(set(ale.actions)) > 1  # ε = 1: uniformly random actions


def test_minatar_family_shapes_stacks_and_determinism():
    pytest.importorskip("minatar")
    env = make("minatar:breakout", frame_stack=2)
    obs, _ = env.reset(seed=5)
    assert obs.shape == (8, 10, 10) and obs.dtype == np.uint8 and env.action_repeat == 1
    assert (obs[:4] == obs[4:]).all()  # reset padding repeats the first frame
    rollout = []
    for seed in (5, 5):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        rollout.append([env.step(env.action_space.sample())[1:3] for _ in range(200)])
    assert rollout[0] == rollout[1]
    with pytest.raises(ValueError, match="unknown MinAtar game"):
        make("minatar:pong")


def test_rainbow_agent_smoke_on_minatar():
    pytest.importorskip("minatar")
    from replab.rl.rainbow import Rainbow, RainbowConfig

    torch.manual_seed(0)
    env = make("minatar:breakout")
    cfg = RainbowConfig(encoder="minatar", obs_scale=1.0, hidden=32, target_update=50)
    agent = Rainbow(env.observation_space.shape, env.action_space.n, cfg)
    replay = FrameReplay(1000, (4, 10, 10), n_step=3, batch_size=8, prioritized=True, verbose=False)
    hist = train(agent, env, replay, agent_steps=300, learn_start=100, seed=0)
    assert hist.counters.updates == 201 and agent.updates == 201 and hist.counters.games > 0


def test_action_repeat_sums_rewards_counts_frames_and_stops_at_the_end():
    from replab.envs.wrappers import ActionRepeat

    ale = FakeALE({2: 1.0, 5: 2.0}, life_loss_frames=(7,), lives=1)
    env = ActionRepeat(fake_env(ale, frame_skip=1, screen_size=8), 3)
    env.reset(seed=0)
    assert env.action_repeat == 3
    _, r, term, _, info = env.step(0)
    assert (r, term, info["frames"]) == (1.0, False, 3)
    _, r, term, _, info = env.step(0)
    assert (r, term, info["frames"]) == (2.0, False, 3)
    _, r, term, _, info = env.step(0)
    assert (r, term, info["frames"]) == (0.0, True, 1)  # the game ended on the first repeat
    with pytest.raises(ValueError, match="action repeat"):
        ActionRepeat(env, 0)
