"""Starting, resuming and reporting runs: the glue between the CLI, the experiments and the run store."""

from __future__ import annotations

import dataclasses
import json
import os
import resource
import secrets
import signal
import subprocess
import time
import typing
from pathlib import Path

import torch

from replab import experiments, seeding
from replab.errors import ReplabError
from replab.track.run import Run
from replab.track.store import Store


class RunKilled(Exception):
    """Raised in the run's process on SIGTERM/SIGINT so the run is marked killed, not failed."""


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
) -> tuple[str, str]:
    """Run experiment `name` with config `cfg` to the end; return (run id, verdict)."""
    exp = experiments.get(name)
    exp.check_extras()
    device = check_device(device)
    store = store or Store()
    store.reap()
    run_id = run_id or new_run_id(name, seed)
    config = dataclasses.asdict(cfg)
    store.create_run(run_id, name, preset, config, seed, git_revision())
    return run_id, _execute(exp, cfg, store, run_id, seed, device, quiet)


def resume_run(
    run_id: str, *, device: str = "cpu", store: Store | None = None, quiet: bool = False
) -> tuple[str, str]:
    """Continue a killed or failed run from its last checkpoint; return (run id, verdict)."""
    store = store or Store()
    store.reap()
    record = store.get_run(run_id)
    if record.status == "running":
        raise ReplabError(f"run {run_id} is still running (pid {record.pid} on {record.host})")
    if record.status == "finished":
        raise ReplabError(f"run {run_id} already finished; 'replab report {run_id}' regenerates its report")
    exp = experiments.get(record.experiment)
    exp.check_extras()
    cfg = config_from_dict(exp.config, record.config)
    store.set_running(run_id)
    return run_id, _execute(exp, cfg, store, run_id, record.seed, check_device(device), quiet)


def _execute(exp, cfg, store: Store, run_id: str, seed: int, device: str, quiet: bool) -> str:
    threads = os.environ.get("REPLAB_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    seeding.seed_everything(seed)
    run = Run(store, run_id, seed=seed, device=device, quiet=quiet)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum, frame):
        raise RunKilled(f"signal {signum}")

    for s in previous:
        signal.signal(s, on_signal)
    clock = _Clock(run.dir / "timing.json")
    try:
        results = exp.run(cfg, run)
        run.close()
        clock.save()
        (run.dir / "results.json").write_text(json.dumps(results, indent=1))
        verdict = write_report(exp, results, store, run_id)
    except (RunKilled, KeyboardInterrupt):
        run.close()
        clock.save()
        store.finish(run_id, "killed")
        raise
    except BaseException:
        run.close()
        clock.save()
        store.finish(run_id, "failed")
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return verdict


class _Clock:
    """Wall and CPU seconds of a run (its own process plus its finished worker processes), and the machine's
    load, accumulated over the segments of a resumed run: CPU seconds say what the run costs on an idle
    machine when the wall time was taken on a shared one. A segment ended by SIGKILL records nothing; the
    `open` mark it leaves behind is counted as an unrecorded segment when the run is resumed."""

    def __init__(self, path: Path):
        self.path, self.t0, self.cpu0 = path, time.time(), _cpu_seconds()
        self.load0 = os.getloadavg()[0]
        t = self._read()
        t["unrecorded_segments"] = t.get("unrecorded_segments", 0) + int(t.pop("open", False))
        path.write_text(json.dumps({**t, "open": True}))

    def _read(self) -> dict:
        if self.path.exists():
            return json.loads(self.path.read_text())
        return {"wall_s": 0.0, "cpu_s": 0.0, "load": []}

    def save(self) -> None:
        t = self._read()
        t.pop("open", None)
        t["wall_s"] += time.time() - self.t0
        t["cpu_s"] += _cpu_seconds() - self.cpu0
        t["load"] += [round(self.load0, 1), round(os.getloadavg()[0], 1)]
        t["cores"] = os.cpu_count()
        self.path.write_text(json.dumps(t))

    @staticmethod
    def describe(t: dict) -> str:
        load = ", ".join(str(x) for x in t.get("load", []))
        load = f"; load average at start and end: {load}" if load else ""
        lost = t.get("unrecorded_segments", 0)
        lost = f"; plus {lost} earlier segment(s) killed without recording their time" if lost else ""
        return (
            f"{t['wall_s'] / 60:.1f} min wall, {t['cpu_s'] / 60:.1f} min CPU "
            f"(all processes, {t.get('cores', '?')} cores{load}{lost})"
        )


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


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
    timing = store.root / run_id / "timing.json"
    if timing.exists():
        header["time"] = _Clock.describe(json.loads(timing.read_text()))
    report.write(store.root / run_id, header)
    store.finish(run_id, "finished", verdict=report.verdict, summary=report.summary)
    return report.verdict


def regenerate_report(run_id: str, store: Store | None = None) -> Path:
    store = store or Store()
    record = store.get_run(run_id)
    path = store.root / run_id / "results.json"
    if not path.exists():
        raise ReplabError(
            f"run {run_id} has no results yet (status {record.status}); "
            f"finish it with 'replab run --resume {run_id}'"
        )
    exp = experiments.get(record.experiment)
    write_report(exp, json.loads(path.read_text()), store, run_id)
    return store.root / run_id / "report.md"
