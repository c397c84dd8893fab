"""EgoRoom (seed003 §C.7): dynamics, the egocentric view against a cell-by-cell rendering, held-out colours,
and the vectorised env against one copy at a time through gymnasium's SyncVectorEnv."""

import gymnasium as gym
import numpy as np
import pytest

from replab.meta.egoroom import (
    CELL_PX,
    DIRS,
    N_TRAIN_COLOURS,
    PALETTE,
    EgoRoomCore,
    EgoRoomEnv,
    EgoRoomVectorEnv,
)


def slow_view(core, i):
    """The view of copy i, cell by cell with explicit rotations (a different computation from observe())."""
    x, y, d = core.pos[i, 0], core.pos[i, 1], core.dir[i]
    img = np.zeros((15, 15, 3), np.uint8)
    fx, fy = DIRS[d]
    rx, ry = DIRS[(d + 1) % 4]
    for row in range(5):
        depth = 4 - row
        for col in range(5):
            lat = col - 2
            cx, cy = x + depth * fx + lat * rx, y + depth * fy + lat * ry
            code = core.grid[i, cy, cx] if 0 <= cx < 9 and 0 <= cy < 9 else 1
            img[row * CELL_PX : (row + 1) * CELL_PX, col * CELL_PX : (col + 1) * CELL_PX] = core.lut[i, code]
    return img


def test_view_matches_a_cell_by_cell_rendering_in_every_pose():
    core = EgoRoomCore(6, "random", seed=1)
    rng = np.random.default_rng(0)
    for _ in range(40):
        core.step(rng.integers(0, 3, core.n))
        obs = core.observe()
        for i in range(core.n):
            np.testing.assert_array_equal(obs[i], slow_view(core, i).transpose(2, 0, 1))


def test_moves_turns_and_walls():
    core = EgoRoomCore(1, "fixed", seed=0)
    assert core.state()[0].tolist() == [4, 1, 2]  # top centre, facing down
    core.step(np.array([2]))
    assert core.state()[0].tolist() == [4, 2, 2]
    core.step(np.array([1]))  # turn right from south: west
    assert core.state()[0].tolist() == [4, 2, 3]
    for _ in range(10):
        core.step(np.array([2]))
    assert core.state()[0].tolist() == [1, 2, 3]  # stopped by the wall at x = 0
    assert (core.grid[0, core.cells[0, :, 1], core.cells[0, :, 0]] >= 2).all()


def test_objects_block_and_reward_is_inverse_distance():
    core = EgoRoomCore(1, "fixed", seed=0)
    core.target[:] = 4  # the object at (4, 5), straight below the start
    rewards = [core.step(np.array([2]))[0] for _ in range(6)]
    assert core.state()[0, :2].tolist() == [4, 4]  # the object stops the agent at distance 1
    np.testing.assert_allclose(rewards[:3], [1 / 4, 1 / 3, 1 / 2])
    assert core.distance()[0] == 1


def test_random_rooms_hold_out_test_colours():
    core = EgoRoomCore(200, "random", seed=3)
    assert core.colours.max() < N_TRAIN_COLOURS
    core.new_rooms(test=True)
    assert (core.colours[:, 0] >= N_TRAIN_COLOURS).all() and (core.colours[:, 1:] < N_TRAIN_COLOURS).all()
    assert len(PALETTE) == 10
    d = np.abs(core.cells[:, :, None] - core.cells[:, None]).max(-1) + 9 * np.eye(5, dtype=int)
    assert d.min() >= 2  # objects keep a minimum distance


def test_vector_env_matches_sync_vector_env_of_single_copies():
    n, steps = 4, 45
    vec = EgoRoomVectorEnv(n, "fixed", episode_steps=20)
    sync = gym.vector.SyncVectorEnv(
        [lambda: EgoRoomEnv("fixed", 20) for _ in range(n)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    o1, _ = vec.reset(seed=0)
    o2, _ = sync.reset(seed=0)
    np.testing.assert_array_equal(o1, o2)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        a = rng.integers(0, 3, n)
        o1, r1, te1, tr1, _ = vec.step(a)
        o2, r2, te2, tr2, _ = sync.step(a)
        np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(tr1, tr2)
        np.testing.assert_array_equal(te1, te2)
    sync.close()


def test_bad_room_is_a_clear_error():
    with pytest.raises(ValueError, match="room must be one of"):
        EgoRoomCore(2, "maze")
