"""The `replab` command line: list | run | sweep | report | compare | ledger | runs.

Bad input gets one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

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
from replab.cli_parse import check_preset, open_store, parse_args, parse_overrides
from replab.cli_read import (
    cmd_compare,
    cmd_health,
    cmd_ledger,
    cmd_list,
    cmd_report,
    cmd_runs,
)
from replab.errors import ReplabError, close_matches
from replab.sweep_cli import cmd_sweep
from replab.track import lifeline
from replab.track.ids import check_run_id

USAGE = """usage: replab COMMAND [options]

commands:
  list [-v]                     the experiments by family, one line each (-v: claims, sources)
  run NAME [--preset smoke|demo|default|paper] [--seed N] [--device cpu|cuda] [--FIELD VALUE ...]
                                train, write runs/<run-id>/report.md with figures, print the verdict
  run --resume RUN_ID           continue a killed run from its last checkpoint
  sweep NAME [--seeds K | --grid FIELD=V1,V2 seed=0..4] [--backend local|ray [--address ADDR]]
        [--retries N] [--resume] [...run options]
                                a grid of configs x seeds in parallel processes or Ray tasks, then the
                                aggregate table
  report RUN_ID                 regenerate a run's report
  compare RUN_ID... | --name NAME [--preset P] [--metric GLOB] [--by FIELD,...] [--out DIR]
                                IQM and 95% bootstrap CIs across seeds; with --metric, methods
                                compared rliable-style (IQM, mean, median, optimality gap,
                                probability of improvement, performance profiles)
  ledger [--write docs/results.md] [--name NAME] [--runs docs/results-runs.jsonl]
                                every headline claim decided over all seeds in the store
                                 (and the committed run records, with --write or --runs)
  runs [--name NAME]            the runs in the store and their status
  health RUN_ID... [--out PNG]  representation-health panel (probe/* metrics), overhead, warnings

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
    amp: bool = False
    """mixed precision: the run under bfloat16 autocast (recorded in the report with device and throughput)"""
    compile: bool = False
    """torch.compile the networks the experiment trains through `run.compiled` (the RIN of the diffusion
    family); the report names what was compiled, or says that nothing was"""


def cmd_run(args: list[str]) -> int:
    names = [x for x in args if not x.startswith("-")]
    if {"-h", "--help"} & set(args) and names and args.index(names[0]) == 0:
        exp = experiments.get(names[0])  # 'replab run NAME --help': the experiment's own fields
        print(f"{exp.name}: {exp.claim}\nsource: {exp.source}\ncheck: {exp.check}\n")
        print(
            f"run options: --preset {'|'.join(exp.presets)} --seed N --device cpu|cuda --store PATH --quiet\n"
        )
        parse_args(
            exp.config, ["--help"], prog=f"replab run {exp.name} [run options]", default=exp.preset("default")
        )
    a, rest = parse_args(RunArgs, args, prog="replab run", return_unknown_args=True)
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
            amp=a.amp,
            compile=a.compile,
        )
    else:
        if not a.name:
            raise ReplabError("name an experiment ('replab list' shows them) or give --resume RUN_ID")
        exp = experiments.get(a.name)
        exp.check_extras()
        cfg = parse_overrides(exp, check_preset(a.preset), rest)
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
            amp=a.amp,
            compile=a.compile,
        )
    print(f"run {run_id} finished in {time.time() - t0:.0f}s: the claim {verdict_phrase(verdict)}")
    print(f"report: {store.root / run_id / 'report.md'}")
    return 0


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


COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "sweep": cmd_sweep,
    "report": cmd_report,
    "compare": cmd_compare,
    "ledger": cmd_ledger,
    "runs": cmd_runs,
    "health": cmd_health,
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
