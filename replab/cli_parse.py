"""What every `replab` command shares: tyro parsing with one-line errors, preset and field checks, the store."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import sys

import tyro

from replab import experiments
from replab.errors import ReplabError, close_matches
from replab.track.store import Store


def parse_args(cls, args: list[str], prog: str, **kw):
    """tyro.cli, with its boxed error reduced to one line (a ReplabError); --help prints and exits 0."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            return tyro.cli(cls, args=args, prog=prog, **kw)
    except SystemExit as exc:
        if exc.code in (0, None):
            print(buf.getvalue())
            raise
        lines = [ln.strip(" │╭╮╰╯─-") for ln in buf.getvalue().splitlines()]
        lines = [ln for ln in lines if ln]
        message = next(
            (ln for ln in lines[1:] if not ln.startswith("For full helptext")), lines[0] if lines else ""
        )
        message = message.replace("Error parsing Config: ", "")
        raise ReplabError(f"{message} (see '{prog} --help')") from None


def check_preset(preset: str) -> str:
    if preset not in experiments.ALL_PRESETS:
        raise ReplabError(
            f"unknown preset '{preset}'{close_matches(preset, experiments.ALL_PRESETS)}; "
            f"choose one of {', '.join(experiments.ALL_PRESETS)}"
        )
    return preset


def parse_overrides(exp: experiments.Experiment, preset: str, args: list[str]):
    """The preset's config with `--field value` overrides applied (underscores or hyphens both accepted)."""
    fields = {f.name.replace("_", "-") for f in dataclasses.fields(exp.config)}
    args = [re.sub(r"^--([\w-]+)", lambda m: "--" + m.group(1).replace("_", "-"), a) for a in args]
    for a in args:
        if a.startswith("--") and a not in ("--help",):
            field = a[2:].split("=", 1)[0]
            if field not in fields:
                raise ReplabError(
                    f"unknown field '--{field}' for experiment {exp.name}"
                    f"{close_matches(field, fields)}; fields: {', '.join(sorted(fields))}"
                )
    return parse_args(exp.config, args, prog=f"replab run {exp.name}", default=exp.preset(preset))


def open_store(path: str | None) -> Store:
    """The run store at `path`, saying so on stderr when its folder had to be created."""
    store = Store(path)
    if store.created_folder is not None:
        print(
            f"replab: created the folder {store.created_folder} for the run store {store.path}",
            file=sys.stderr,
        )
    return store
