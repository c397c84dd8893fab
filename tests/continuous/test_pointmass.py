"""PointMass-Pixels: dynamics and reward known answers, rendering, stacking, determinism, time limits."""

import numpy as np
import pytest

from replab.envs import make
from replab.envs.pointmass import PointMass


def test_dynamics_and_reward_follow_track_a():
    env = PointMass(obs_type="state", episode_steps=5)
    _, info = env.reset(seed=3)
    p0, g = env.p.copy(), env.g.copy()
    obs, r, term, trunc, info = env.step([1.0, -1.0])
    v = 0.1 * np.array([1.0, -1.0])
    p = np.clip(p0 + 0.05 * v, -1, 1)
    np.testing.assert_allclose(info["state"], np.concatenate([p, v, g]).astype(np.float32), rtol=1e-6)
    assert r == pytest.approx(1 - np.tanh(5 * np.linalg.norm(p - g)))
    assert obs.shape == (6,) and not term and not trunc
    for _ in range(4):
        _, _, term, trunc, _ = env.step([5.0, 0.0])  # clipped to 1
    assert trunc and not term  # a time limit, never a terminal
    assert env.v[0] == pytest.approx(0.1 * sum(0.9**i for i in range(5)))


def test_render_shows_agent_and_goal_disks_at_their_positions():
    env = PointMass(size=38)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 38, 38) and obs.dtype == np.uint8
    for pos, ch in ((env.p, 0), (env.g, 1)):
        x, y = np.round((pos + 1) / 2 * 37).astype(int)
        assert obs[ch, y, x] > 150  # red agent, green goal centre pixels
    assert obs.mean() < 60  # dark background
    assert PointMass(size=100).reset(seed=0)[0].shape == (3, 100, 100)


def test_make_stacks_frames_repeats_actions_and_is_deterministic_per_seed():
    def rollout(seed, **kw):
        env = make("pointmass", frame_stack=3, action_repeat=4, episode_steps=40, **kw)
        obs, info = env.reset(seed=seed)
        out = [obs]
        env.action_space.seed(seed)
        done, n = False, 0
        while not done:
            obs, r, term, trunc, info = env.step(env.action_space.sample())
            out.append(obs)
            done, n = term or trunc, n + 1
        assert info["frames"] == 4 and n == 10 and env.action_repeat == 4
        return np.stack(out)

    a, b, c = rollout(1), rollout(1), rollout(2)
    assert a.shape == (11, 9, 38, 38)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a[0][:3], a[0][6:])  # reset stack repeats the first frame
    np.testing.assert_array_equal(a[1][:3], a[0][6:])  # oldest frame of the next stack


def test_distractors_change_the_background_per_episode():
    env = make("pointmass:reach", distractors=True, frame_stack=1)
    a, _ = env.reset(seed=0)
    b, _ = env.reset(seed=1)
    plain, _ = make("pointmass", frame_stack=1).reset(seed=0)
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 20
    assert a.mean() > plain.mean() + 20


def test_bad_options_raise():
    with pytest.raises(ValueError, match="obs_type"):
        PointMass(obs_type="rgb")
    with pytest.raises(ValueError, match="task"):
        make("pointmass:run")


def test_dmc_family_names_its_extra_or_validates_names():
    from replab.errors import ReplabError

    with pytest.raises(ReplabError, match="domain"):
        make("dmc:cartpole")
    with pytest.raises(ValueError, match="gl"):
        make("dmc:cartpole-swingup", gl="vulkan")
    try:
        import dm_control  # noqa: F401
    except ImportError:
        with pytest.raises(ReplabError, match=r"replab\[dmc\]"):
            make("dmc:cartpole-swingup")
