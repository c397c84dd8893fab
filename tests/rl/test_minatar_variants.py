"""MinAtar factorial variants: deterministic, independent of the module constants, and they change the game
(seed002 §8.5 unit tests)."""

import numpy as np
import pytest

pytest.importorskip("minatar")

from replab.envs.minatar import MinAtarEnv  # noqa: E402
from replab.envs.minatar_variants import FACTORS, constants, factorial, make_variant, variant_class  # noqa: E402


def rollout(env, steps=300, seed=3):
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=seed)
    out, total = [obs], 0.0
    for _ in range(steps):
        obs, r, term, trunc, _ = env.step(int(rng.integers(6)))
        out.append(obs)
        total += r
        if term or trunc:
            obs, _ = env.reset()
    return np.stack(out), total


def test_default_variant_is_the_plain_game_and_constants_stay_untouched():
    import minatar.environments.space_invaders as si

    plain, _ = rollout(MinAtarEnv("space_invaders"))
    fast = make_variant("space_invaders", {"enemy_shot_interval": 2})
    assert si.enemy_shot_interval == 10  # no global monkeypatching
    same, _ = rollout(make_variant("space_invaders", {}))
    np.testing.assert_array_equal(plain, same)
    a, _ = rollout(fast)
    b, _ = rollout(make_variant("space_invaders", {"enemy_shot_interval": 2}))
    np.testing.assert_array_equal(a, b)  # deterministic
    assert not np.array_equal(a, plain)  # the factor changes the game
    # enemy bullets (channel 5) appear more often when the aliens shoot every 2 instead of 10 frames
    assert a[:, 5].sum() > plain[:, 5].sum()
    assert fast.variant == {"enemy_shot_interval": 2, "ramping": True}


def test_freeway_speed_and_time_limit_change_the_game():
    short = make_variant("freeway", {"time_limit": 50}, max_episode_steps=None)
    short.reset(seed=0)
    n = 0
    while True:
        n += 1
        if short.step(0)[2]:
            break
    assert n == 51  # terminates after time_limit + 1 frames, as the default after 2501
    with pytest.raises(ValueError, match="ignores ramping"):
        make_variant("freeway", {"ramping": False})


def test_factorial_design_and_bad_names():
    v = factorial("space_invaders")
    assert len(v) == 8 and v[0] == {k: lv[0] for k, lv in FACTORS["space_invaders"].items()}
    assert len({tuple(sorted(x.items())) for x in v}) == 8
    assert all(x in constants("space_invaders") for x in FACTORS["space_invaders"])
    with pytest.raises(ValueError, match="has no constant"):
        variant_class("space_invaders", bullet_speed=3)
    with pytest.raises(ValueError, match="positive int"):
        variant_class("space_invaders", shot_cool_down=0)
