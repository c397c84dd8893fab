"""Suite-wide settings, read from the environment (the Makefile and `.ci/run` set them):

- `REPLAB_TEST_THREADS=N`: every test runs with `torch.set_num_threads(N)` (default: torch's own default,
  the number of cores, in every xdist worker too). It is set again before each test, because experiment
  jobs call `torch.set_num_threads` in-process: without the reset a test's thread count would depend on
  which tests its xdist worker ran before it. `make test` runs the suite at 2 threads and again at 1 with
  an older CPU's kernels (see the Makefile), so a test comparing two computations bit for bit that only
  agree on one configuration fails here, not on a user's machine (DESIGN §5: tests are portable).
- Before each test the global random generators (torch, numpy, random) are seeded with 0, so a test that
  draws unseeded data sees the same data whichever tests its xdist worker ran before it, and the suite's
  result does not depend on the number of workers or their scheduling.
- `OMP_WAIT_POLICY=PASSIVE` unless set: by default OpenMP's idle threads spin; with two xdist workers of
  two threads on two cores, or beside other work, the spinning threads take the cores from the working
  ones. Measured on this 2-core machine at load 4-6 (tests/rl, ssl, plasticity at 2 threads, `-n 2`):
  98-207 s spinning, 27-29 s passive (21 s at 1 thread).
- `MUJOCO_GL=egl` in every test process: dm_control fixes its GL backend when it is first imported, and
  the dm_control tests render with EGL (`gl="egl"`); without this, a state-only test that imported
  dm_control first under another backend would make a later pixel test in the same worker fail.
- `REPLAB_NO_SKIP=1` (CI): a skipped test fails the run, unless its reason starts with one of
  `ALLOWED_SKIPS` (no GPU on the CI machine); so a missing extra or a renderer that stopped working cannot
  silently turn the molecule and dm_control tests off.
"""

import os
import random

# before torch loads OpenMP (see above); the wait policy changes when idle threads sleep, not any result
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["MUJOCO_GL"] = "egl"  # before any test imports dm_control (see above)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

ALLOWED_SKIPS = ("needs CUDA",)


def _threads() -> int:
    raw = os.environ.get("REPLAB_TEST_THREADS", "").strip()
    if not raw:
        return torch.get_num_threads()
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"REPLAB_TEST_THREADS must be a whole number >= 1, got {raw!r}")
    return int(raw)


THREADS = _threads()
NO_SKIP = os.environ.get("REPLAB_NO_SKIP", "") not in ("", "0")


def pytest_report_header(config):
    kernels = torch.backends.cpu.get_cpu_capability()  # DEFAULT under ATEN_CPU_CAPABILITY=default
    return f"torch threads per test: {THREADS} · CPU kernels: {kernels}" + (
        " · skips fail (REPLAB_NO_SKIP)" if NO_SKIP else ""
    )


@pytest.fixture(autouse=True)
def _same_start_for_every_test():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 (the legacy global generator is what unseeded tests draw from)
    random.seed(0)
    yield
    torch.set_num_threads(THREADS)


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _forbid_skip(report) -> None:
    if not (NO_SKIP and report.skipped and not hasattr(report, "wasxfail")):
        return
    reason = _skip_reason(report)
    if not reason.startswith(ALLOWED_SKIPS):
        report.outcome = "failed"
        report.longrepr = f"skipped with REPLAB_NO_SKIP=1 (only {ALLOWED_SKIPS} may skip): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _forbid_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    _forbid_skip(outcome.get_result())  # a module-level importorskip skips at collection
