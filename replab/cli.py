"""The `replab` command line: list | run | sweep | report | compare | ledger | runs.

Bad input gets one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import sqlite3
import sys
import time
import traceback
from dataclasses import dataclass

import tyro

from replab import (
    _openmp,  # noqa: F401 (first: sets OpenMP's spin count before torch loads)
    experiments,
    launch,
    seeding,
)
from replab.errors import ReplabError, close_matches
from replab.track import lifeline
from replab.track.ids import check_run_id
from replab.track.store import Store

USAGE = """usage: replab COMMAND [options]

commands:
  list [-v]                     the experiments by family, one line each (-v: claims, sources)
  run NAME [--preset smoke|demo|default|paper] [--seed N] [--device cpu|cuda] [--FIELD VALUE ...]
                                train, write runs/<run-id>/report.md with figures, print the verdict
  run --resume RUN_ID           continue a killed run from its last checkpoint
  sweep NAME --seeds K [--workers W] [...run options]
                                K seeds in parallel processes, then the aggregate table
  report RUN_ID                 regenerate a run's report
  compare RUN_ID... | --name NAME [--preset P]
                                IQM and 95% bootstrap CIs across seeds
  ledger [--write docs/results.md] [--name NAME]
                                every headline claim decided over all seeds in the store
  runs [--name NAME]            the runs in the store and their status

