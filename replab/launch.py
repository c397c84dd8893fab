"""Starting, resuming and reporting runs: the glue between the CLI, the experiments and the run store."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path

import torch

from replab import experiments, seeding
from replab.errors import ReplabError
from replab.execution import describe_execution, precision_context, record_execution, same_execution
from replab.track import checkpoint, health, timing
from replab.track.ids import check_run_id
from replab.track.outcome import failure_report, no_results, read_results, write_atomic
from replab.track.report import Figure
from replab.track.run import NonFiniteLoss, Run
from replab.track.store import Store, run_exists
from replab.track.timing import Clock as _Clock

__all__ = ["NonFiniteLoss", "RunKilled", "_Clock", "resume_run", "start_run"]


class RunKilled(Exception):
    """Raised in the run's process on SIGTERM/SIGINT so the run is marked killed, not failed."""


def threads_from_env() -> int | None:
    """The torch thread count asked for with `REPLAB_THREADS` (None: torch's default)."""
    raw = os.environ.get("REPLAB_THREADS", "").strip()
    if not raw:
        return None
    n = int(raw) if raw.isdigit() else 0
    if not 1 <= n <= 4096:
        raise ReplabError(
            f"REPLAB_THREADS must be a whole number of threads from 1 to 4096, got {raw[:40]!r}; "
            "unset it or set e.g. REPLAB_THREADS=2"
        )
    return n


def _use_threads(n: int | None) -> int:
    """Apply `REPLAB_THREADS`; the thread count the run computes with (recorded: results depend on it)."""
    if n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def new_run_id(name: str, seed: int) -> str:
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-s{seed}-{secrets.token_hex(2)}"


def check_device(device: str) -> str:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ReplabError(f"--device must be cpu or cuda, got '{device}'")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ReplabError(
            f"--device {device} asked for, but this PyTorch sees no CUDA device; use --device cpu"
        )
    return device


def config_from_dict(cls, values: dict):
    """Rebuild a config dataclass from its JSON form (lists back to tuples where the field is a tuple)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in values:
            v = values[f.name]
            if isinstance(v, list) and typing.get_origin(hints[f.name]) is tuple:
                v = tuple(v)
            kwargs[f.name] = v
    return cls(**kwargs)


def git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def start_run(
    name: str,
    cfg,
    *,
    preset: str,
    seed: int = 0,
    device: str = "cpu",
    store: Store | None = None,
    quiet: bool = False,
    run_id: str | None = None,
    stop_on_nonfinite: int = 0,
    amp: bool = False,
    compile: bool = False,
) -> tuple[str, str]:
    """Run experiment `name` with config `cfg` to the end; return (run id, verdict). `amp`: under
    bfloat16 autocast (`execution.json` records device, precision and throughput).

    Every input is checked before the store is written to: a bad one raises a one-line ReplabError and
    leaves the store as it was."""
    exp = experiments.get(name)
    exp.check_extras()
    device = check_device(device)
    seeding.check_seed(seed)
    threads = threads_from_env()
    store = store or Store()
    run_id = check_run_id(run_id) if run_id is not None else new_run_id(name, seed)
    if store.has_run(run_id):
        raise run_exists(run_id)
    folder = store.root / run_id
    if any((folder / f).exists() for f in ("checkpoint.pt", "results.json", "timing.json")):
        raise ReplabError(
            f"{folder} holds the files of a run that is not in {store.path}; choose another --run-id, "
            "or move that folder aside"
        )
    config = dataclasses.asdict(cfg)
    store.check()
    store.reap()
    threads = _use_threads(threads)
    store.create_run(run_id, name, preset, config, seed, git_revision(), threads=threads)
    return run_id, _execute(
        exp, cfg, store, run_id, seed, device, quiet, stop_on_nonfinite, amp=amp, compile=compile
    )


def resume_run(
    run_id: str,
    *,
    device: str = "cpu",
    store: Store | None = None,
    quiet: bool = False,
    stop_on_nonfinite: int = 0,
    amp: bool = False,
    compile: bool = False,
) -> tuple[str, str]:
    """Continue a killed or failed run from its last checkpoint (or a finished one whose results file is
    missing); return (run id, verdict). The checkpoint and time record are checked before the store is
    written to."""
    check_run_id(run_id)
    device = check_device(device)
    threads = threads_from_env()
    store = store or Store()
    store.check()
    store.reap()
    record = store.get_run(run_id)
    folder = store.root / run_id
    if record.status == "running":
        raise ReplabError(f"run {run_id} is still running (pid {record.pid} on {record.host})")
    if record.status == "finished" and read_results(folder) is not None:
        raise ReplabError(f"run {run_id} already finished; 'replab report {run_id}' regenerates its report")
    exp = experiments.get(record.experiment)
    exp.check_extras()
    try:
        cfg = config_from_dict(exp.config, record.config)
    except (TypeError, ValueError) as exc:
        raise ReplabError(
            f"run {run_id}'s config no longer fits experiment {exp.name} ({exc}); start a new run"
        ) from None
    same_execution(folder, run_id, device, amp, compile)
    path = folder / "checkpoint.pt"
    state = checkpoint.load(path, run_id) if path.exists() else None
    timing.read(folder / "timing.json")
    threads = _use_threads(threads)
    if record.threads and record.threads != threads:
        print(
            f"replab: note: run {run_id} ran with {record.threads} torch threads and resumes with {threads}; "
            "results can differ in the last digits (set REPLAB_THREADS to match)",
            file=sys.stderr,
        )
    store.set_running(run_id, threads)
    return run_id, _execute(
        exp,
        cfg,
        store,
        run_id,
        record.seed,
        device,
        quiet,
        stop_on_nonfinite,
        checkpoint_state=state,
        amp=amp,
        compile=compile,
    )


def _execute(
    exp,
    cfg,
    store: Store,
    run_id: str,
    seed: int,
    device: str,
    quiet: bool,
    stop_on_nonfinite: int = 0,
    checkpoint_state: dict | None = None,
    amp: bool = False,
    compile: bool = False,
) -> str:
    seeding.seed_everything(seed)
    run = Run(
        store,
        run_id,
        seed=seed,
        device=device,
        quiet=quiet,
        stop_on_nonfinite=stop_on_nonfinite,
        checkpoint_state=checkpoint_state,
        compile=compile,
    )
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum, frame):
        raise RunKilled(f"signal {signum}")

    for s in previous:
        signal.signal(s, on_signal)
    clock = _Clock(run.dir / "timing.json")
    record_execution(run.dir, device, amp, compile)
    try:
        with precision_context(device, amp):
            results = exp.run(cfg, run)
        record_execution(run.dir, device, amp, compile, run.compiled_modules)
        run.close()
        clock.save()
        write_atomic(run.dir / "results.json", json.dumps(results, indent=1))
        verdict = write_report(exp, results, store, run_id)
    except (RunKilled, KeyboardInterrupt) as exc:
        _end(run, clock, store, run_id, "killed")
        _tag(exc, run_id)
        raise
    except BaseException as exc:
        reason = _reason(exc)
        _end(run, clock, store, run_id, "failed", reason)
        failure_report(exp.name, store, run_id, reason)
        _tag(exc, run_id)
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return verdict


def _end(run: Run, clock: _Clock, store: Store, run_id: str, status: str, reason: str | None = None) -> None:
    """Commit what the run logged, record its time and mark it `status`, each step tried even when an
    earlier one fails (the error that ended the run is the one raised)."""
    for step in (run.close, clock.save, lambda: store.finish(run_id, status, reason=reason)):
        try:
            step()
        except Exception:  # noqa: S112 - the run's own error matters more than a failure to record it
            continue


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _tag(exc: BaseException, run_id: str) -> None:
    """Name the run on the exception, for the command line's message."""
    try:
        exc.run_id = run_id
    except AttributeError:
        pass


