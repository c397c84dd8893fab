"""A run's execution record (`execution.json`): device, precision, what `--compile` compiled and the torch
version; the report's header lines from it (with throughput), and the rule that a resumed run keeps the
device and flags it started with. Used by `replab.launch`."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from replab.errors import ReplabError
from replab.track import timing
from replab.track.outcome import write_atomic
from replab.track.store import Store


def record_execution(
    folder: Path, device: str, amp: bool, compile: bool = False, compiled: list[str] | None = None
) -> None:
    """`execution.json`: the device (with its name), the precision, `--compile` and what it compiled (known
    at the end of the run), and the torch version of this segment."""
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else (platform_cpu() or "cpu")
    record = {
        "device": device,
        "device_name": name,
        "precision": "bfloat16 autocast (--amp)" if amp else "float32",
        "compile": compile,
        "compiled": compiled or [],
        "torch": torch.__version__,
    }
    write_atomic(folder / "execution.json", json.dumps(record))


def platform_cpu() -> str | None:
    """The CPU's model name (Linux: /proc/cpuinfo), else the machine type."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def precision_context(device: str, amp: bool):
    """bfloat16 autocast on the run's device with `amp` (no loss scaling needed, unlike float16), else a
    no-op context: the experiment's forward passes run in bfloat16 where autocast allows it."""
    import contextlib

    if not amp:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16)


def describe_execution(store: Store, run_id: str) -> dict[str, str]:
    """Report header lines: device, precision and throughput (logged steps per wall second)."""
    folder = store.root / run_id
    path = folder / "execution.json"
    if not path.exists():
        return {}
    e = json.loads(path.read_text())
    out = {"device": f"{e['device']} ({e['device_name']}), torch {e['torch']}", "precision": e["precision"]}
    if e.get("compile"):
        done = e.get("compiled") or []
        out["torch.compile"] = (
            f"--compile: {', '.join(done)}"
            if done
            else "--compile given, but this experiment compiles nothing"
        )
    steps = store.conn.execute("SELECT MAX(step) FROM metrics WHERE run=?", (run_id,)).fetchone()[0]
    timing_path = folder / "timing.json"
    if steps is not None and timing_path.exists():
        wall = timing.read(timing_path)["wall_s"]
        if wall > 0:
            out["throughput"] = (
                f"{(steps + 1) / wall:.3g} logged steps/s ({steps + 1} steps in {wall:.1f} s wall)"
            )
    return out


def started_with(folder: Path) -> dict | None:
    """{device, amp, compile} of the run whose folder is `folder` (None before its execution record exists)."""
    path = folder / "execution.json"
    if not path.exists():
        return None
    e = json.loads(path.read_text())
    return {"device": e["device"], "amp": "autocast" in e["precision"], "compile": e.get("compile", False)}


def same_execution(folder: Path, run_id: str, device: str, amp: bool, compile: bool) -> None:
    """A resumed run continues on the device, precision and compilation it started with: half a run in
    bfloat16 and half in float32 would be reported as neither."""
    was = started_with(folder)
    now = {"device": device, "amp": amp, "compile": compile}
    if was is not None and was != now:
        flags = f"--device {was['device']}" + " --amp" * was["amp"] + " --compile" * was["compile"]
        raise ReplabError(
            f"run {run_id} started with {flags} and would resume with --device {device}"
            f"{' --amp' * amp}{' --compile' * compile}; resume it with {flags}"
        )
