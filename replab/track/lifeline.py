"""Worker processes die with their parent (issue 18 §2).

A SIGKILLed run cannot stop its workers, and spawn workers blocked on their task pipe would otherwise
live on, reparented to init, for minutes. On Linux each worker asks the kernel for a signal when its
parent dies (`prctl(PR_SET_PDEATHSIG)`); elsewhere a daemon thread polls the parent's pid. Both check
the parent once more after arming, in case it died while the worker was starting.

- `die_with_parent(pid)`: the initializer of `ProcessPoolExecutor` workers (`experiments/_jobs.py`);
- `child_env(env)` + `arm_from_env()`: a `replab run` started by `replab sweep` arms itself at start-up
  with SIGTERM, so it marks its run killed (and its own workers follow it).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_ENV = "REPLAB_PARENT_PID"


def _parent_death_signal(sig: int) -> bool:
    """Ask Linux to send `sig` to this process when its parent exits; False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent_pid: int, sig: int, interval: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval)
    os.kill(os.getpid(), sig)


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL, interval: float = 0.5) -> None:
    """Make this process receive `sig` when the process `parent_pid` (its parent) dies."""
    if not _parent_death_signal(sig):
        threading.Thread(
            target=_watch, args=(parent_pid, sig, interval), daemon=True, name="replab-lifeline"
        ).start()
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os.kill(os.getpid(), sig)


def child_env(env: dict[str, str]) -> dict[str, str]:
    """`env` for a child process that should arm itself with `arm_from_env()`."""
    return {**env, PARENT_ENV: str(os.getpid())}


def arm_from_env(sig: int = signal.SIGTERM) -> None:
    """In a process started with `child_env`: die with that parent (the variable is not passed on)."""
    pid = os.environ.pop(PARENT_ENV, None)
    if pid and pid.isdigit():
        die_with_parent(int(pid), sig)
