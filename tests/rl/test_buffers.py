"""FrameReplay: stacks rebuilt exactly at episode boundaries, n-step targets at terminals vs time
limits, prioritized sampling probabilities and importance weights, memory of frames stored once."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from replab.envs.wrappers import FrameStack
from replab.rl.buffers import FrameReplay
from replab.rl.sumtree import SumTree


class TagEnv(gym.Env):
    """Frames (2, 1, 1) tagging (episode, t); episodes end after random lengths, by terminal or time limit."""

    def __init__(self, seed=0):
        self.observation_space = gym.spaces.Box(0, 255, (2, 1, 1), np.uint8)
        self.action_space = gym.spaces.Discrete(3)
        self.rng, self.episode = np.random.default_rng(seed), -1

    def _obs(self):
        return np.array([self.episode % 256, self.t], np.uint8).reshape(2, 1, 1)

    def reset(self, *, seed=None, options=None):
        self.episode, self.t, self.length = self.episode + 1, 0, int(self.rng.integers(1, 9))
        self.timeout = bool(self.rng.integers(2))
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        end = self.t >= self.length
        return self._obs(), float(self.t), end and not self.timeout, end and self.timeout, {}


def fill(replay, env, steps, seen):
    obs, _ = env.reset()
    replay.add_first(obs)
    seen[tuple(obs[-2:, 0, 0])] = obs
    ends = {}
    for _ in range(steps):
        a = int(env.action_space.sample())
        nxt, r, term, trunc, _ = env.step(a)
        seen[tuple(nxt[-2:, 0, 0])] = nxt
        replay.add(a, r, nxt, term, trunc)
        if term or trunc:
            ends[env.unwrapped.episode % 256] = (env.unwrapped.t, term)
            obs, _ = env.reset()
            replay.add_first(obs)
            seen[tuple(obs[-2:, 0, 0])] = obs
    return ends


@pytest.mark.parametrize("capacity", [23, 500])
def test_stacks_match_the_frame_stack_wrapper_across_episode_boundaries(capacity):
    env = FrameStack(TagEnv(), 3)
    replay = FrameReplay(
        capacity, (2, 1, 1), frame_stack=3, n_step=3, gamma=0.5, batch_size=64, verbose=False
    )
    seen = {}
    ends = fill(replay, env, 400, seen)
    for _ in range(20):
        b = replay.sample()
        for i in range(64):
            e, t = (int(v) for v in b.obs[i, -2:, 0, 0])
            assert torch.equal(b.obs[i], torch.from_numpy(seen[(e, t)]))  # identical to the env's stack
            e2, t2 = (int(v) for v in b.next_obs[i, -2:, 0, 0])
            length, terminal = ends.get(e, (10**9, False))
            m = min(3, length - t)
            assert (e2, t2) == (e, t + m) and int(b.steps[i]) == m
            assert torch.equal(b.next_obs[i], torch.from_numpy(seen[(e2, t2)]))
            expected = sum(0.5**j * (t + 1 + j) for j in range(m))
            assert b.reward[i].item() == pytest.approx(expected)
            ended_by_terminal = terminal and t + m == length
            assert b.discount[i].item() == pytest.approx(0.0 if ended_by_terminal else 0.5**m)


def one_episode(terminated: bool):
    replay = FrameReplay(50, (1, 2, 2), n_step=2, gamma=0.5, batch_size=64, verbose=False)
    frames = [np.full((1, 2, 2), v, np.uint8) for v in (10, 11, 12, 13)]
    replay.add_first(frames[0])
    for t, r in enumerate((1.0, 2.0, 3.0)):
        replay.add(t, r, frames[t + 1], terminated and t == 2, (not terminated) and t == 2)
    assert len(replay) == 3
    b = replay.sample()
    rows = {
        int(s): (b.reward[i].item(), b.discount[i].item(), int(b.next_obs[i, 0, 0, 0]))
        for i, s in enumerate(b.index)
    }
    return [rows[s] for s in sorted(rows)]


def test_n_step_targets_stop_at_terminals_but_bootstrap_through_time_limits():
    # rewards 1, 2, 3; n = 2; γ = 0.5
    assert one_episode(terminated=True) == [(2.0, 0.25, 12), (3.5, 0.0, 13), (3.0, 0.0, 13)]
    assert one_episode(terminated=False) == [(2.0, 0.25, 12), (3.5, 0.25, 13), (3.0, 0.5, 13)]


def test_incomplete_n_step_windows_are_not_sampleable():
    replay = FrameReplay(50, (1, 2, 2), n_step=3, batch_size=2, verbose=False)
    replay.add_first(np.zeros((1, 2, 2), np.uint8))
    for _ in range(2):
        replay.add(0, 1.0, np.zeros((1, 2, 2), np.uint8), False, False)
    assert len(replay) == 0
    with pytest.raises(ValueError, match="no complete transition"):
        replay.sample()
    replay.add(0, 1.0, np.zeros((1, 2, 2), np.uint8), False, False)
    assert len(replay) == 1 and set(replay.sample().index) == {0}


def test_sum_tree_finds_and_samples_in_proportion():
    tree = SumTree(5)
    tree.set([0, 1, 2, 3, 4], [1.0, 0.0, 2.0, 3.0, 4.0])
    assert tree.total == 10.0
    assert list(tree.find(np.array([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99]))) == [0, 0, 2, 2, 3, 3, 4, 4]
    idx = np.concatenate([tree.sample_stratified(10, np.random.default_rng(s)) for s in range(500)])
    freq = np.bincount(idx, minlength=5) / len(idx)
    assert freq[1] == 0 and np.allclose(freq, [0.1, 0, 0.2, 0.3, 0.4], atol=0.01)


def test_prioritized_probabilities_and_importance_weights():
    replay = FrameReplay(
        20,
        (1, 1, 1),
        n_step=1,
        batch_size=4,
        prioritized=True,
        priority_exponent=0.5,
        priority_eps=0.0,
        verbose=False,
    )
    replay.add_first(np.zeros((1, 1, 1), np.uint8))
    for t in range(4):
        replay.add(t, 0.0, np.zeros((1, 1, 1), np.uint8), t == 3, False)
    assert np.allclose(replay.tree.get([0, 1, 2, 3]), 1.0)  # new transitions: max priority (1)
    replay.update_priorities(np.arange(4), torch.tensor([1.0, 4.0, 9.0, 16.0]))
    p = np.array([1.0, 2.0, 3.0, 4.0]) / 10.0  # p_i^α with α = 0.5
    counts = np.zeros(4)
    for _ in range(300):
        b = replay.sample(beta=0.6)
        counts += np.bincount(b.index, minlength=4)
        w = (4 * p[b.index]) ** -0.6
        assert np.allclose(b.weight.numpy(), w / w.max(), rtol=1e-5)
    assert np.allclose(counts / counts.sum(), p, atol=0.02)
    assert replay.max_priority == 16.0  # later transitions enter with the largest priority seen


def test_frames_are_stored_once_and_the_estimate_is_printed(capsys):
    replay = FrameReplay(100_000, (1, 84, 84), frame_stack=4, n_step=20)
    err = capsys.readouterr().err
    frames = 100_000 * 84 * 84
    assert frames <= replay.memory_bytes() < frames * 1.05
    assert "FrameReplay: 100,000 slots" in err and "obs + next_obs stacks would need 5.26 GiB" in err


def test_batch_tensors_are_preallocated_and_reused():
    replay = FrameReplay(30, (1, 2, 2), frame_stack=2, batch_size=4, verbose=False)
    replay.add_first(np.zeros((2, 2, 2), np.uint8))
    for t in range(10):
        replay.add(0, 1.0, np.full((2, 2, 2), t, np.uint8), False, False)
    a, b = replay.sample(), replay.sample()
    assert a is b and a.obs.data_ptr() == b.obs.data_ptr()
