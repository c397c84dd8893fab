"""A tiny test-only experiment (`toy`): deterministic metrics, checkpoints, optional NaN losses and jobs
in worker processes. `register(monkeypatch)` adds it to the registry in-process; running this file
(`python toy_experiment.py run toy ...`) registers it and calls `replab.cli.main`, for tests that need
a separate process (SIGKILL, parent death)."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from pathlib import Path

from replab import experiments
from replab.track.report import Check, Report


@dataclasses.dataclass
class Config:
    steps: int = 20
    """training steps"""
    checkpoint_every: int = 5
    """steps between checkpoints"""
    nan_at: int = -1
    """first step whose loss is NaN (-1: never)"""
    inf_at: int = -1
    """step whose train/grad is +inf (-1: never)"""
    sleep: float = 0.0
    """seconds per step"""
    flush_every: int = 0
    """commit the metrics every this many steps (0: the run's own 2 s rhythm)"""
    raise_at: int = -1
    """step at which the experiment raises a RuntimeError (-1: never)"""
    term_at: int = -1
    """step at which the run's process sends itself SIGTERM, in a fresh run only (-1: never)"""

    def __post_init__(self):
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not 0 <= self.sleep < float("inf"):
            raise ValueError(f"sleep must be finite and >= 0, got {self.sleep}")


def value(key: str, step: int) -> float:
    """The deterministic value the toy logs for `key` at `step` (what a lossless store holds)."""
    return {"train/loss": 1.0 / (step + 1), "eval/acc": step / 100, "train/step": float(step)}[key]


KEYS = ("train/loss", "eval/acc", "train/step")


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"step": 0, "seen": []}
    fresh = state["step"] == 0
    with run.progress(cfg.steps, "toy", completed=state["step"]) as bar:
        for step in range(state["step"], cfg.steps):
            if step == cfg.raise_at:
                raise RuntimeError(f"toy failure at step {step}")
            if step == cfg.term_at and fresh:
                os.kill(os.getpid(), signal.SIGTERM)
            metrics = {k: value(k, step) for k in KEYS}
            if 0 <= cfg.nan_at <= step:
                metrics["train/loss"] = float("nan")
            if step == cfg.inf_at:
                metrics["train/grad"] = float("inf")
            run.log(metrics, step)
            if cfg.flush_every and (step + 1) % cfg.flush_every == 0:
                run.flush()
            if (step + 1) % cfg.checkpoint_every == 0:
                state["step"] = step + 1
                state["seen"].append(step)
                run.save_checkpoint(state)
            time.sleep(cfg.sleep)
            bar.advance(1, loss=metrics["train/loss"])
    return {"steps": cfg.steps, "last_loss": value("train/loss", cfg.steps - 1)}


def report(results: dict) -> Report:
    return Report(
        "toy",
        checks=[Check("it ran", True, f"{results['steps']} steps")],
        summary={"last_loss": results["last_loss"]},
    )


EXPERIMENT = experiments.Experiment(
    "toy",
    "a toy claim",
    "tests",
    "it runs",
    Config,
    {p: Config() for p in experiments.PRESETS},
    run,
    report,
)


def _with_toy(real):
    def all_experiments():
        return {**real(), "toy": EXPERIMENT}

    return all_experiments


def register(monkeypatch) -> None:
    monkeypatch.setattr(experiments, "all_experiments", _with_toy(experiments.all_experiments))


def sleeper(job: dict) -> dict:
    """A worker job: write its pid, then sleep (a worker the parent's death must end)."""
    Path(job["dir"], f"worker-{os.getpid()}").write_text(str(os.getppid()))
    time.sleep(job["seconds"])
    return {}


def _pool_parent(folder: str) -> None:
    """Run two sleeping jobs in `_jobs.run_jobs` worker processes (to be SIGKILLed by the test)."""
    from replab.experiments._jobs import run_jobs

    jobs = [{"dir": folder, "seconds": 120, "i": i} for i in range(2)]
    run_jobs(sleeper, jobs, workers=2, on_done=lambda job, result: None)


if __name__ == "__main__":
    if sys.argv[1] == "pool":
        _pool_parent(sys.argv[2])
    else:
        experiments.all_experiments = _with_toy(experiments.all_experiments)
        from replab.cli import main

        raise SystemExit(main(sys.argv[1:]))
