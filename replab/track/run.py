"""A run: the handle an experiment receives to log metrics, checkpoint, draw randomness and show progress."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from replab import seeding
from replab.track import checkpoint
from replab.track.ids import check_run_id
from replab.track.progress import Every, ProgressBar
from replab.track.store import Store

# Fixed metric namespaces (issue #2 §3); step counters (frames, env steps, updates) go under train/.
METRIC_NAMESPACES = ("train", "eval", "loss", "probe", "perf")


class NonFiniteLoss(RuntimeError):
    """A loss stayed NaN or ±inf for the number of logged steps `--stop-on-nonfinite` allows."""


def is_loss(key: str) -> bool:
    """A loss metric: in the `loss/` namespace, or a name whose last part mentions 'loss'."""
    return key.startswith("loss/") or "loss" in key.rsplit("/", 1)[-1]


class Run:
    """One run of one experiment, writing to `store` and to the artifact folder `dir`.

    Metrics are buffered and committed at least every `flush_seconds`, at every checkpoint and at the
    end, so a killed run loses at most those seconds of metrics. NaN and ±inf are stored as they are.
    With `stop_on_nonfinite=N` (> 0), a loss metric that is non-finite at N logged steps in a row
    raises NonFiniteLoss after those steps are buffered (the run is then marked failed, its metrics kept).
    """

    def __init__(
        self,
        store: Store,
        run_id: str,
        seed: int,
        device: str = "cpu",
        quiet: bool = False,
        flush_seconds: float = 2.0,
        tensorboard: bool = True,
        stop_on_nonfinite: int = 0,
        checkpoint_state: dict | None = None,
        compile: bool = False,
    ):
        self.store, self.id, self.seed, self.device, self.quiet = (
            store,
            check_run_id(run_id),
            seed,
            device,
            quiet,
        )
        self.dir = store.root / run_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stop_on_nonfinite = stop_on_nonfinite
        self.compile = compile
        self.compiled_modules: list[str] = []  # what `compiled` compiled (execution.json, the report)
        self._nonfinite: dict[str, int] = {}
        self._buffer: list[tuple[str, int, float]] = []
        self._flush_due = Every(flush_seconds)
        self._progress: float | None = None  # None: not reported yet, the store keeps what it has
        self._preloaded = checkpoint_state  # a checkpoint the launcher already loaded (and so checked)
        self._tb = _tensorboard_writer(self.dir / "tb") if tensorboard else None

    def compiled(self, module: torch.nn.Module) -> torch.nn.Module:
        """`torch.compile(module)` when the run was started with `--compile`, else `module` itself. The
        compiled module shares the parameters (optimizers, EMA and probes keep using `module`); the run's
        report names what was compiled, and says so when an experiment compiles nothing."""
        if not self.compile:
            return module
        self.compiled_modules.append(type(module).__name__)
        return torch.compile(module)

    # -- metrics --------------------------------------------------------------------------------------
    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Record `metrics` at `step`. Keys are `namespace/name` with a namespace from METRIC_NAMESPACES."""
        diverged = None
        for key, value in metrics.items():
            namespace = key.split("/", 1)[0]
            if "/" not in key or namespace not in METRIC_NAMESPACES:
                raise ValueError(
                    f"metric '{key}' must be named '<namespace>/<name>' with a namespace in "
                    f"{METRIC_NAMESPACES}"
                )
            value = float(value)
            self._buffer.append((key, int(step), value))
            if self._tb is not None and math.isfinite(value):
                self._tb.add_scalar(key, value, int(step))
            if self.stop_on_nonfinite > 0 and is_loss(key):
                bad = self._nonfinite[key] = 0 if math.isfinite(value) else self._nonfinite.get(key, 0) + 1
                if bad >= self.stop_on_nonfinite and diverged is None:
                    steps = f"{bad} logged steps in a row" if bad > 1 else "1 logged step"
                    diverged = f"{key} was {value} at {steps} (up to step {int(step)})"
        if diverged is not None:
            self.flush()
            raise NonFiniteLoss(f"{diverged}; stopped by --stop-on-nonfinite {self.stop_on_nonfinite}")
        if self._flush_due():
            self.flush()

    def flush(self) -> None:
        """Commit the buffered metrics in one transaction. The buffer is emptied first, so a write that
        fails (a broken store) raises once rather than again at every later flush and at close."""
        rows, self._buffer = self._buffer, []
        self.store.write_metrics(self.id, rows)
        self.store.heartbeat(self.id, self._progress)
        if self._tb is not None:
            self._tb.flush()

    # -- randomness -----------------------------------------------------------------------------------
    def generator(self, name: str, device: str | None = None) -> torch.Generator:
        """The torch generator of the named stream (`init`, `data`, `sampler`, ...) for this run's seed."""
        return seeding.generator(self.seed, name, device or "cpu")

    def rng(self, name: str) -> np.random.Generator:
        return seeding.rng(self.seed, name)

    # -- checkpoints ----------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def save_checkpoint(self, state: dict) -> None:
        """Flush metrics, then write `state` atomically (a kill mid-write leaves the old checkpoint).
        `state` holds tensors, numbers, strings, numpy arrays and plain containers only (a TypeError
        names anything else), so it can be loaded without unpickling code."""
        self.flush()
        checkpoint.save(state, self.checkpoint_path)

    def load_checkpoint(self) -> dict | None:
        """The last checkpoint's state, or None for a fresh run; a CheckpointError (one line) when it is
        damaged or holds pickled objects other than plain data."""
        if self._preloaded is not None:
            state, self._preloaded = self._preloaded, None
            return state
        if not self.checkpoint_path.exists():
            return None
        return checkpoint.load(self.checkpoint_path, self.id)

    # -- progress -------------------------------------------------------------------------------------
    def progress(self, total: int, description: str, completed: int = 0) -> ProgressBar:
        """A live progress bar (plain lines when stderr is not a terminal, none when quiet); its fraction
        is also reported to the store."""
        return ProgressBar(
            total, description, completed=completed, enabled=not self.quiet, on_update=self._set_progress
        )

    def _set_progress(self, fraction: float) -> None:
        self._progress = fraction
        if self._flush_due():
            self.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._tb is not None:
                self._tb.close()
                self._tb = None


def _tensorboard_writer(path: Path):
    """A TensorBoard SummaryWriter mirroring the metrics when `tensorboard` is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(path))
