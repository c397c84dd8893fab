"""ClonEx-SAC update throughput: the multi-head agent with the behavioural-cloning term vs without it vs the
project's single-task State SAC (`replab.rl.sac.SAC`) at the same batch and width, in one process:

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.clonex [--batch 128] [--hidden 256] [--updates 50] [--rounds 6]

Agents (1 torch thread, after 3 warm-up updates each): `sac` = `SAC(obs_shape=(D,), hidden, actor_update_freq=1,
target_update_freq=1)` (2 hidden layers, actor and targets every update, as ClonEx); `multihead` = `ClonExSAC`
(2 hidden layers, LayerNorm, 4 task heads) on its first task (no stored states, no BC term); `multihead+bc` = the
same after one finished task with 10,000 stored states, so every update adds λ_BC · KL on a second batch of
`batch` stored states (ClonEx step 2); `mh+bc, no LN` = the latter without CW's LayerNorm + tanh first layers
(SAC's plain ReLU-like trunk: how much of the gap to `sac` is the architecture). Timed in CPU seconds of this process, `--rounds` interleaved rounds of
`--updates` updates; reported: median updates/s per agent and per pair the median of the per-round ratios.
Issue 25's budget: the BC term may cost at most 25%, i.e. multihead+bc / multihead ≥ 0.75.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from replab.continual.clonex import ClonExSAC
from replab.rl.buffers import Batch
from replab.rl.sac import SAC

OBS, TASKS, ACT = 8, 4, 2  # a Pendulum-sized state (3) + padding, 4 task ids, 2-d actions


def batch(n: int, task: int, g: torch.Generator) -> Batch:
    obs = torch.randn(n, OBS + TASKS, generator=g)
    nxt = torch.randn(n, OBS + TASKS, generator=g)
    for x in (obs, nxt):
        x[:, OBS:] = 0
        x[:, OBS + task] = 1
    return Batch(obs=obs, action=torch.rand(n, ACT, generator=g) * 2 - 1, reward=torch.randn(n, generator=g),
                 discount=torch.full((n,), 0.99), next_obs=nxt, steps=torch.ones(n), weight=torch.ones(n),
                 index=np.arange(n))  # fmt: skip


class Stored:
    """A replay stand-in for `end_task`: returns the task-0 batches."""

    def __init__(self, n: int, size: int, g):
        self.n, self.size, self.g = n, size, g

    def sample(self):
        return batch(self.n, 0, self.g)

    def __len__(self):
        return self.size


def agents(b: int, hidden: int) -> dict:
    torch.manual_seed(0)
    sac = SAC((OBS + TASKS,), ACT, hidden=hidden, actor_update_freq=1, target_update_freq=1)
    plain = ClonExSAC(OBS + TASKS, ACT, TASKS, hidden=hidden, layers=2, seed=0)
    bc = ClonExSAC(OBS + TASKS, ACT, TASKS, hidden=hidden, layers=2, seed=0, bc_batch=b)
    bc.end_task(Stored(b, 10_000, torch.Generator().manual_seed(1)))
    bc.start_task(1)
    assert bc.expert["obs"].shape[0] == 10_000
    nln = ClonExSAC(OBS + TASKS, ACT, TASKS, hidden=hidden, layers=2, seed=0, bc_batch=b, layer_norm=False)
    nln.end_task(Stored(b, 10_000, torch.Generator().manual_seed(1)))
    nln.start_task(1)
    return {"sac": (sac, 0), "multihead": (plain, 0), "multihead+bc": (bc, 1), "mh+bc, no LN": (nln, 1)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--updates", type=int, default=50)
    p.add_argument("--rounds", type=int, default=6)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    ags = agents(args.batch, args.hidden)
    batches = {k: [batch(args.batch, task, g) for _ in range(8)] for k, (_, task) in ags.items()}
    for k, (agent, _) in ags.items():
        for i in range(3):
            agent.update(batches[k][i], i)
    rates: dict[str, list[float]] = {k: [] for k in ags}
    names = list(ags)
    for r in range(args.rounds):
        for k in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order each round
            agent = ags[k][0]
            c = time.process_time()
            for i in range(args.updates):
                agent.update(batches[k][i % 8], i)
            rates[k].append(args.updates / (time.process_time() - c))
    print(
        f"batch {args.batch}, hidden {args.hidden}, 1 thread, {args.rounds} rounds × {args.updates} updates (CPU s)"
    )
    for k in names:
        print(
            f"  {k:13s} {statistics.median(rates[k]):8.1f} updates/s  [{min(rates[k]):.1f}, {max(rates[k]):.1f}]"
        )
    for a, b in (
        ("multihead+bc", "multihead"),
        ("multihead+bc", "sac"),
        ("multihead", "sac"),
        ("mh+bc, no LN", "sac"),
    ):
        ratios = [x / y for x, y in zip(rates[a], rates[b])]
        print(f"  {a} / {b}: {statistics.median(ratios):.3f} [{min(ratios):.3f}, {max(ratios):.3f}]")


if __name__ == "__main__":
    main()