'replab COMMAND --help' and 'replab run NAME --help' (the experiment's fields) say more.
Store: runs/replab.db, or --store PATH, or REPLAB_STORE."""


@dataclass
class RunArgs:
    name: tyro.conf.Positional[str | None] = None
    """experiment to run (see 'replab list')"""
    preset: str = "default"
    """smoke (seconds), demo (the `make demo` job, where an experiment has one), default (minutes on a
    laptop CPU) or paper (the source's scale)"""
    seed: int = 0
    device: str = "cpu"
    """cpu or cuda"""
    store: str | None = None
    """run store path (default runs/replab.db or $REPLAB_STORE)"""
    resume: str | None = None
    """id of a killed run to continue from its last checkpoint"""
    quiet: bool = False
    """no progress display"""
    run_id: str | None = None
    """explicit id for the new run (a sweep names its workers' runs): letters, digits, '.', '_', '-'"""
    stop_on_nonfinite: int = 0
    """stop the run (marked failed, metrics kept) when a loss is NaN/inf for this many logged steps; 0: never"""


@dataclass
class SweepArgs:
    name: tyro.conf.Positional[str]
    """experiment to sweep"""
    seeds: int = 3
    """number of seeds (first_seed, first_seed + 1, ...)"""
    first_seed: int = 0
    workers: int | None = None
    """parallel processes (default: one per CPU core)"""
    preset: str = "default"
    device: str = "cpu"
    store: str | None = None
    quiet: bool = False
    stop_on_nonfinite: int = 0
    """passed to each run: stop it when a loss is NaN/inf for this many logged steps; 0: never"""


@dataclass
class ReportArgs:
    run_id: tyro.conf.Positional[str]
    store: str | None = None


@dataclass
class CompareArgs:
    run_ids: tyro.conf.Positional[tuple[str, ...]] = ()
    name: str | None = None
    """compare all finished runs of this experiment"""
    preset: str | None = None
    """only runs at this preset"""
    store: str | None = None


@dataclass
class LedgerArgs:
    write: str | None = None
    """write the ledger to this markdown file (docs/results.md), keeping its entries this store lacks"""
    name: str | None = None
    """print only this experiment's rows"""
    store: str | None = None


@dataclass
class RunsArgs:
    name: str | None = None
    store: str | None = None


def _parse(cls, args: list[str], prog: str, **kw):
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


def _check_preset(preset: str) -> str:
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
    return _parse(exp.config, args, prog=f"replab run {exp.name}", default=exp.preset(preset))


@dataclass
class ListArgs:
    verbose: bool = False
    """each experiment's full claim and source"""


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_list(args: list[str]) -> int:
    """The experiments grouped by family, one line each (name and headline); -v adds claim and source."""
    import shutil
    import textwrap

    a = _parse(ListArgs, [x if x != "-v" else "--verbose" for x in args], prog="replab list")
    width = min(shutil.get_terminal_size((80, 24)).columns, 100)
    by_family: dict[str, list] = {}
    for exp in experiments.all_experiments().values():
        by_family.setdefault(exp.family, []).append(exp)
    pad = max(len(e.name) for exps in by_family.values() for e in exps) + 2
    for family, about in experiments.families().items():
        print(_clip(f"{family}: {about}", width))
        for exp in by_family.get(family, []):
            print(_clip(f"  {exp.name:<{pad}}{exp.headline or exp.claim}", width))
            if a.verbose:
                for text in (exp.claim, f"({exp.source})"):
                    print(textwrap.fill(text, width, initial_indent=" " * 4, subsequent_indent=" " * 4))
        print()
    print("'replab list -v': claims and sources; 'replab run NAME --help': its fields.")
    return 0


def cmd_run(args: list[str]) -> int:
    names = [x for x in args if not x.startswith("-")]
    if {"-h", "--help"} & set(args) and names and args.index(names[0]) == 0:
        exp = experiments.get(names[0])  # 'replab run NAME --help': the experiment's own fields
        print(f"{exp.name}: {exp.claim}\nsource: {exp.source}\ncheck: {exp.check}\n")
        print(
            f"run options: --preset {'|'.join(exp.presets)} --seed N --device cpu|cuda --store PATH --quiet\n"
        )
        _parse(
            exp.config, ["--help"], prog=f"replab run {exp.name} [run options]", default=exp.preset("default")
        )
    a, rest = _parse(RunArgs, args, prog="replab run", return_unknown_args=True)
    _check_stop(a.stop_on_nonfinite)
    t0 = time.time()
    if a.resume is not None:
        if a.name or rest or a.run_id is not None:
            raise ReplabError(
                "--resume continues a run with its own config: give no name, --run-id or overrides"
            )
        check_run_id(a.resume)
        launch.check_device(a.device)
        launch.threads_from_env()
        store = open_store(a.store)
        run_id, verdict = launch.resume_run(
            a.resume,
            device=a.device,
            store=store,
            quiet=a.quiet,
            stop_on_nonfinite=a.stop_on_nonfinite,
        )
    else:
        if not a.name:
            raise ReplabError("name an experiment ('replab list' shows them) or give --resume RUN_ID")
        exp = experiments.get(a.name)
        exp.check_extras()
        cfg = parse_overrides(exp, _check_preset(a.preset), rest)
        if a.run_id is not None:  # every input is checked before the store is opened or created
            check_run_id(a.run_id)
        seeding.check_seed(a.seed)
        launch.check_device(a.device)
        launch.threads_from_env()
        store = open_store(a.store)
        run_id, verdict = launch.start_run(
            a.name,
            cfg,
            preset=a.preset,
            seed=a.seed,
            device=a.device,
            store=store,
            quiet=a.quiet,
            run_id=a.run_id,
            stop_on_nonfinite=a.stop_on_nonfinite,
        )
    print(f"run {run_id} finished in {time.time() - t0:.0f}s: the claim {verdict_phrase(verdict)}")
    print(f"report: {store.root / run_id / 'report.md'}")
    return 0


def open_store(path: str | None) -> Store:
    """The run store at `path`, saying so on stderr when its folder had to be created."""
    store = Store(path)
    if store.created_folder is not None:
        print(
            f"replab: created the folder {store.created_folder} for the run store {store.path}",
            file=sys.stderr,
        )
    return store


def _check_stop(n: int) -> None:
    if n < 0:
        raise ReplabError(f"--stop-on-nonfinite must be >= 0 (0: never stop), got {n}")


def verdict_phrase(verdict: str) -> str:
    return {
        "held": "held",
        "partly held": "partly held",
        "did not hold": "did not hold",
        "inconclusive": "could not be decided (inconclusive)",
    }.get(verdict, verdict)


def cmd_sweep(args: list[str]) -> int:
    from replab.sweep import run_sweep
    from replab.track.compare import compare_table, write_compare

    a, rest = _parse(SweepArgs, args, prog="replab sweep", return_unknown_args=True)
    if a.seeds < 1:
        raise ReplabError(f"--seeds must be >= 1, got {a.seeds}")
    if a.workers is not None and a.workers < 1:
        raise ReplabError(f"--workers must be >= 1, got {a.workers}")
    seeding.check_seed(a.first_seed, "--first-seed")
    seeding.check_seed(a.first_seed + a.seeds - 1, "--first-seed + --seeds - 1")
    _check_stop(a.stop_on_nonfinite)
    exp = experiments.get(a.name)
    exp.check_extras()
    parse_overrides(exp, _check_preset(a.preset), rest)  # fail fast, before any process starts
    launch.check_device(a.device)
    launch.threads_from_env()
    store = open_store(a.store)
    store.check()
    seeds = list(range(a.first_seed, a.first_seed + a.seeds))
    if a.stop_on_nonfinite:
        rest = [*rest, "--stop-on-nonfinite", str(a.stop_on_nonfinite)]
    status = run_sweep(
        a.name, seeds, a.preset, rest, store, device=a.device, workers=a.workers, quiet=a.quiet
    )
    for rid, s in status.items():
        print(f"{rid}: {s}")
    finished = [store.get_run(r) for r, s in status.items() if s == "finished"]
    if not finished:
        raise ReplabError("no run of the sweep finished")
    print(compare_table(finished))
    path = write_compare(finished, store.root / f"sweep-{a.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"aggregate report: {path}")
    from replab.track import ledger

    rows, _ = ledger.pool(finished, _catalogue(a.name))
    if any(e.entry for e in rows):  # the headline claims, decided over this sweep's seeds
        print(f"\nheadline claims over the {len(finished)} runs of this sweep (the shared rule):")
        print(ledger.decisions([e for e in rows if e.entry]))
        print("'replab ledger' pools every stored run; 'replab ledger --write docs/results.md' records them")
    return 0 if len(finished) == len(status) else 1


def cmd_report(args: list[str]) -> int:
    a = _parse(ReportArgs, args, prog="replab report")
    check_run_id(a.run_id)
    store = open_store(a.store)
    store.reap()
    print(f"report: {launch.regenerate_report(a.run_id, store)}")
    return 0


def cmd_compare(args: list[str]) -> int:
    from replab.track.compare import compare_table, select_runs

    a = _parse(CompareArgs, args, prog="replab compare")
    if a.name:
        experiments.get(a.name)
    if a.preset:
        _check_preset(a.preset)
    if bool(a.run_ids) == bool(a.name):
        raise ReplabError(
            "give run ids or --name NAME, not both" if a.name else "give run ids or --name NAME"
        )
    for run_id in a.run_ids:
        check_run_id(run_id)
    store = open_store(a.store)
    store.reap()
    print(compare_table(select_runs(store, a.run_ids, a.name, a.preset)))
    return 0


def _catalogue(name: str | None):
    """The ledger's view of the experiments (all of them, or one)."""
    from replab.track import ledger

    found = experiments.all_experiments() if not name else {name: experiments.get(name)}
    return ledger.Catalogue(
        {n: e.headline or e.claim for n, e in found.items()},
        {n: {p: dataclasses.asdict(c) for p, c in e.presets.items()} for n, e in found.items()},
    )


def cmd_ledger(args: list[str]) -> int:
    from pathlib import Path

    from replab.track import ledger

    a = _parse(LedgerArgs, args, prog="replab ledger")
    if a.name and a.write:
        raise ReplabError("--write writes every experiment's rows; give --name or --write, not both")
    if a.write is not None and (not a.write.strip() or Path(a.write).is_dir()):
        raise ReplabError(f"--write takes a markdown file such as docs/results.md, got {a.write!r}")
    catalogue = _catalogue(a.name)
    store = open_store(a.store)
    store.reap()
    if a.write:
        try:
            path, notes = ledger.write(Path(a.write), store, catalogue, f"replab ledger --write {a.write}")
        except OSError as exc:
            raise ReplabError(f"cannot write the ledger to {a.write} ({exc.strerror or exc})") from None
        print(f"ledger: {path}")
    else:
        rows, notes = ledger.entries(store, catalogue, a.name)
        print(ledger.table(rows, catalogue))
    for note in notes:
        print(f"replab: note: {note}", file=sys.stderr)
    return 0


def cmd_runs(args: list[str]) -> int:
    a = _parse(RunsArgs, args, prog="replab runs")
    store = open_store(a.store)
    store.reap()
    print(f"{'run':<44} {'preset':<8} {'seed':>4}  {'status':<9} {'done':>5}  {'verdict':<13} started")
    for r in store.runs(experiment=a.name):
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.start))
        print(
            f"{r.id:<44} {r.preset:<8} {r.seed:>4}  {r.status:<9} {100 * r.progress:>4.0f}%  "
            f"{r.verdict or '':<13} {started}"
        )
        if r.status == "failed" and r.reason:
            print(f"    failed: {r.reason}")
    return 0


COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "compare": cmd_compare,
    "ledger": cmd_ledger,
    "runs": cmd_runs,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    lifeline.arm_from_env()  # a sweep's worker dies with the sweep
    try:
        if command not in COMMANDS:
            raise ReplabError(
                f"unknown command '{command}'{close_matches(command, COMMANDS)}; "
                f"commands: {', '.join(COMMANDS)}"
            )
        return COMMANDS[command](rest)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except ReplabError as exc:
        _error(str(exc))
        return 2
    except sqlite3.DatabaseError as exc:  # the store broke after it was opened (a full disk, damage)
        _error(f"the run store failed (sqlite: {exc}); if it is damaged, move it aside and retry")
        return 2
    except launch.NonFiniteLoss as exc:
        run_id = getattr(exc, "run_id", "?")
        _error(f"run {run_id} failed: {exc}; its metrics up to then are kept ('replab runs' shows it)", "")
        return 1
    except (launch.RunKilled, KeyboardInterrupt) as exc:
        run_id = getattr(exc, "run_id", None)
        resume = (
            f"continue it with 'replab run --resume {run_id}'" if run_id else "'replab runs' lists the runs"
        )
        _error(f"run killed; {resume}", "")
        return 130
    except Exception as exc:
        if not hasattr(exc, "run_id"):  # not inside a run: a bug, with its traceback
            raise
        traceback.print_exc()  # the experiment failed: its traceback, then what became of the run
        _error(
            f"run {exc.run_id} failed ({type(exc).__name__}); it is marked failed with its metrics kept "
            f"(runs/{exc.run_id}/report.md says why); 'replab run --resume {exc.run_id}' continues it",
            "",
        )
        return 1


def _error(message: str, kind: str = "error: ") -> None:
    """One line on stderr, whatever the message holds."""
    print(f"replab: {kind}{' '.join(message.split())}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
