"""The `replab` commands that read: list, report, compare, ledger, runs."""

from __future__ import annotations

import dataclasses
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass

import tyro

from replab import experiments, launch
from replab.cli_parse import check_preset, open_store, parse_args
from replab.errors import ReplabError
from replab.track.ids import check_run_id


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
    metric: str | None = None
    """compare methods rliable-style on the summary numbers matching this glob (comma-separated globs),
    each a task: IQM, mean, median, optimality gap, P(X > Y) with CIs, performance profiles (PNG)"""
    by: str | None = None
    """with --metric: the config fields that name a method, comma-separated (default: those that differ)"""
    gamma: float = 1.0
    """with --metric: the optimality gap's threshold γ (rliable's default, for normalised scores)"""
    reps: int = 50_000
    """with --metric: bootstrap replicates (rliable's default)"""
    seed: int = 0
    """with --metric: the bootstrap's seed (the legacy numpy stream rliable draws from)"""
    out: str | None = None
    """with --metric: the folder for compare.md, compare.json and the PNGs (default runs/compare-<time>)"""
    store: str | None = None


@dataclass
class LedgerArgs:
    write: str | None = None
    """write the ledger to this markdown file (docs/results.md), keeping its entries this store lacks"""
    name: str | None = None
    """print only this experiment's rows"""
    runs: str | None = None
    """pool the store's runs with these committed run records (docs/results-runs.jsonl, which --write
    reads and writes beside its file)"""
    store: str | None = None


@dataclass
class HealthArgs:
    run_ids: tyro.conf.Positional[tuple[str, ...]] = ()
    out: str | None = None
    """the PNG to write (default: runs/<first run>/health.png, or health-<n>-runs.png for several)"""
    store: str | None = None


@dataclass
class RunsArgs:
    name: str | None = None
    store: str | None = None


@dataclass
class ListArgs:
    verbose: bool = False
    """each experiment's full claim and source"""


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_list(args: list[str]) -> int:
    """The experiments grouped by family, one line each (name and headline); -v adds claim and source."""

    a = parse_args(ListArgs, [x if x != "-v" else "--verbose" for x in args], prog="replab list")
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


def cmd_report(args: list[str]) -> int:
    a = parse_args(ReportArgs, args, prog="replab report")
    check_run_id(a.run_id)
    store = open_store(a.store)
    store.reap()
    print(f"report: {launch.regenerate_report(a.run_id, store)}")
    return 0


def cmd_compare(args: list[str]) -> int:
    from replab.track.compare import compare_table, select_runs

    a = parse_args(CompareArgs, args, prog="replab compare")
    if a.name:
        experiments.get(a.name)
    if a.preset:
        check_preset(a.preset)
    if bool(a.run_ids) == bool(a.name):
        raise ReplabError(
            "give run ids or --name NAME, not both" if a.name else "give run ids or --name NAME"
        )
    for run_id in a.run_ids:
        check_run_id(run_id)
    if a.metric is None and (a.by or a.out):
        raise ReplabError("--by and --out go with --metric GLOB (the summary numbers to compare methods on)")
    if a.reps < 100:
        raise ReplabError(f"--reps must be >= 100 bootstrap replicates (rliable uses 50000), got {a.reps}")
    store = open_store(a.store)
    store.reap()
    runs = select_runs(store, a.run_ids, a.name, a.preset)
    if a.metric is None:
        print(compare_table(runs))
        return 0
    from pathlib import Path

    from replab.track.compare_methods import compare_methods

    out = Path(a.out) if a.out else store.root / f"compare-{time.strftime('%Y%m%d-%H%M%S')}"
    by = [f.strip().replace("-", "_") for f in a.by.split(",") if f.strip()] if a.by else None
    markdown, _ = compare_methods(runs, a.metric, out, by=by, gamma=a.gamma, reps=a.reps, seed=a.seed)
    print(markdown)
    print(f"report: {out / 'compare.md'}")
    return 0


def ledger_catalogue(name: str | None):
    """The ledger's view of the experiments (all of them, or one)."""
    from replab.track import ledger

    found = experiments.all_experiments() if not name else {name: experiments.get(name)}
    return ledger.Catalogue(
        {n: e.headline or e.claim for n, e in found.items()},
        {n: {p: dataclasses.asdict(c) for p, c in e.presets.items()} for n, e in found.items()},
    )


def cmd_ledger(args: list[str]) -> int:
    from pathlib import Path

    from replab.track import ledger, ledger_runs

    a = parse_args(LedgerArgs, args, prog="replab ledger")
    if a.name and a.write:
        raise ReplabError("--write writes every experiment's rows; give --name or --write, not both")
    if a.write is not None and (not a.write.strip() or Path(a.write).is_dir()):
        raise ReplabError(f"--write takes a markdown file such as docs/results.md, got {a.write!r}")
    if a.write and a.runs:
        beside = ledger_runs.path_beside(Path(a.write))
        raise ReplabError(f"--write pools the run records beside its file ({beside}); drop --runs {a.runs}")
    if a.runs is not None and not Path(a.runs).is_file():
        raise ReplabError(
            f"--runs takes a file of committed run records such as docs/results-runs.jsonl; "
            f"{a.runs!r} is not a file"
        )
    catalogue = ledger_catalogue(a.name)
    store = open_store(a.store)
    store.reap()
    if a.write:
        try:
            path, notes = ledger.write(Path(a.write), store, catalogue, f"replab ledger --write {a.write}")
        except OSError as exc:
            raise ReplabError(f"cannot write the ledger to {a.write} ({exc.strerror or exc})") from None
        print(f"ledger: {path}")
    else:
        kept = ledger_runs.read(Path(a.runs)) if a.runs else []
        rows, notes = ledger.entries(store, catalogue, a.name, kept)
        print(ledger.table(rows, catalogue))
    for note in notes:
        print(f"replab: note: {note}", file=sys.stderr)
    return 0


def cmd_health(args: list[str]) -> int:
    """The health panel of stored runs, from their `probe/*` metrics only; the overhead and warnings."""
    from replab.track import health

    a = parse_args(HealthArgs, args, prog="replab health")
    if not a.run_ids:
        raise ReplabError(
            "give one or more run ids ('replab runs' lists them): replab health RUN_ID [RUN_ID ...]"
        )
    for run_id in a.run_ids:
        check_run_id(run_id)
    store = open_store(a.store)
    store.reap()
    path, lines = health.draw_runs(store, list(a.run_ids), a.out)
    for line in lines:
        print(line)
    if path is None:
        raise ReplabError(
            "no probe/* metric in these runs: they ran with --probes none, or before the Monitor was wired in"
        )
    print(f"health panel: {path}")
    return 0


def cmd_runs(args: list[str]) -> int:
    a = parse_args(RunsArgs, args, prog="replab runs")
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
