"""`replab sweep NAME`: the grid of trials from the command line, the backend, resume, then the aggregate."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

from replab import experiments, launch, seeding
from replab import sweep_adopt as adopt
from replab.cli_parse import check_preset, open_store, parse_args, parse_overrides
from replab.errors import ReplabError
from replab.sweep_grid import GridPoint, expand
from replab.sweep_trial import Trial


@dataclass
class SweepArgs:
    name: tyro.conf.Positional[str]
    """experiment to sweep"""
    seeds: int = 3
    """number of seeds (first_seed, first_seed + 1, ...), unless --grid has seed=..."""
    first_seed: int = 0
    grid: tuple[str, ...] = ()
    """FIELD=V1,V2 or FIELD=A..B items, every combination a trial: --grid lr=1e-3,3e-4 seed=0..4"""
    backend: str = "local"
    """local (processes on this machine) or ray (Ray tasks: pip install 'replab[ray]')"""
    address: str | None = None
    """Ray cluster address (ray://HOST:10001 or HOST:6379; default: start a local Ray)"""
    workers: int | None = None
    """local backend: parallel processes (default: one per CPU core); each runs with cores // workers torch
    threads, or REPLAB_THREADS when set"""
    cpus_per_trial: float = 1.0
    """ray backend: CPUs per trial (also its torch threads)"""
    gpus_per_trial: float | None = None
    """ray backend: GPUs per trial (default 1 with --device cuda, else 0)"""
    retries: int = 1
    """run a trial again this many times when its worker dies or its run fails"""
    resume: bool = False
    """skip the trials whose run (same experiment, preset, config and seed) already finished in the store;
    continue, from its checkpoint, each trial that a killed sweep left unfinished (local backend)"""
    preset: str = "default"
    device: str = "cpu"
    amp: bool = False
    """passed to each run: mixed precision (bfloat16 autocast)"""
    compile: bool = False
    """passed to each run: torch.compile of the networks the experiment hands to `run.compiled`"""
    store: str | None = None
    quiet: bool = False
    stop_on_nonfinite: int = 0
    """passed to each run: stop it when a loss is NaN/inf for this many logged steps; 0: never"""


def plan(a: SweepArgs, rest: list[str]) -> tuple[experiments.Experiment, list[tuple[GridPoint, dict]]]:
    """Check every input and every grid point's config (before any process starts); return the points
    with their configs."""
    if a.seeds < 1:
        raise ReplabError(f"--seeds must be >= 1, got {a.seeds}")
    if a.workers is not None and a.workers < 1:
        raise ReplabError(f"--workers must be >= 1, got {a.workers}")
    if a.retries < 0:
        raise ReplabError(f"--retries must be >= 0, got {a.retries}")
    if a.backend not in ("local", "ray"):
        raise ReplabError(f"--backend must be local or ray, got {a.backend!r}")
    if a.backend == "local" and a.address:
        raise ReplabError("--address names a Ray cluster: add --backend ray")
    if not a.cpus_per_trial > 0 or (a.gpus_per_trial is not None and a.gpus_per_trial < 0):
        raise ReplabError("--cpus-per-trial must be > 0 and --gpus-per-trial >= 0")
    seeding.check_seed(a.first_seed, "--first-seed")
    seeding.check_seed(a.first_seed + a.seeds - 1, "--first-seed + --seeds - 1")
    if a.stop_on_nonfinite < 0:
        raise ReplabError(f"--stop-on-nonfinite must be >= 0 (0: never stop), got {a.stop_on_nonfinite}")
    exp = experiments.get(a.name)
    exp.check_extras()
    check_preset(a.preset)
    points = expand(a.grid, list(range(a.first_seed, a.first_seed + a.seeds)))
    for p in points:
        seeding.check_seed(p.seed, "--grid seed")
    configs = {}
    for p in points:  # each distinct config once, checked as `replab run` checks it
        if p.fields not in configs:
            cfg = parse_overrides(exp, a.preset, [*rest, *p.argv()])
            configs[p.fields] = dataclasses.asdict(cfg)
    return exp, [(p, configs[p.fields]) for p in points]


def finished_runs(store, name: str, preset: str) -> dict[tuple[int, str], str]:
    """{(seed, config as canonical JSON): run id} of the finished runs of `name` at `preset`."""
    return {
        (r.seed, json.dumps(r.config, sort_keys=True)): r.id
        for r in store.runs(experiment=name, status="finished", preset=preset)
    }


def cmd_sweep(args: list[str]) -> int:
    from replab.sweep import run_sweep
    from replab.track.compare import compare_table, write_compare

    a, rest = parse_args(SweepArgs, args, prog="replab sweep", return_unknown_args=True)
    exp, points = plan(a, rest)
    launch.check_device(a.device)
    launch.threads_from_env()
    gpus = a.gpus_per_trial if a.gpus_per_trial is not None else (1.0 if a.device.startswith("cuda") else 0.0)
    if a.backend == "ray":
        from replab.sweep_backends import import_ray

        import_ray()  # the missing extra is named before the store is touched
    store = open_store(a.store)
    store.check()
    store.reap()
    done = finished_runs(store, a.name, a.preset)
    flags = ["--stop-on-nonfinite", str(a.stop_on_nonfinite)] if a.stop_on_nonfinite else []
    flags += ["--amp"] if a.amp else []
    flags += ["--compile"] if a.compile else []
    # a killed local sweep's trials continue from their checkpoints in the scratch folders (sweep_adopt.py)
    scratch = store.root / ".sweep"
    execution = {"device": a.device, "amp": a.amp, "compile": a.compile}
    local = a.backend == "local"
    left, notes = (
        adopt.interrupted(scratch, a.name, a.preset, execution, store.has_run)
        if a.resume and local
        else ({}, [])
    )
    skipped, todo = [], []
    for p, cfg in points:
        key = (p.seed, json.dumps(cfg, sort_keys=True))
        if a.resume and key in done:
            skipped.append(done[key])
        else:
            todo.append((p, key in done, left.pop(key, None)))  # pop: two equal grid points are two trials
    for unused in left.values():
        unused.lock.close()
    if skipped:
        print(f"--resume: {len(skipped)} of {len(points)} trials already finished in the store, skipped")
    elif any(again for _, again, _ in todo):
        n = sum(again for _, again, _ in todo)
        print(f"replab: note: {n} trials already finished in the store run again ('--resume' skips them)")
    for note in notes:
        print(f"replab: note: {note}")
    for p, _, run in [t for t in todo if t[2]]:
        where = f"seed {p.seed}" + (f", {p.label}" if p.label else "")
        done_at = f"it had reported {100 * run.done:.0f}%"
        print(f"--resume: {run.run_id} ({where}) continues from its last checkpoint ({done_at})")
    backend = _backend(a, len(todo), gpus, store)
    threads = _threads(a, backend)
    trials = [
        Trial(
            run.run_id if run else launch.new_run_id(a.name, p.seed),
            a.name,
            a.preset,
            p.seed,
            tuple(rest + p.argv()),
            tuple(flags),
            p.label,
            a.device,
            threads,
        )
        for p, _, run in todo
    ]
    # this driver holds each of its trials (an adopted one already is) until it ends
    held = [
        run.lock if run else adopt.claim(scratch, t.run_id) if local else None
        for (_, _, run), t in zip(todo, trials)
    ]
    try:
        status = run_sweep(trials, store, backend, retries=a.retries, quiet=a.quiet) if trials else {}
    finally:
        for lock in held:
            if lock is not None:
                lock.close()
                path = Path(lock.name)
                if not (path.parent / path.stem).exists():  # the trial's folder is gone: so is its lock
                    path.unlink(missing_ok=True)
    if not trials:
        backend.close()
    for rid, s in status.items():
        print(f"{rid}: {s}")
    finished = [store.get_run(r) for r in skipped] + [
        store.get_run(r) for r, s in status.items() if s == "finished"
    ]
    if not finished:
        raise ReplabError("no run of the sweep finished")
    print(compare_table(finished))
    path = write_compare(finished, store.root / f"sweep-{a.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"aggregate report: {path}")
    _claims(a.name, finished)
    return 0 if all(s == "finished" for s in status.values()) else 1


def _backend(a: SweepArgs, n: int, gpus: float, store):
    from replab.sweep_backends import LocalBackend, RayBackend

    if a.backend == "ray":
        return RayBackend(a.address, cpus=a.cpus_per_trial, gpus=gpus)
    workers = max(1, min(a.workers or os.cpu_count() or 1, max(n, 1)))
    return LocalBackend(workers, store.root / ".sweep")


def _threads(a: SweepArgs, backend) -> int:
    if a.backend == "ray":
        return max(1, math.floor(a.cpus_per_trial))
    # REPLAB_THREADS, when set, is the caller's choice (several sweeps sharing the cores); else the
    # machine's cores shared among the workers
    return launch.threads_from_env() or max(1, (os.cpu_count() or 1) // backend.workers)


def _claims(name: str, finished) -> None:
    """The headline claims, decided over this sweep's runs (the shared rule, `replab ledger`)."""
    from replab.cli_read import ledger_catalogue
    from replab.track import ledger

    rows, _ = ledger.pool(finished, ledger_catalogue(name))
    if any(e.entry for e in rows):
        print(f"\nheadline claims over the {len(finished)} runs of this sweep (the shared rule):")
        print(ledger.decisions([e for e in rows if e.entry]))
        print(
            "'replab ledger' pools every stored run; 'replab ledger --write docs/results.md' records them, "
            "pooled with the run records committed beside it (docs/results-runs.jsonl)"
        )
