"""Continuous-control benchmarks against Stable-Baselines3 (extra `bench`), measured in the same process:

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.continuous [--size 84] [--batch 128] [--updates 5] [--rounds 3]

1. Replay memory for 100k pixel transitions of 9×84×84 uint8 stacks (3 RGB frames, 6-d actions):
   replab's `FrameReplay` (each frame stored once) vs SB3's `ReplayBuffer(optimize_memory_usage=True)`
   (stacks stored once, next_obs taken from the next slot). Bytes of the allocated arrays (both allocate
   lazily, so resident memory would understate them until filled).
2. Gradient updates per second: replab's SAC + CURL vs SB3's SAC with the same encoder (`PixelEncoder` as
   a custom features extractor, `normalize_images=False` as the encoder divides by 255) and the same heads
   (net_arch 1024×1024), same batch, 1 torch thread, after a warm-up update. SB3 is measured twice: with
   the encoder in the plain NCHW layout (what an SB3 user writes; the headline ratio) and with replab's
   channels-last layout (to show how much of the gain is the layout). Inputs: replab renders `size + 16`
   and crops to `size` (the CURL geometry); SB3 gets `size` frames. `--rounds` interleaved rounds of
   `--updates` updates each; medians of updates per CPU second (the update's cost with one thread, robust
   on a shared machine) and per wall second. SB3's SAC does no contrastive update (replab's does, every update)
   but updates its actor and targets every step (CURL's: every 2 updates).
"""

from __future__ import annotations

import argparse
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


def ours_update(size: int, batch: int):
    """replab's SAC + CURL on a fixed batch: returns a function doing one update."""
    full = size + 16
    agent = SAC((9, full, full), 6, augment="crop", augment_options={"crop_size": size}, curl=True)
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


def timed(update, n: int) -> tuple[float, float]:
    """(updates per CPU second, updates per wall second) of n consecutive updates. With one torch thread
    the CPU time is what the update costs; wall time adds the waits of a shared machine."""
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        update()
    return n / (time.process_time() - c0), n / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=84)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--updates", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    require_extra("stable_baselines3", "bench")
    torch.set_num_threads(1)
    ours, sb3 = memory()
    print("| measure | replab | SB3 | ratio |\n|---|---|---|---|")
    print(
        f"| replay bytes, 100k × 9×84×84 | {ours / 2**30:.2f} GiB | {sb3 / 2**30:.2f} GiB | {ours / sb3:.3f} |"
    )
    names = ("replab SAC+CURL", "SB3 SAC (NCHW encoder)", "SB3 SAC (channels-last encoder)")
    fns = [
        ours_update(a.size, a.batch),
        sb3_update(a.size, a.batch, False),
        sb3_update(a.size, a.batch, True),
    ]
    for f in fns:
        f()  # warm-up
    cpu: list[list[float]] = [[] for _ in fns]
    wall: list[list[float]] = [[] for _ in fns]
    for _ in range(a.rounds):  # interleaved rounds: load changes hit all three alike
        for f, c, w in zip(fns, cpu, wall):
            rc, rw = timed(f, a.updates)
            c.append(rc)
            w.append(rw)
    mc = [statistics.median(c) for c in cpu]
    mw = [statistics.median(w) for w in wall]
    print(
        f"\n| {a.size} px, batch {a.batch} | updates / CPU-s (median) | updates / wall-s (median) | CPU rounds |"
    )
    print("|---|---|---|---|")
    for name, c, w, r in zip(names, mc, mw, cpu):
        print(f"| {name} | {c:.3f} | {w:.3f} | {', '.join(f'{x:.3f}' for x in r)} |")
    print(
        f"\nreplab / SB3 (NCHW): {mc[0] / mc[1]:.2f}× per CPU-s, {mw[0] / mw[1]:.2f}× per wall-s; "
        f"replab / SB3 (channels-last): {mc[0] / mc[2]:.2f}× per CPU-s, {mw[0] / mw[2]:.2f}× per wall-s"
    )


if __name__ == "__main__":
    main()
