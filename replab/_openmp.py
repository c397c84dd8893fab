"""Imported by the command line before anything loads torch: idle OpenMP threads sleep instead of spinning.

With other work beside a run (a sweep's workers, a test suite, another user's jobs) spinning threads take the
cores from the working ones. Measured on 2 cores at load 8-10: the tunnel demo took 1234 s wall and 5.6
CPU-minutes with OpenMP's default policy, 49 s and 0.5 CPU-minutes passive (docs/architecture.md). An
explicit OMP_WAIT_POLICY is respected; the policy changes when idle threads sleep, not any result.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
