"""Gymnasium environments created by name: `replab.envs.make("family:name", **kw)` (DESIGN §2).

Families are looked up in `FAMILIES` ({prefix: "module:function"}), imported only when used, so an
optional dependency (ale-py, minatar, dm_control) is needed only by the family that uses it. Adding a
family is one line here (e.g. `"pointmass": "replab.envs.pointmass:make_pointmass"`).

Observations of pixel environments are uint8 `(C, H, W)`. Every environment created here has the
attributes `action_repeat` (environment steps per agent step) and reports `info["frames"]` (simulator
frames emulated by that call), so the training loop can count frames, env steps and agent steps apart.
"""

from __future__ import annotations

import importlib

from replab.errors import ReplabError, close_matches

FAMILIES: dict[str, str] = {
    "minatar": "replab.envs.minatar:make_minatar",
    "atari": "replab.envs.atari:make_atari",
    "pointmass": "replab.envs.pointmass:make_pointmass",
    "dmc": "replab.envs.dmc:make_dmc",
    "physics": "replab.envs.physics_variants:make_physics",
    "minatar_variant": "replab.envs.minatar_variants:make_variant",
}


class EnvOptionError(ReplabError, ValueError):
    """An unknown environment name or an invalid option (mode, difficulty, ...) for it."""


def make(name: str, **kwargs):
    """Create the environment `family:name` (e.g. "minatar:breakout", "atari:Pong") with options `kwargs`."""
    family, sep, rest = name.partition(":")
    if family not in FAMILIES:
        raise EnvOptionError(
            f"unknown environment family '{family}' in '{name}'{close_matches(family, FAMILIES)}; "
            f"known families: {', '.join(sorted(FAMILIES))}"
        )
    module_name, func_name = FAMILIES[family].split(":")
    factory = getattr(importlib.import_module(module_name), func_name)
    return factory(rest, **kwargs) if sep else factory(**kwargs)


__all__ = ["FAMILIES", "EnvOptionError", "make"]
