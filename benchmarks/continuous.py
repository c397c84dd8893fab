"""Continuous-control benchmarks against Stable-Baselines3 (extra `bench`), measured in the same process:

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.continuous [--size 84] [--batch 128] [--updates 20]
        [--rounds 6] [--baseline COMMIT] [--no-sb3-channels-last]

1. Replay memory for 100k pixel transitions of 9×84×84 uint8 stacks (3 RGB frames, 6-d actions):
   replab's `FrameReplay` (each frame stored once) vs SB3's `ReplayBuffer(optimize_memory_usage=True)`
   (stacks stored once, next_obs taken from the next slot). Bytes of the allocated arrays (both allocate
   lazily, so resident memory would understate them until filled).
2. Gradient updates per second: replab's SAC + CURL vs SB3's SAC with the same encoder (`PixelEncoder` as
   a custom features extractor, `normalize_images=False` as the encoder divides by 255) and the same heads
   (net_arch 1024×1024), same batch, 1 torch thread, after 2 warm-up updates. SB3 is measured with the
   encoder in the plain NCHW layout (what an SB3 user writes; the headline ratio) and, unless
   `--no-sb3-channels-last`, with replab's channels-last layout (how much of the gain is the layout).
   `--baseline COMMIT` adds replab's SAC+CURL as of that git commit (its sac.py, sac_nets.py, curl.py loaded
   from git into private modules), so before/after are timed in the same process and conditions.
   Inputs: replab renders `size + 16` and crops to `size` (the CURL geometry); SB3 gets `size` frames.
   `--rounds` rounds of `--updates` updates per agent, interleaved (the order rotates each round), timed in
   CPU seconds of this process (with one thread, what an update costs, robust to waiting for a core on a
   shared machine) and wall seconds. Reported: per agent the median rate and its min–max over rounds; per
   pair the median and min–max of the per-round ratios (both agents timed in the same round, so load
   changes between rounds cancel). SB3's SAC does no contrastive update (replab's does, every update) but
   updates its actor and targets every step (CURL's: every 2 updates).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np
import torch

from replab.errors import require_extra
from replab.rl.buffers import Batch, FrameReplay
from replab.rl.sac import SAC
from replab.rl.sac_nets import PixelEncoder


def memory(capacity: int = 100_000, size: int = 84) -> tuple[int, int]:
    from stable_baselines3.common.buffers import ReplayBuffer

    ours = FrameReplay(
        capacity, (3, size, size), frame_stack=3, action_shape=(6,), action_dtype=torch.float32, verbose=False
    ).memory_bytes()
    sb3 = ReplayBuffer(
        capacity,
        gym.spaces.Box(0, 255, (9, size, size), np.uint8),
        gym.spaces.Box(-1, 1, (6,), np.float32),
        optimize_memory_usage=True,
        handle_timeout_termination=False,
    )
    arrays = [sb3.observations, sb3.actions, sb3.rewards, sb3.dones]
    return ours, sum(a.nbytes for a in arrays)


def ours_update(size: int, batch: int, sac_cls=SAC):
    """replab's SAC + CURL on a fixed batch: returns a function doing one update."""
    full = size + 16
    agent = sac_cls((9, full, full), 6, augment="crop", augment_options={"crop_size": size}, curl=True)
    g = torch.Generator().manual_seed(0)
    b = Batch(
        obs=torch.randint(0, 255, (batch, 9, full, full), dtype=torch.uint8, generator=g),
        action=torch.rand(batch, 6, generator=g) * 2 - 1,
        reward=torch.rand(batch, generator=g),
        discount=torch.full((batch,), 0.99),
        next_obs=torch.randint(0, 255, (batch, 9, full, full), dtype=torch.uint8, generator=g),
        steps=torch.ones(batch, dtype=torch.int64),
        weight=torch.ones(batch),
        index=np.zeros(batch, np.int64),
    )
    step = [0]

    def update():
        step[0] += 1
        agent.update(b, step[0])

    return update


def sb3_update(size: int, batch: int, channels_last: bool):
    """SB3's SAC with the same encoder (NCHW, as a user would write it, or replab's channels-last)."""
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class Extractor(BaseFeaturesExtractor):
        def __init__(self, space):
            super().__init__(space, 50)
            self.enc = PixelEncoder(space.shape, channels_last=channels_last)

        def forward(self, x):
            return self.enc(x * 1.0)

    class Dummy(gym.Env):
        observation_space = gym.spaces.Box(0, 255, (9, size, size), np.uint8)
        action_space = gym.spaces.Box(-1, 1, (6,), np.float32)

        def reset(self, *, seed=None, options=None):
            return self.observation_space.sample(), {}

        def step(self, a):
            return self.observation_space.sample(), 0.0, False, False, {}

    model = SB3SAC(
        "CnnPolicy",
        Dummy(),
        batch_size=batch,
        buffer_size=batch * 2,
        learning_starts=batch + 1,  # fill only: no updates inside learn()
        policy_kwargs=dict(features_extractor_class=Extractor, normalize_images=False, net_arch=[1024, 1024]),
        device="cpu",
        seed=0,
    )
    model.learn(batch + 1)  # fill the buffer (not timed)
    return lambda: model.train(gradient_steps=1, batch_size=batch)


