"""Sweep grids from the command line: `--grid lr=1e-3,3e-4 seed=0..4` is every combination of the values.

Each item is `FIELD=VALUES`: a comma-separated list (`lr=1e-3,3e-4`, `models=mlp3-digits`) or an inclusive
integer range (`seed=0..4`, `epochs=1..3`). `seed` is the run's seed; every other name is a field of the
experiment's config, given to each trial as `--FIELD VALUE` (checked like `replab run`'s overrides).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from replab.errors import ReplabError

_RANGE = re.compile(r"^(-?\d+)\.\.(-?\d+)$")
_NAME = re.compile(r"^[A-Za-z_][\w-]*$")


@dataclass(frozen=True)
class GridPoint:
    """One combination of the grid: the seed and the config overrides, (field, value text) in grid order."""

    seed: int
    fields: tuple[tuple[str, str], ...] = ()

    def argv(self) -> list[str]:
        return [a for f, v in self.fields for a in (f"--{f}", v)]

    @property
    def label(self) -> str:
        return " ".join(f"{f}={v}" for f, v in self.fields)


def parse_values(item: str) -> tuple[str, list[str]]:
    """`FIELD=VALUES` -> (field with hyphens, the values as text); a one-line ReplabError naming the fix."""
    name, eq, values = item.partition("=")
    name = name.strip().removeprefix("--")
    if not eq or not _NAME.match(name) or not values.strip():
        raise ReplabError(
            f"--grid takes FIELD=V1,V2 or FIELD=A..B items (e.g. --grid lr=1e-3,3e-4 seed=0..4), got {item!r}"
        )
    name = name.replace("_", "-")
    m = _RANGE.match(values.strip())
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo:
            raise ReplabError(f"--grid {name}={values}: the range A..B needs A <= B (both included)")
        if hi - lo >= 10_000:
            raise ReplabError(
                f"--grid {name}={values}: {hi - lo + 1} values; a grid axis takes at most 10000"
            )
        return name, [str(v) for v in range(lo, hi + 1)]
    parts = [v.strip() for v in values.split(",")]
    if any(not p for p in parts):
        raise ReplabError(f"--grid {name}={values}: an empty value between commas; write V1,V2,...")
    if len(set(parts)) != len(parts):
        raise ReplabError(f"--grid {name}={values}: a value is repeated; give each value once")
    return name, parts


def expand(items: list[str] | tuple[str, ...], seeds: list[int]) -> list[GridPoint]:
    """Every combination of the grid's axes (the first axis varies slowest); `seeds` unless `seed=` is
    an axis. An axis named twice, or a seed that is not a whole number, is a one-line ReplabError."""
    axes: dict[str, list[str]] = {}
    for item in items:
        name, values = parse_values(item)
        if name in axes:
            raise ReplabError(f"--grid names {name} twice; give all its values in one item ({name}=A,B)")
        axes[name] = values
    seed_values = axes.pop("seed", None)
    if seed_values is not None:
        try:
            seeds = [int(s) for s in seed_values]
        except ValueError:
            raise ReplabError(f"--grid seed={','.join(seed_values)}: seeds are whole numbers") from None
    names = list(axes)
    points = []
    for combo in itertools.product(*(axes[n] for n in names)):
        fields = tuple(zip(names, combo))
        points.extend(GridPoint(s, fields) for s in seeds)
    return points
