"""Imported by the command line before anything loads torch: idle OpenMP threads spin only briefly.

With other work beside a run (a sweep's workers, a test suite, another user's jobs), OpenMP threads that
spin while idle take the cores from the working ones; sleeping at once (OMP_WAIT_POLICY=PASSIVE) costs a
wake-up on every parallel region instead. Measured with the tunnel demo at 2 torch threads on 2 cores
(wall seconds, idle / beside 3 busy processes): libgomp's default 18 / 227, GOMP_SPINCOUNT=10000 17 / 93,
GOMP_SPINCOUNT=1000 19 / 70-78, PASSIVE 36 / 53 (docs/architecture.md). So libgomp (torch's OpenMP on
Linux) spins for 1000 iterations, then sleeps. A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is respected;
neither changes any result.
"""

import os

if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