def baseline_sac(commit: str):
    """replab's `SAC` class as of `commit`: its sac.py, sac_nets.py and curl.py read with `git show` and
    loaded as private modules (imports between them redirected), beside the current code."""
    import subprocess
    import sys
    import types

    mods = {}
    for name in ("sac_nets", "curl", "sac"):
        src = subprocess.run(
            ["git", "show", f"{commit}:replab/rl/{name}.py"], capture_output=True, text=True, check=True
        ).stdout
        for dep in ("sac_nets", "curl"):
            src = src.replace(f"from replab.rl.{dep} import", f"from _replab_baseline.{dep} import")
        mod = types.ModuleType(f"_replab_baseline.{name}")
        sys.modules[mod.__name__] = mod
        exec(compile(src, f"{commit[:7]}:replab/rl/{name}.py", "exec"), mod.__dict__)
        mods[name] = mod
    return mods["sac"].SAC


def timed(update, n: int) -> tuple[float, float]:
    """(updates per CPU second, updates per wall second) of n consecutive updates. With one torch thread
    the CPU time is what the update costs; wall time adds the waits of a shared machine."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        update()
    return n / (time.process_time() - c0), n / (time.perf_counter() - t0)


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}–{max(xs):.3f})"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=84)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--updates", type=int, default=20)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--baseline", default=None, help="a git commit of replab to time beside the current code")
    p.add_argument("--no-sb3-channels-last", action="store_true")
    a = p.parse_args()
    require_extra("stable_baselines3", "bench")
    import stable_baselines3

    torch.set_num_threads(1)
    load0 = os.getloadavg()
    ours, sb3 = memory()
    print("| measure | replab | SB3 | ratio |\n|---|---|---|---|")
    print(
        f"| replay bytes, 100k × 9×84×84 | {ours / 2**30:.2f} GiB | {sb3 / 2**30:.2f} GiB | {ours / sb3:.3f} |"
    )
    agents = {"replab SAC+CURL": ours_update(a.size, a.batch)}
    if a.baseline:
        agents[f"replab SAC+CURL at {a.baseline}"] = ours_update(a.size, a.batch, baseline_sac(a.baseline))
    agents["SB3 SAC (NCHW encoder)"] = sb3_update(a.size, a.batch, False)
    if not a.no_sb3_channels_last:
        agents["SB3 SAC (channels-last encoder)"] = sb3_update(a.size, a.batch, True)
    names = list(agents)
    for f in agents.values():  # warm-up
        f()
        f()
    cpu: dict[str, list[float]] = {n: [] for n in names}
    wall: dict[str, list[float]] = {n: [] for n in names}
    for r in range(a.rounds):  # interleaved rounds, rotating order: load changes hit all agents alike
        for n in names[r % len(names) :] + names[: r % len(names)]:
            rc, rw = timed(agents[n], a.updates)
            cpu[n].append(rc)
            wall[n].append(rw)
    load1 = os.getloadavg()
    print(
        f"\n{a.size} px, batch {a.batch}, {a.rounds} rounds × {a.updates} updates per agent; torch "
        f"{torch.__version__}, stable-baselines3 {stable_baselines3.__version__}, 1 thread; load average "
        f"(1/5/15 min) {load0[0]:.1f}/{load0[1]:.1f}/{load0[2]:.1f} at start, "
        f"{load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} at end"
    )
    print(
        "\n| agent | updates / CPU-s, median (min–max) | updates / wall-s, median (min–max) |\n|---|---|---|"
    )
    for n in names:
        print(f"| {n} | {spread(cpu[n])} | {spread(wall[n])} |")
    print("\n| ratio (per round, same round) | per CPU-s, median (min–max) | per wall-s, median (min–max) |")
    print("|---|---|---|")
    ref = names[0]
    for n in names[1:]:
        rc = [x / y for x, y in zip(cpu[ref], cpu[n])]
        rw = [x / y for x, y in zip(wall[ref], wall[n])]
        print(f"| {ref} / {n} | {spread(rc)} | {spread(rw)} |")
    if a.baseline:
        base = names[1]
        for n in names[2:]:
            rc = [x / y for x, y in zip(cpu[base], cpu[n])]
            rw = [x / y for x, y in zip(wall[base], wall[n])]
            print(f"| {base} / {n} | {spread(rc)} | {spread(rw)} |")
    print("\nper-round updates / CPU-s:")
    for n in names:
        print(f"  {n}: {', '.join(f'{x:.3f}' for x in cpu[n])}")


if __name__ == "__main__":
    main()