def write_report(exp, results: dict, store: Store, run_id: str) -> str:
    """Build the experiment's report from `results`, write it, and record the verdict and summary."""
    record = store.get_run(run_id)
    report = exp.make_report(results)
    header = {
        "run": run_id,
        "experiment": exp.name,
        "preset": record.preset,
        "seed": str(record.seed),
        "git revision": record.git_rev or "unknown",
        "check": exp.check,
        "config": "`" + json.dumps(record.config) + "`",
    }
    if record.threads:
        header["threads"] = f"{record.threads} torch threads (results depend on the thread count)"
    timing_path = store.root / run_id / "timing.json"
    if timing_path.exists():
        header["time"] = _Clock.describe(timing.read(timing_path))
    header.update(describe_execution(store, run_id))
    last_probe_step = add_health(report, store, record)
    report.write(store.root / run_id, header)
    if last_probe_step is not None:
        health.mirror_to_tensorboard(store.root / run_id, step=last_probe_step)
    store.finish(
        run_id,
        "finished",
        verdict=report.verdict,
        summary=report.stored_summary(),
        claims=report.claim_records(),
    )
    return report.verdict


def add_health(report, store: Store, record) -> int | None:
    """Add the health section and panel (`track/health.py`), from the run's stored metrics only; return
    the last probed step (None: no panel)."""
    series, marks, overheads = health.collect(store.metrics(record.id, prefixes=health.PREFIXES))
    figure = health.panel(series, marks, title=f"{record.experiment} · {record.id}")
    report.sections.append(("Representation health", health.describe(series, overheads, record.config)))
    if figure is None:
        return None
    caption = (
        "Each probe over training, one line per arm (mean over seeds, range shaded); dotted: interventions"
    )
    report.figures.append(Figure("health", figure, caption))
    return max(s for lines in series.values() for pts in lines.values() for s, _ in pts)


def regenerate_report(run_id: str, store: Store | None = None) -> Path:
    """Rewrite a run's report from its results.json; a one-line error with the fix when there are none."""
    check_run_id(run_id)
    store = store or Store()
    record = store.get_run(run_id)
    folder = store.root / run_id
    results = read_results(folder)
    if results is None:
        raise ReplabError(no_results(record, folder / "results.json"))
    exp = experiments.get(record.experiment)
    write_report(exp, results, store, run_id)
    return folder / "report.md"
