"""Where a sweep's trials execute: local threads each running one `replab run` process, or Ray tasks.

Both backends run the same function (`sweep_trial.execute_trial`) and hand its payload back to the
driver, which alone writes the run store; they differ only in where that function runs and how a lost
worker shows up (a failed future here, a `ray.exceptions.RayError` there). Retries are the driver's
(`sweep.py`), the same for both: Ray's own task retries are off (`max_retries=0`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path

from replab.errors import MissingExtraError, ReplabError, require_extra
from replab.sweep_trial import Trial, execute_trial


class TrialLost(Exception):
    """The trial's worker died or its task could not run (the message says how)."""


class LocalBackend:
    """`workers` trials at a time on this machine, each a `replab run` child process of a driver thread."""

    name = "local"

    def __init__(self, workers: int, scratch_root: Path):
        self.workers = workers
        self.scratch_root = scratch_root
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="replab-trial")
        self.live: dict[str, tuple[float, int]] = {}
        self.lock = threading.Lock()

    def submit(self, trial: Trial, attempt: int) -> Future:
        def report(done: float, pid: int) -> None:
            with self.lock:
                self.live[trial.run_id] = (done, pid)

        with self.lock:
            self.live.pop(trial.run_id, None)
        return self.pool.submit(execute_trial, trial, self.scratch_root, report)

    def wait(self, handles: list, timeout: float) -> list:
        done, _ = wait_futures(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Future) -> dict:
        try:
            return handle.result()
        except Exception as exc:  # the thread's own failure (a full disk, a process that could not start)
            raise TrialLost(f"{type(exc).__name__}: {exc}") from exc

    def progress(self) -> dict[str, tuple[float, int]]:
        """{run id: (fraction done, pid of its `replab run`)} of the trials that reported."""
        with self.lock:
            return dict(self.live)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def import_ray():
    """`ray`, or the one-line error naming the extra."""
    try:
        return require_extra("ray", "ray")
    except MissingExtraError:
        raise MissingExtraError(
            "--backend ray needs Ray, which is not installed; install it with: pip install 'replab[ray]'"
        ) from None


class RayBackend:
    """Each trial a Ray task with `cpus` CPUs and `gpus` GPUs, on the cluster at `address` (default: a
    local Ray started here, with `num_cpus` CPUs). Progress comes back through a small actor."""

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        cpus: float = 1,
        gpus: float = 0,
        num_cpus: int | None = None,
    ):
        ray = import_ray()
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kw = {"num_cpus": num_cpus} if address is None and num_cpus else {}
            try:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                    **kw,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise ReplabError(
                    f"could not start or reach {where} ({' '.join(str(exc).split())[:200]}); check --address "
                    "('ray status' on the head node prints it) or start a cluster with 'ray start --head'"
                ) from None
            self.started = True
        total = ray.cluster_resources()
        if cpus > total.get("CPU", 0) or gpus > total.get("GPU", 0):
            raise ReplabError(
                f"each trial asks for {cpus} CPUs and {gpus} GPUs, but the Ray cluster has "
                f"{total.get('CPU', 0):g} CPUs and {total.get('GPU', 0):g} GPUs; lower --cpus-per-trial/--gpus-per-trial"
            )
        self.board = ray.remote(num_cpus=0)(_Board).remote()
        self.task = ray.remote(_remote_trial).options(num_cpus=cpus, num_gpus=gpus, max_retries=0)
        self.cpus = cpus

    def submit(self, trial: Trial, attempt: int):
        return self.task.remote(trial, self.board, attempt)

    def wait(self, handles: list, timeout: float) -> list:
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        if done:  # everything else that is ready too
            done, _ = self.ray.wait(handles, num_returns=len(handles), timeout=0)
        return done

    def result(self, handle) -> dict:
        try:
            return self.ray.get(handle)
        except self.ray.exceptions.RayError as exc:
            first = " ".join(str(exc).split())[:300]
            raise TrialLost(f"{type(exc).__name__}: {first}") from exc

    def progress(self) -> dict[str, tuple[float, int]]:
        return self.ray.get(self.board.snapshot.remote())

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


class _Board:
    """A Ray actor holding each running trial's (fraction done, pid of the Ray worker running it)."""

    def __init__(self):
        self.live: dict[str, tuple[float, int]] = {}

    def update(self, run_id: str, done: float, pid: int) -> None:
        self.live[run_id] = (done, pid)

    def snapshot(self) -> dict[str, tuple[float, int]]:
        return dict(self.live)


def _remote_trial(trial: Trial, board, attempt: int) -> dict:
    """The Ray task: the trial in the node's temp folder, its progress reported to the board with the
    pid of this worker process (the process a node failure, or a test, kills)."""
    worker = os.getpid()

    def report(done: float, pid: int) -> None:
        board.update.remote(trial.run_id, done, worker)

    board.update.remote(trial.run_id, 0.0, worker)
    return execute_trial(trial, None, report)
