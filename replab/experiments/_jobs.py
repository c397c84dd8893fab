"""Independent training jobs in worker processes, shared by the experiments that run many (method, seed) units."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed


def run_jobs(fn: Callable[[dict], dict], jobs: list[dict], workers: int, on_done) -> None:
    """Run `fn(job)` for every job in `workers` spawn processes (inline when 1), calling on_done(job, result).

    `fn` must be a module-level function (it is pickled for the workers).
    """
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            on_done(job, fn(job))
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(fn, job): job for job in jobs}
        for fut in as_completed(futures):
            on_done(futures[fut], fut.result())
