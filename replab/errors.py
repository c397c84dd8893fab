"""Errors a user can act on, and the check for optional extras."""

from __future__ import annotations

import difflib
import importlib


class ReplabError(Exception):
    """An error caused by the user's input; the CLI prints its message on one line and exits non-zero."""


class MissingExtraError(ReplabError, ImportError):
    """An optional dependency is not installed; the message names the `pip install` that fixes it."""


def require_extra(module: str, extra: str):
    """Import `module`, or raise `MissingExtraError` naming `pip install 'replab[extra]'`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"this needs the optional package '{module}' ({exc}); install it with: pip install 'replab[{extra}]'"
        ) from exc


def close_matches(word: str, choices, n: int = 3) -> str:
    """A ' (did you mean: a, b?)' suffix for error messages, or '' when nothing is close."""
    found = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)
    return f" (did you mean: {', '.join(found)}?)" if found else ""
