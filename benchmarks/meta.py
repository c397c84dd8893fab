"""Benchmark: the vectorised EgoRoom and the RL² PPO update (issue 26).

1. Env steps per CPU second of `EgoRoomVectorEnv` (64 copies stepped together in numpy, same-step autoreset)
   against the same room stepped one copy at a time through gymnasium's `SyncVectorEnv` of 64 `EgoRoomEnv`
   (the same core with a batch of 1). Target ≥ 20×.
2. PPO updates per CPU second: one RL² iteration (`run_trials` of `tasks` trials × 3 episodes × 20 steps, then
   `RL2.update`: 4 epochs × 4 minibatches, BPTT over the 60-step trial) against sb3-contrib's `RecurrentPPO`
   at equal network and batch: the same conv encoder (as its features extractor), a recurrent core of the
   same width (LSTM: RecurrentPPO has no GRU), actor/critic MLP(64), n_envs = tasks, n_steps = 60, 4 epochs,
   batch_size = tasks·60/4, on `tasks` `EgoRoomEnv` copies (DummyVecEnv). RecurrentPPO runs in the Python
   given by `--sb3-python` (default /work/sb3env/bin/python: a venv with stable-baselines3 + sb3-contrib that
   reuses the project's torch). Target ≥ 1×.

CPU seconds of this process (robust to other jobs on a shared machine), one torch thread.

    python benchmarks/meta.py [--copies 64] [--env-steps 300] [--tasks 32] [--updates 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def env_rates(copies: int, steps: int) -> dict:
    import gymnasium as gym

    from replab.meta.egoroom import EgoRoomEnv, EgoRoomVectorEnv

    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, (steps, copies))
    vec = EgoRoomVectorEnv(copies, "random", seed=0)
    vec.reset(seed=0)
    t = time.process_time()
    for a in actions:
        vec.step(a)
    fast = copies * steps / (time.process_time() - t)
    sync = gym.vector.SyncVectorEnv(
        [lambda: EgoRoomEnv("random", 20) for _ in range(copies)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    sync.reset(seed=0)
    t = time.process_time()
    for a in actions:
        sync.step(a)
    slow = copies * steps / (time.process_time() - t)
    sync.close()
    return {"vector_steps_per_s": fast, "sync_steps_per_s": slow, "speedup": fast / slow}


def rl2_rate(tasks: int, updates: int) -> dict:
    import torch

    from replab.meta.egoroom import EgoRoomCore
    from replab.meta.rl2 import RL2
    from replab.meta.rollout import run_trials
    from replab.meta.whiten import RunningWhitener

    agent = RL2(hidden=128, seed=0)
    core = EgoRoomCore(tasks, "random", 0)
    whitener = RunningWhitener(1)
    keys = np.zeros(tasks, dtype=np.int64)

    def iteration(i):
        core.new_rooms()
        core.target[:] = 0
        ro = run_trials(agent, core, lambda o, r: r, whitener, keys)
        t = time.process_time()
        agent.update(ro, i)
        return time.process_time() - t

    iteration(0)  # warm-up (first-call initialisation)
    t = time.process_time()
    update_s = sum(iteration(i) for i in range(updates))
    total = time.process_time() - t
    params = sum(p.numel() for p in agent.policy.parameters())
    del torch
    return {"updates_per_s": updates / total, "update_only_per_s": updates / update_s, "params": params}


SB3 = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(1)
from torch import nn
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import DummyVecEnv
from sb3_contrib import RecurrentPPO
from replab.meta.egoroom import EgoRoomEnv
from replab.meta.scaffold import ConvEncoder

tasks, updates = int(sys.argv[1]), int(sys.argv[2])

class Encoder(BaseFeaturesExtractor):
    def __init__(self, space):
        super().__init__(space, 32)
        self.net = ConvEncoder(32)
    def forward(self, x):  # sb3 gives (n, 3, 15, 15) scaled to [0, 1] (it transposes HWC images)
        return self.net(x)

env = DummyVecEnv([lambda i=i: EgoRoomEnv("random", 20, seed=i) for i in range(tasks)])
model = RecurrentPPO(
    "CnnLstmPolicy", env, n_steps=60, batch_size=tasks * 60 // 4, n_epochs=4, learning_rate=3e-4, gamma=0.99,
    gae_lambda=0.95, clip_range=0.2, ent_coef=0.05, vf_coef=0.1, max_grad_norm=0.5, seed=0, device="cpu",
    policy_kwargs=dict(features_extractor_class=Encoder, lstm_hidden_size=128, n_lstm_layers=1,
                       shared_lstm=True, enable_critic_lstm=False, net_arch=dict(pi=[64], vf=[64])),
)
model.learn(total_timesteps=tasks * 60)  # warm-up
t = time.process_time()
model.learn(total_timesteps=tasks * 60 * updates, reset_num_timesteps=False)
total = time.process_time() - t
params = sum(p.numel() for p in model.policy.parameters())
print(json.dumps({"updates_per_s": updates / total, "params": params}))
"""


def sb3_rate(python: str, tasks: int, updates: int) -> dict:
    if not os.path.exists(python):
        return {"error": f"{python} not found (make a venv with stable-baselines3 and sb3-contrib)"}
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [python, "-c", SB3, str(tasks), str(updates)], capture_output=True, text=True, env=env
    )
    if out.returncode:
        return {
            "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--copies", type=int, default=64)
    p.add_argument("--env-steps", type=int, default=300)
    p.add_argument("--tasks", type=int, default=32)
    p.add_argument("--updates", type=int, default=4)
    p.add_argument("--sb3-python", default="/work/sb3env/bin/python")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    e = env_rates(args.copies, args.env_steps)
    print(
        f"env steps / CPU s at {args.copies} copies: vectorised {e['vector_steps_per_s']:,.0f}, "
        f"SyncVectorEnv {e['sync_steps_per_s']:,.0f}, speed-up {e['speedup']:.1f}×"
    )
    ours = rl2_rate(args.tasks, args.updates)
    print(
        f"RL² PPO iterations / CPU s ({args.tasks} tasks × 60 steps): {ours['updates_per_s']:.3f} "
        f"(update alone {ours['update_only_per_s']:.3f}; {ours['params']:,} parameters)"
    )
    sb3 = sb3_rate(args.sb3_python, args.tasks, args.updates)
    if "error" in sb3:
        print(f"RecurrentPPO: not run ({sb3['error']})")
    else:
        print(
            f"RecurrentPPO iterations / CPU s: {sb3['updates_per_s']:.3f} ({sb3['params']:,} parameters); "
            f"RL² / RecurrentPPO = {ours['updates_per_s'] / sb3['updates_per_s']:.2f}×"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
