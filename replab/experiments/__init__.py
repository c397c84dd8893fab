"""Experiments: one package per family of findings, one module per reproduced finding (DESIGN §3).

`replab/experiments/<family>/<name>.py` defines a typed `Config` dataclass with `SMOKE`, `DEFAULT` and
`PAPER` presets, `run(cfg, run) -> dict` (JSON-able results) and `report(results) -> Report`, and exposes
them as a module-level `EXPERIMENT = Experiment(...)`. Modules whose name starts with `_` are the family's
shared parts and reports; a report never imports its experiment module (the claim and source are filled
in by `Experiment.make_report`). Experiments are discovered by walking the family packages; they must not
import optional extras at import time (list them in `extras` instead).
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
"""Every experiment has these; some add `demo` (the `make demo` job: a few CPU-minutes, the finding and its
figure at a glance)."""
ALL_PRESETS = ("smoke", "demo", "default", "paper")


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
    headline: str = ""
    """The claim in a few words, for `replab list` (one 80-column line with the name)."""
    family: str = ""
    """The family package it lives in (set by discovery)."""

    def __post_init__(self):
        missing = [p for p in PRESETS if p not in self.presets]
        unknown = [p for p in self.presets if p not in ALL_PRESETS]
        if unknown:
            raise ValueError(
                f"experiment {self.name} has unknown presets {unknown}; presets are {ALL_PRESETS}"
            )
        if missing:
            raise ValueError(f"experiment {self.name} lacks presets {missing}")
        for preset in self.presets.values():
            if not isinstance(preset, self.config):
                raise TypeError(f"{self.name}: presets must be {self.config.__name__} instances")

    def preset(self, name: str):
        if name not in self.presets:
            raise ReplabError(
                f"unknown preset '{name}' for {self.name}; choose one of {', '.join(self.presets)}"
            )
        return dataclasses.replace(self.presets[name])

    def make_report(self, results: dict):
        """`report(results)` with the experiment's name, claim and source filled in where the report left
        them empty (so a report module needs nothing from its experiment module)."""
        rep = self.report(results)
        rep.title = rep.title or self.name
        rep.claim = rep.claim or self.claim
        rep.source = rep.source or self.source
        return rep

    def check_extras(self) -> None:
        for module, extra in self.extras.items():
            require_extra(module, extra)


def families() -> dict[str, str]:
    """Every family package, by name, with the first line of its docstring."""
    out = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.ispkg and not info.name.startswith("_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            out[info.name] = (module.__doc__ or info.name).strip().splitlines()[0]
    return out


def all_experiments() -> dict[str, Experiment]:
    """Every experiment module of every family package, by experiment name (sorted by family, then name)."""
    found = {}
    for family in families():
        package = importlib.import_module(f"{__name__}.{family}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            if info.name.startswith("_") or info.ispkg:
                continue
            exp = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "EXPERIMENT", None)
            if isinstance(exp, Experiment):
                if exp.name in found:
                    raise RuntimeError(f"experiment name {exp.name!r} is registered twice")
                found[exp.name] = dataclasses.replace(exp, family=family) if exp.family != family else exp
    return found


def get(name: str) -> Experiment:
    experiments = all_experiments()
    if name not in experiments:
        raise ReplabError(
            f"unknown experiment '{name}'{close_matches(name, experiments)}; 'replab list' shows them all"
        )
    return experiments[name]
