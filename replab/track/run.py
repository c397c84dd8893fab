"""A run: the handle an experiment receives to log metrics, checkpoint, draw randomness and show progress."""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from replab import seeding
from replab.track.progress import Every, ProgressBar
from replab.track.store import Store

# Fixed metric namespaces (issue #2 §3); step counters (frames, env steps, updates) go under train/.
METRIC_NAMESPACES = ("train", "eval", "loss", "probe", "perf")


class Run:
    """One run of one experiment, writing to `store` and to the artifact folder `dir`.

    Metrics are buffered and committed at least every `flush_seconds`, at every checkpoint and at the
    end, so a killed run loses at most those seconds of metrics.
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
    ):
        self.store, self.id, self.seed, self.device, self.quiet = store, run_id, seed, device, quiet
        self.dir = store.root / run_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self._buffer: list[tuple[str, int, float]] = []
        self._flush_due = Every(flush_seconds)
        self._progress = 0.0
        self._tb = _tensorboard_writer(self.dir / "tb") if tensorboard else None

    # -- metrics --------------------------------------------------------------------------------------
    def log(self, metrics: Mapping[str, float], step: int) -> None:
        """Record `metrics` at `step`. Keys are `namespace/name` with a namespace from METRIC_NAMESPACES."""
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
        if self._flush_due():
            self.flush()

    def flush(self) -> None:
        self.store.write_metrics(self.id, self._buffer)
        self._buffer = []
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
        """Flush metrics, then write `state` atomically (a kill mid-write leaves the old checkpoint)."""
        self.flush()
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        os.close(fd)
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load_checkpoint(self) -> dict | None:
        """The last checkpoint's state, or None for a fresh run."""
        if not self.checkpoint_path.exists():
            return None
        return torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)

    # -- progress -------------------------------------------------------------------------------------
    def progress(self, total: int, description: str, completed: int = 0) -> ProgressBar:
        """A live progress bar (none when quiet); its fraction is also reported to the store."""
        return ProgressBar(
            total, description, completed=completed, enabled=not self.quiet, on_update=self._set_progress
        )

    def _set_progress(self, fraction: float) -> None:
        self._progress = fraction
        if self._flush_due():
            self.flush()

    def close(self) -> None:
        self.flush()
        if self._tb is not None:
            self._tb.close()


def _tensorboard_writer(path: Path):
    """A TensorBoard SummaryWriter mirroring the metrics when `tensorboard` is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(path))
