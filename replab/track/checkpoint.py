"""Checkpoints: tensors and plain containers only, written atomically, loaded without pickle's code paths.

`torch.load(..., weights_only=True)` rebuilds tensors, numbers, strings and dicts/lists/tuples/sets but
refuses any other pickled global, so resuming a run folder from elsewhere cannot run code (issue 18 §4).
A few numpy types that rebuild plain values are allowed too (arrays of numbers or strings, numpy
scalars); object arrays are not. `save` checks the state first, so an experiment that puts something
else in its state hears so when it saves, not when it is resumed.
"""

from __future__ import annotations

import os
import pickle
import re
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from replab.errors import ReplabError

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray

_NUMPY_CODES = "?bBhHiIlLqQefdgFDGSU"
SAFE_GLOBALS = [
    _multiarray._reconstruct,
    _multiarray.scalar,
    np.ndarray,
    np.dtype,
    *sorted({type(np.dtype(c)) for c in _NUMPY_CODES}, key=lambda t: t.__name__),
]
"""The numpy functions and types a checkpoint may name: those that rebuild arrays and scalars of numbers
and strings (what `torch.save` writes for them)."""

_LEAVES = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    torch.Tensor,
    torch.Size,
    torch.dtype,
    torch.device,
)
_CONTAINERS = (dict, OrderedDict, list, tuple, set)


class CheckpointError(ReplabError):
    """A checkpoint that cannot be loaded: damaged, or holding objects other than plain data."""


def check_plain(obj, where: str = "state") -> None:
    """Raise TypeError naming the first part of `obj` that is not a tensor, number, string or plain
    container (or a numpy array/scalar of numbers or strings)."""
    kind = type(obj)
    if kind in _CONTAINERS:
        items = obj.items() if isinstance(obj, dict) else enumerate(obj)
        for key, value in items:
            if isinstance(obj, dict):
                check_plain(key, f"{where} (key {key!r})")
            check_plain(value, f"{where}[{key!r}]")
        return
    if isinstance(obj, _LEAVES) and (kind in _LEAVES or isinstance(obj, torch.Tensor)):
        return
    if isinstance(obj, np.ndarray | np.generic) and obj.dtype.kind in "biufcSU?":
        return
    raise TypeError(
        f"checkpoint {where} is a {kind.__module__}.{kind.__qualname__}: a checkpoint holds tensors, numbers, "
        "strings, numpy arrays and dicts/lists/tuples/sets of them (convert dataclasses with asdict, "
        "objects with their state_dict())"
    )


def save(state: dict, path: Path) -> None:
    """Write `state` to `path` atomically: a kill mid-write leaves the previous checkpoint."""
    check_plain(state)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".checkpoint-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path, run_id: str | None = None) -> dict:
    """The state saved at `path`; CheckpointError (one line, naming the fix) when it is damaged or holds a
    pickled object that is not plain data."""
    path = Path(path)
    fix = f"delete it to restart the run from its beginning{_resume_hint(run_id)}"
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL (\S+) (?:was not|whose module)|but got <class '([^']+)'>", str(exc))
        what = f" ({next(g for g in found.groups() if g)})" if found else ""
        if found or "Weights only load failed" in str(exc):
            raise CheckpointError(
                f"checkpoint {path} holds a pickled object{what}, not only tensors and plain containers; "
                f"refused, since unpickling it could run code: {fix}"
            ) from None
        raise CheckpointError(f"checkpoint {path} is damaged ({_first_line(exc)}): {fix}") from None
    except (RuntimeError, EOFError, OSError, ValueError, IndexError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path} is damaged ({_first_line(exc)}): {fix}") from None


def _resume_hint(run_id: str | None) -> str:
    return f" ('replab run --resume {run_id}')" if run_id else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
