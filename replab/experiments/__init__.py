"""Experiments: one module per reproduced finding (DESIGN §3).

Each module `replab/experiments/<name>.py` defines a typed `Config` dataclass with `SMOKE`, `DEFAULT`
and `PAPER` presets, `run(cfg, run) -> dict` (JSON-able results) and `report(results) -> Report`, and
exposes them as a module-level `EXPERIMENT = Experiment(...)`. Modules are discovered automatically;
they must not import optional extras at import time (list them in `extras` instead).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from replab.errors import ReplabError, close_matches, require_extra

PRESETS = ("smoke", "default", "paper")


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str
    """The claim tested: one sentence from the source, with the source's own numbers."""
    source: str
    """The paper (and section/table) the claim comes from."""
    check: str
    """How the measurements decide whether the claim held."""
    config: type
    presets: dict[str, Any]
    run: Callable[[Any, Any], dict]
    report: Callable[[dict], Any]
    extras: dict[str, str] = field(default_factory=dict)
    """Optional modules it needs, as {module: extra}, e.g. {"dm_control": "dmc"}."""

    def __post_init__(self):
        missing = [p for p in PRESETS if p not in self.presets]
        if missing:
            raise ValueError(f"experiment {self.name} lacks presets {missing}")
        for preset in self.presets.values():
            if not isinstance(preset, self.config):
                raise TypeError(f"{self.name}: presets must be {self.config.__name__} instances")

    def preset(self, name: str):
        if name not in self.presets:
            raise ReplabError(f"unknown preset '{name}' for {self.name}; choose one of {', '.join(PRESETS)}")
        return dataclasses.replace(self.presets[name])

    def check_extras(self) -> None:
        for module, extra in self.extras.items():
            require_extra(module, extra)


def all_experiments() -> dict[str, Experiment]:
    """Every experiment module in this package, by name."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        exp = getattr(module, "EXPERIMENT", None)
        if isinstance(exp, Experiment):
            found[exp.name] = exp
    return found


def get(name: str) -> Experiment:
    experiments = all_experiments()
    if name not in experiments:
        raise ReplabError(
            f"unknown experiment '{name}'{close_matches(name, experiments)}; 'replab list' shows them all"
        )
    return experiments[name]
