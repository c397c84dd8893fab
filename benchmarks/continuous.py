"""Continuous-control benchmarks against Stable-Baselines3 (extra `bench`), measured in the same process:

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.continuous [--size 84] [--batch 128] [--updates 5]

1. Replay memory for 100k pixel transitions of 9×84×84 uint8 stacks (3 RGB frames, 6-d actions):
   replab's `FrameReplay` (each frame stored once) vs SB3's `ReplayBuffer(optimize_memory_usage=True)`
   (stacks stored once, next_obs taken from the next slot). Bytes of the allocated arrays (both allocate
   lazily, so resident memory would understate them until filled).
2. Gradient updates per second: replab's SAC + CURL vs SB3's SAC with the same encoder (our
   `PixelEncoder` as a custom features extractor, `normalize_images=False` as the encoder divides by 255)
   and the same heads (net_arch 1024×1024), same batch, 1 torch thread, each after a warm-up update.
   Inputs: replab renders `size + 16` and crops to `size` (the CURL geometry); SB3 gets `size` frames.
   Rounds alternate; the median is reported. SB3's SAC does no contrastive update, so the ratio is
   conservative for replab.
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


def ours_ups(size: int, batch: int, updates: int) -> float:
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
    agent.update(b, 0)
    t0 = time.perf_counter()
    for i in range(updates):
        agent.update(b, i + 1)
    return updates / (time.perf_counter() - t0)


def sb3_ups(size: int, batch: int, updates: int) -> float:
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class Extractor(BaseFeaturesExtractor):
        def __init__(self, space):
            super().__init__(space, 50)
            self.enc = PixelEncoder(space.shape)

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
    model.train(gradient_steps=1, batch_size=batch)
    t0 = time.perf_counter()
    model.train(gradient_steps=updates, batch_size=batch)
    return updates / (time.perf_counter() - t0)


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
    r_ours, r_sb3 = [], []
    for _ in range(a.rounds):
        r_ours.append(ours_ups(a.size, a.batch, a.updates))
        r_sb3.append(sb3_ups(a.size, a.batch, a.updates))
    mo, ms = statistics.median(r_ours), statistics.median(r_sb3)
    print(
        f"| updates/s, {a.size}px, batch {a.batch} (SAC+CURL vs SB3 SAC) | {mo:.2f} | {ms:.2f} | {mo / ms:.2f}× |"
    )


if __name__ == "__main__":
    main()
