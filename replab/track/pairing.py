"""Paired units for the decision rules (`track/claims.py`): per-method values keyed by seed or by
(seed, task), checked to pair up, floors broadcast to them, and the strata (tasks) of a bootstrap.

A unit is (seed, task), task None when a comparison has no tasks; seeds and tasks are kept JSON-able
(numpy integers become ints, other objects their text), since the run store keeps them.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np

Key = tuple
"""(seed, task)."""


def keyed(values, label: str) -> dict[Key, float]:
    """{(seed, task): value} from a mapping (seed or (seed, task) keys) or an array (seeds[, tasks])."""
    if isinstance(values, Mapping):
        if len({isinstance(k, tuple) for k in values}) > 1:
            raise ValueError(f"{label}: keys mix seeds and (seed, task) pairs")
        out = {}
        for k, v in values.items():
            if isinstance(k, tuple) and len(k) != 2:
                raise ValueError(f"{label}: a key is a seed or a (seed, task) pair, got {k!r}")
            key = (plain(k[0]), plain(k[1])) if isinstance(k, tuple) else (plain(k), None)
            out[key] = number(v, label, key)
        return out
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        return {(i, None): float(v) for i, v in enumerate(arr)}
    if arr.ndim == 2:
        return {(i, j): float(arr[i, j]) for i in range(arr.shape[0]) for j in range(arr.shape[1])}
    raise ValueError(
        f"{label}: give a mapping or an array of shape (seeds,) or (seeds, tasks), got {arr.shape}"
    )


def check_paired(a: dict, b: dict, a_label: str, b_label: str) -> None:
    """A ValueError naming every unit one side has and the other lacks."""
    only_a, only_b = a.keys() - b.keys(), b.keys() - a.keys()
    if only_a or only_b:
        parts = []
        if only_a:
            parts.append(f"{a_label} has {_units(only_a)} without {b_label}")
        if only_b:
            parts.append(f"{b_label} has {_units(only_b)} without {a_label}")
        raise ValueError(
            "unpaired units: "
            + "; ".join(parts)
            + " (a paired comparison needs the same seeds and tasks in both)"
        )


def floor_values(floor, keys, floor_label: str, a_label: str) -> dict[Key, float]:
    """The floor for each unit: `floor` is one number, {task: value}, or values paired like the units."""
    if isinstance(floor, numbers.Real) or (isinstance(floor, np.ndarray) and floor.ndim == 0):
        return {k: float(floor) for k in keys}
    has_tasks = any(k[1] is not None for k in keys)
    if has_tasks and isinstance(floor, Mapping) and not any(isinstance(k, tuple) for k in floor):
        per_task = {plain(t): number(v, floor_label, (None, t)) for t, v in floor.items()}
        missing = {k[1] for k in keys} - per_task.keys()
        if missing:
            raise ValueError(f"{floor_label}: no floor value for task(s) {sorted(map(str, missing))}")
        return {k: per_task[k[1]] for k in keys}
    fv = keyed(floor, floor_label)
    check_paired(dict.fromkeys(keys), fv, a_label, floor_label)
    return fv


def strata(tasks) -> list[np.ndarray]:
    """The indices of the units of each task (in a fixed order: the bootstrap's strata)."""
    return [np.flatnonzero([t == task for t in tasks]) for task in unique(tasks)]


def sorted_keys(keys) -> list:
    return sorted(keys, key=lambda k: (_order(k[1]), _order(k[0])))


def unique(items) -> list:
    seen = []
    for x in items:
        if x not in seen:
            seen.append(x)
    return sorted(seen, key=_order)


def plain(k):
    """A seed or task as a JSON-able value (numpy integers become ints)."""
    if k is None or isinstance(k, str | bool):
        return k
    if isinstance(k, numbers.Integral):
        return int(k)
    return str(k)


def number(v, label, key) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{label}: the value of {unit(key)} is not a number: {v!r}") from None


def unit(key: Key) -> str:
    return f"seed {key[0]!r}" + ("" if key[1] is None else f" task {key[1]!r}")


def _units(keys) -> str:
    keys = sorted_keys(keys)
    shown = ", ".join(f"({unit(k)})" for k in keys[:8])
    return shown + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")


def _order(x):
    return (x is None, isinstance(x, str), x if isinstance(x, int | float) else 0, str(x))
