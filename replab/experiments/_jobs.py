"""Independent training jobs in worker processes, shared by the experiments that run many (method, seed) units."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed

from replab.track.lifeline import die_with_parent


def run_jobs(fn: Callable[[dict], dict], jobs: list[dict], workers: int, on_done) -> None:
    """Run `fn(job)` for every job in `workers` spawn processes (inline when 1), calling on_done(job, result).

    `fn` must be a module-level function (it is pickled for the workers). The workers die with this
    process, even when it is SIGKILLed (`track/lifeline.py`), instead of living on blocked on their pipe.
    """
    if workers <= 1 or len(jobs) <= 1:
        import torch

        threads = torch.get_num_threads()
        for job in jobs:
            try:
                result = fn(job)  # a job may set its own thread count (job["threads"], 1 by default)
            finally:
                torch.set_num_threads(threads)  # ... which must not leak into the rest of the run
            on_done(job, result)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)
    ) as pool:
        futures = {pool.submit(fn, job): job for job in jobs}
        for fut in as_completed(futures):
            on_done(futures[fut], fut.result())


def run_pending(
    run,
    state: dict,
    jobs: list[dict],
    fn: Callable[[dict], dict],
    *,
    workers: int,
    description: str,
    on_result=None,
) -> None:
    """Run the jobs whose `job["key"]` is not yet in `state["done"]`, with a progress bar over all of them.

    After each job: `state["done"][key] = result`, `on_result(job, result)` (e.g. logging its curve), and a
    checkpoint of `state`, so `replab run --resume` repeats at most the jobs that were running.
    """
    todo = [j for j in jobs if j["key"] not in state["done"]]
    with run.progress(len(jobs), description, completed=len(jobs) - len(todo)) as bar:

        def on_done(job, result):
            state["done"][job["key"]] = result
            if on_result is not None:
                on_result(job, result)
            run.save_checkpoint(state)
            bar.advance(1)

        run_jobs(fn, todo, workers, on_done)


def log_curve(run, prefix: str, result: dict, step_counter: str) -> None:
    """Log an RL job's evaluation curve (`result["evals"]`: [step, episode scores]) and its update time."""
    for t, scores in result["evals"]:
        run.log({f"eval/{prefix}": sum(scores) / len(scores)}, t)
    run.log({f"perf/{prefix}_update_ms": result["update_ms"]}, result["counters"][step_counter])
