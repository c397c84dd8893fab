"""The Atari100k protocol as code, checked on a scripted emulator (no ROM needed) and on ale-py."""

import numpy as np
import pytest
from fake_ale import FakeALE, fake_env

from replab.envs import EnvOptionError, make
from replab.envs.atari import area_resize_block, area_resize_weights, make_atari, rom_id


def run_until_game_over(env, max_steps=1000):
    events = []
    for _ in range(max_steps):
        _, r, term, trunc, info = env.step(0)
        events.append((r, term, trunc, info))
        if "episode_score" in info:
            return events
        if term or trunc:
            env.reset()
    raise AssertionError("the game never ended")


def test_life_loss_is_terminal_only_in_training_and_the_game_continues():
    rewards = {2: 1.0, 9: 5.0, 15: 2.0}
    ale = FakeALE(rewards, life_loss_frames=(6, 14, 22), lives=3)
    env = fake_env(ale, terminal_on_life_loss=True)
    env.reset(seed=0)
    resets = ale.resets
    events = run_until_game_over(env)
    terminals = [i for i, e in enumerate(events) if e[1]]
    # frames 1-4 step 0; frames 5-6 step 1 (life lost at 6: stops early); 7-10, 11-14 (life), 15-18, 19-22 (game over)
    assert terminals == [1, 3, 5]
    assert [e[3].get("frames") for e in events] == [4, 2, 4, 4, 4, 4]
    assert ale.resets == resets  # resets after a life loss continue the game
    assert "episode_score" not in events[1][3] and "episode_score" not in events[3][3]
    assert events[-1][3]["episode_score"] == 8.0  # the score summed over all lives, not the last life's

    ale2 = FakeALE(rewards, life_loss_frames=(6, 14, 22), lives=3)
    env2 = fake_env(ale2, terminal_on_life_loss=False)
    env2.reset(seed=0)
    events2 = run_until_game_over(env2)
    assert [i for i, e in enumerate(events2) if e[1]] == [len(events2) - 1]  # only the game over
    assert events2[-1][3]["episode_score"] == 8.0


def test_noop_starts_draw_1_to_30_noops_after_a_game_reset():
    ale = FakeALE(lives=1)
    env = fake_env(ale, noop_max=30)
    counts = []
    for seed in range(200):
        ale.actions.clear()
        _, info = env.reset(seed=seed)
        counts.append(info["frames"])
        assert ale.actions == [0] * info["frames"]  # no-ops are action 0 (NOOP)
        assert ale.frame == info["frames"]
    assert min(counts) == 1 and max(counts) == 30 and len(set(counts)) > 20


def test_frame_cap_truncates_at_108k_frames_counting_noops():
    ale = FakeALE(lives=1)
    env = fake_env(ale, noop_max=30, max_frames=108_000, screen_size=8)
    _, info = env.reset(seed=3)
    noops, steps, frames = info["frames"], 0, info["frames"]
    while True:
        _, _, term, trunc, info = env.step(1)
        steps += 1
        frames += info["frames"]
        assert not term
        if trunc:
            break
    assert frames == 108_000 and ale.frame == 108_000
    assert steps == -(-(108_000 - noops) // 4)
    assert info["episode_score"] == 0.0
    env.reset()
    assert ale.frame < 31  # a truncated game is reset, not continued


def test_max_pool_of_the_last_two_frames_and_resize():
    ale = FakeALE(lives=1, flicker=100)
    env = fake_env(ale, frame_skip=4)
    env.reset(seed=0)
    obs, *_ = env.step(0)
    expected = max(ale.screen_value(3), ale.screen_value(4))
    assert obs.shape == (1, 84, 84) and obs.dtype == np.uint8
    assert (obs == expected).all()


def test_modes_and_difficulties_are_validated_with_the_valid_list():
    ale = FakeALE(modes=(0, 4, 8), difficulties=(0, 1))
    env = fake_env(ale, mode=4, difficulty=1)
    assert ale.mode == 4 and ale.difficulty == 1 and env.mode == 4
    with pytest.raises(EnvOptionError, match=r"valid modes: \[0, 4, 8\]"):
        fake_env(FakeALE(modes=(0, 4, 8)), mode=3)
    with pytest.raises(EnvOptionError, match=r"valid difficultys: \[0, 1\]|valid difficulties"):
        fake_env(FakeALE(difficulties=(0, 1)), difficulty=2)


def test_rom_ids_and_unknown_families():
    assert rom_id("MsPacman") == "ms_pacman" and rom_id("UpNDown") == "up_n_down"
    assert rom_id("KungFuMaster") == "kung_fu_master" and rom_id("pong") == "pong"
    with pytest.raises(EnvOptionError, match="unknown environment family"):
        make("atarii:Pong")


def test_area_resize_weights_average_and_match_opencv():
    w = area_resize_weights(210, 84)
    assert np.allclose(w.sum(1), 1.0)
    img = np.random.default_rng(0).integers(0, 256, (210, 160), dtype=np.uint8)
    ours = np.rint(w @ img.astype(np.float32) @ area_resize_weights(160, 84).T)
    cv2 = pytest.importorskip("cv2")
    ref = cv2.resize(img, (84, 84), interpolation=cv2.INTER_AREA)
    assert np.abs(ours - ref).max() <= 1 and (ours == ref).mean() > 0.99


@pytest.mark.parametrize("src,dst", [(210, 84), (160, 84), (210, 64), (160, 160)])
def test_area_resize_weights_are_their_block_repeated_along_the_diagonal(src, dst):
    block = area_resize_block(src, dst)
    g = src // block.shape[1]
    assert block.shape == (dst // g, src // g)
    assert np.array_equal(np.kron(np.eye(g, dtype=np.float32), block), area_resize_weights(src, dst))


def test_observation_is_the_area_resize_of_the_max_of_the_last_two_screens():
    rng = np.random.default_rng(1)
    screens = [rng.integers(0, 256, (210, 160), dtype=np.uint8) for _ in range(8)]

    class RandomScreens(FakeALE):
        def getScreenGrayscale(self, out):  # noqa: N802 (ALE's name)
            out[...] = screens[self.frame % len(screens)]

    env = fake_env(RandomScreens(), noop_max=0)
    env.reset(seed=0)
    obs, *_ = env.step(0)  # frames 1-4: the max of frames 3 and 4
    frame = np.maximum(screens[3], screens[4]).astype(np.float32)
    ref = np.rint(area_resize_weights(210, 84) @ frame @ area_resize_weights(160, 84).T)
    assert obs.dtype == np.uint8 and obs.shape[-2:] == (84, 84)
    diff = np.abs(obs[-1].astype(np.int64) - ref)
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999  # float sums in another order: rare .5 ties


def test_real_ale_pong_stack_and_accounting():
    pytest.importorskip("ale_py")
    env = make("atari:Pong")
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8 and env.action_repeat == 4
    assert 1 <= info["frames"] <= 30 and env.action_space.n == 6
    obs2, *_, info = env.step(0)
    assert info["frames"] == 4 and (obs2[:3] == obs[1:]).all()
    with pytest.raises(EnvOptionError, match="valid modes"):
        make_atari("Pong", mode=99)
