"""Benchmark: optimizer steps per CPU second of staleness-corrected momentum for TD (issue 23).

Rows, per minibatch size, on corrected-momentum's value network (2 → 16 → 16 → 16 → 1, 609 parameters):
  * `CorrectedMomentum` with `td_terms` (per-example ∇V(s), ∇V(s′) by `torch.func.vmap(grad)`): what the
    experiment uses;
  * the same optimizer fed by a per-example Python loop of `torch.autograd.grad` (the issue's target: the
    vmap path ≥ 10× this loop);
  * `torch.optim.SGD(momentum=β, dampening=1−β)` on the semi-gradient TD loss: the overhead of the
    correction over plain momentum.
Seconds are the process's CPU time (robust to other jobs on a shared machine), one torch thread; the three
are measured in interleaved rounds.

    python benchmarks/bootstrapping.py [--batches 16 64] [--steps 300] [--loop-steps 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from replab.optim import CorrectedMomentum, TDTerms, td_terms


def value_net() -> nn.Module:
    torch.manual_seed(0)
    layers, width = [], 2
    for _ in range(3):
        layers += [nn.Linear(width, 16), nn.LeakyReLU()]
        width = 16
    return nn.Sequential(*layers, nn.Linear(16, 1))


def loop_terms(net: nn.Module, s, r, s_next, discount) -> TDTerms:
    """`td_terms` computed one example at a time with `torch.autograd.grad` (the reference the vmap path is
    measured against; the same quantities)."""
    params = list(net.parameters())

    def flat_grad(x):
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(net(x).sum(), params)])

    b = torch.stack([flat_grad(s[i : i + 1]) for i in range(len(s))])
    b_next = torch.stack([flat_grad(s_next[i : i + 1]) for i in range(len(s))])
    a = b - discount[:, None] * b_next
    with torch.no_grad():
        delta = net(s).squeeze(1) - (r + discount * net(s_next).squeeze(1))
    g = (delta[:, None] * b).mean(0)
    for p, gp in zip(params, torch.split(g, [p.numel() for p in params]), strict=True):
        p.grad = gp.view_as(p).clone()
    return TDTerms(0.5 * delta.pow(2).mean(), delta, a, b)


def cpu_seconds(step, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        step()
    return time.process_time() - start


def row(m: int, steps: int, loop_steps: int, rounds: int) -> str:
    """The table row of minibatch size `m`: the three step rates on the same transitions, measured in
    `rounds` interleaved rounds (so a change of load on a shared machine hits all three alike)."""
    g = torch.Generator().manual_seed(0)
    s, s_next, r = torch.randn(m, 2, generator=g), torch.randn(m, 2, generator=g), torch.randn(m, generator=g)
    discount = torch.full((m,), 0.95)
    vm_net, loop_net, sgd_net = value_net(), value_net(), value_net()
    vm_opt = CorrectedMomentum(vm_net.parameters(), 0.1, 0.9)
    loop_opt = CorrectedMomentum(loop_net.parameters(), 0.1, 0.9)
    sgd = torch.optim.SGD(sgd_net.parameters(), lr=0.1, momentum=0.9, dampening=0.1)

    def sgd_step():
        sgd.zero_grad()
        target = (r + discount * sgd_net(s_next).squeeze(1)).detach()
        (0.5 * (sgd_net(s).squeeze(1) - target).pow(2).mean()).backward()
        sgd.step()

    steps_fns = {
        "vmap": (lambda: vm_opt.step(lambda: td_terms(vm_net, s, r, s_next, discount)), steps),
        "loop": (lambda: loop_opt.step(lambda: loop_terms(loop_net, s, r, s_next, discount)), loop_steps),
        "sgd": (sgd_step, 3 * steps),
    }
    secs = dict.fromkeys(steps_fns, 0.0)
    for fn, _ in steps_fns.values():
        fn()  # warm-up (vmap tracing, allocator)
    for _ in range(rounds):
        for k, (fn, n) in steps_fns.items():
            secs[k] += cpu_seconds(fn, n)
    vm, loop, plain = (rounds * n / max(secs[k], 1e-9) for k, (_, n) in steps_fns.items())
    return f"| {m} | {vm:.0f} | {loop:.0f} | {vm / loop:.1f}× | {plain:.0f} | {plain / vm:.1f}× |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--loop-steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each measurement")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(
        "| batch | corrected (vmap) steps/s | per-example loop steps/s | vmap / loop | SGD(momentum) steps/s "
        "| SGD / corrected |"
    )
    print("|---|---|---|---|---|---|")
    for m in args.batches:
        print(row(m, args.steps, args.loop_steps, args.rounds))


if __name__ == "__main__":
    main()
