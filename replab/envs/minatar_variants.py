"""Synthetic factorial variants of MinAtar games from their module constants (Rusu et al. 2022 reduced plan,
seed002 §8.5 Part B; the constants of minatar 1.0.15 are listed in seed002 §0).

MinAtar's games read module-level constants (`space_invaders.enemy_shot_interval = 10`, …) inside their
`Env` methods. `variant_class(game, enemy_shot_interval=5)` is a subclass of the game's `Env` whose methods
are the parent's code bound to a private copy of the module namespace with the new values: no global
monkeypatching, so variants and the plain game coexist in one process and runs stay independent.
`MinAtarVariant` is `replab.envs.minatar.MinAtarEnv` running such a subclass; `ramping` (MinAtar's
difficulty ramp, an `Env` argument, not a constant) is a factor too where the game has a ramp.

`FACTORS[game]` holds the 2-level designs of §8.5 (level 0 = MinAtar's default); `factorial(game)` lists the
2^k variants (variant 0 is the default game). Freeway ignores `ramping` in MinAtar, so its design has two
factors (§8.5 proposed a ramping factor there; it would be a no-op).
"""

from __future__ import annotations

import importlib
import itertools
import types

from replab.envs.minatar import GAMES, MinAtarEnv
from replab.errors import require_extra

FACTORS: dict[str, dict[str, tuple]] = {
    "space_invaders": {
        "enemy_shot_interval": (10, 5),
        "enemy_move_interval": (12, 6),
        "shot_cool_down": (5, 10),
    },
    "freeway": {"player_speed": (3, 5), "time_limit": (2500, 1500)},
    "asterix": {"init_spawn_speed": (10, 5), "init_move_interval": (5, 3), "ramping": (True, False)},
    "seaquest": {"init_spawn_speed": (20, 10), "max_oxygen": (200, 100), "ramping": (True, False)},
}
NO_RAMP = ("breakout", "freeway")
"""Games whose MinAtar `Env` ignores `ramping` (breakout ramps nothing; freeway has no ramp)."""


def constants(game: str) -> dict[str, int]:
    """The game's module-level integer constants and their default values."""
    require_extra("minatar", "minatar")
    module = importlib.import_module(f"minatar.environments.{game}")
    return {k: v for k, v in vars(module).items() if not k.startswith("_") and type(v) is int}


def variant_class(game: str, **changes) -> type:
    """A subclass of the game's `Env` reading `changes` instead of the module constants."""
    if game not in GAMES:
        raise ValueError(f"unknown MinAtar game {game!r}; choose one of {GAMES}")
    known = constants(game)
    bad = [k for k in changes if k not in known]
    if bad:
        raise ValueError(f"{game} has no constant {bad}; its constants are {known}")
    for k, v in changes.items():
        if type(v) is not int or v < 1:
            raise ValueError(f"{k} must be a positive int, got {v!r}")
    module = importlib.import_module(f"minatar.environments.{game}")
    namespace = {**vars(module), **changes}  # a private copy: the module itself is never changed
    methods = {
        name: types.FunctionType(f.__code__, namespace, name, f.__defaults__, f.__closure__)
        for name, f in vars(module.Env).items()
        if isinstance(f, types.FunctionType)
    }
    suffix = ",".join(f"{k}={v}" for k, v in sorted(changes.items()))
    return type(f"{game}_Env[{suffix}]", (module.Env,), {**methods, "constants": {**known, **changes}})


class MinAtarVariant(MinAtarEnv):
    """`MinAtarEnv` whose game runs with changed constants (and `ramping`); `self.variant` records them."""

    def __init__(self, game: str, variant: dict | None = None, **kwargs):
        variant = dict(variant or {})
        if game in NO_RAMP and "ramping" in variant:
            raise ValueError(f"MinAtar's {game} ignores ramping: it cannot be a factor of its variants")
        ramping = bool(variant.pop("ramping", kwargs.pop("difficulty_ramping", True)))
        super().__init__(game, difficulty_ramping=ramping, **kwargs)
        cls = variant_class(game, **variant)
        self._env.env = cls(ramping=ramping)
        self._env.env.random = self._env.random  # MinAtar shares one RandomState between wrapper and game
        self.variant = {**variant, "ramping": ramping}


def factorial(game: str, factors: dict[str, tuple] | None = None) -> list[dict]:
    """Every combination of the factors' levels (the first factor varies slowest); variant 0 = all levels 0."""
    factors = FACTORS.get(game) if factors is None else factors
    if not factors:
        raise ValueError(f"no factorial design for {game!r}; pass factors= or use one of {list(FACTORS)}")
    names = list(factors)
    return [dict(zip(names, levels)) for levels in itertools.product(*(factors[n] for n in names))]


def make_variant(game: str, variant: dict | None = None, **kwargs) -> MinAtarVariant:
    """`MinAtarVariant(game, variant, **kwargs)` (kwargs: sticky_action_prob, max_episode_steps, …)."""
    return MinAtarVariant(game, variant, **kwargs)
