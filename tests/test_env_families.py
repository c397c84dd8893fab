"""The issue-25 environments are reachable by name through `replab.envs.make` like every other family."""

import pytest

from replab.envs import EnvOptionError, make


def test_physics_family_builds_a_changed_pendulum():
    env = make("physics:pendulum", gravity=12.0, mass=1.5)
    assert env.unwrapped.g == 12.0 and env.unwrapped.m == 1.5 and env.action_repeat == 1
    with pytest.raises(EnvOptionError, match="cannot change"):
        make("physics:pendulum", power=2.0)


def test_minatar_variant_family_changes_the_game_constants():
    pytest.importorskip("minatar")
    env = make("minatar_variant:space_invaders", variant={"enemy_shot_interval": 5})
    obs, _ = env.reset(seed=0)
    assert obs.shape[0] == env.observation_space.shape[0]
    with pytest.raises(EnvOptionError, match="unknown environment family"):
        make("minatar_variants:space_invaders")
