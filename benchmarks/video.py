"""Benchmark: training clips per CPU second and peak memory of the CRW walk (issue 22, seed003 B.2.4).

Two implementations of the same loss (transition matrices with edge dropout + the cycle loss of every
sub-cycle k = 1..T−1, mean over k), forward and backward, on ℓ2-normalised node embeddings (the encoder's
output, Algorithm 6's v; B clips, T frames, N = 49 nodes of 128 dims: the thesis's 7×7 grid):
  * `replab.losses.crw.crw_loss`: one batched softmax per direction over all T−1 steps, and the walks
    of all sub-cycles from a forward prefix and a backward suffix extended by one matrix each, of which
    the loss reads only the diagonals (2(T−1) products, O(T) saved matrices);
  * `algorithm6`: a direct transcription of the thesis's Algorithm 6 (seed003 B.2.4, order fixed): a
    softmax per step and direction in a Python loop over time, and every walk 0 → k → 0 recomputed from
    scratch (O(T²) products, all kept for the backward pass).
Both are checked to give the same loss (same dropout masks: edge dropout 0 for the check; float64,
tolerance 1e-9) before timing. Seconds are the process's CPU time with one torch thread (robust to other
jobs on a shared machine). Memory: the peak of live CPU tensor bytes during forward + backward, from the
torch profiler's allocation events (`profile_memory=True`), and the bytes the autograd graph saves for
the backward pass (`saved_tensors_hooks`, unique storages).

    python benchmarks/video.py [--frames 8 16 32] [--batch 8] [--nodes 49] [--reps 20]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from replab.losses.crw import LOG_EPS, crw_loss, edge_dropout


def algorithm6(nodes: torch.Tensor, tau: float, edge_drop: float) -> torch.Tensor:
    """seed003 B.2.4's Algorithm 6, line by line, from S on (nodes: the encoder's ℓ2-normalised v)."""
    v = nodes
    b, t, n, _ = v.shape
    s = torch.einsum("btnc,btmc->btnm", v[:, :-1], v[:, 1:])
    fwd = [torch.softmax(edge_dropout(s[:, i] / tau, edge_drop), -1) for i in range(t - 1)]
    bwd = [torch.softmax(edge_dropout(s[:, i].transpose(-1, -2) / tau, edge_drop), -1) for i in range(t - 1)]
    losses = []
    for k in range(1, t):  # all sub-cycles: walk 0 -> k -> 0
        w = fwd[0]
        for j in range(1, k):
            w = w @ fwd[j]  # right-multiply in time order
        for j in reversed(range(k)):
            w = w @ bwd[j]
        target = torch.arange(n).repeat(b)
        losses.append(F.nll_loss(torch.log(w + LOG_EPS).flatten(0, 1), target))
    return torch.stack(losses).mean()


def ours(nodes: torch.Tensor, tau: float, edge_drop: float) -> torch.Tensor:
    return crw_loss(nodes, tau, edge_drop=edge_drop, normalize=False)[0]  # nodes come ℓ2-normalised


IMPLS = {"crw_loss": ours, "algorithm6": algorithm6}


def clips_per_cpu_second(fn, nodes: torch.Tensor, reps: int) -> float:
    def step():
        x = nodes.detach().requires_grad_(True)
        fn(x, 0.07, 0.1).backward()

    step()  # warm-up
    start = time.process_time()
    for _ in range(reps):
        step()
    return reps * nodes.shape[0] / max(time.process_time() - start, 1e-9)


def peak_bytes(fn, nodes: torch.Tensor) -> int:
    """Peak of live CPU tensor bytes allocated inside forward + backward (inputs excluded)."""
    x = nodes.detach().requires_grad_(True)
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as prof:
        fn(x, 0.07, 0.1).backward()
    # every allocation (+) and free (−) the profiler saw, attributed to its innermost op, in time order
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def saved_bytes(fn, nodes: torch.Tensor) -> int:
    """Bytes of the distinct tensors the autograd graph keeps for the backward pass."""
    seen: dict[int, int] = {}

    def pack(t):
        seen[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = nodes.detach().requires_grad_(True)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = fn(x, 0.07, 0.1)
    loss.backward()
    return sum(seen.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--nodes", type=int, default=49)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    check = F.normalize(torch.randn(2, 6, args.nodes, args.dim, generator=g, dtype=torch.float64), dim=-1)
    a, b = ours(check, 0.07, 0.0), algorithm6(check, 0.07, 0.0)
    assert torch.allclose(a, b, atol=1e-9, rtol=0), (float(a), float(b))
    print(f"same loss (float64, no dropout, T = 6): {float(a):.9f} vs {float(b):.9f}")
    print(f"B = {args.batch} clips, N = {args.nodes} nodes, d = {args.dim}, forward + backward, 1 thread\n")
    print(
        "| T | crw_loss clips / CPU s | Algorithm 6 clips / CPU s | speed-up | peak MiB (crw_loss / Alg. 6) "
        "| saved for backward MiB (crw_loss / Alg. 6) |"
    )
    print("|---|---|---|---|---|---|")
    for t in args.frames:
        nodes = F.normalize(torch.randn(args.batch, t, args.nodes, args.dim, generator=g), dim=-1)
        reps = max(2, args.reps * 8 // t)
        rate = {name: clips_per_cpu_second(fn, nodes, reps) for name, fn in IMPLS.items()}
        peak = {name: peak_bytes(fn, nodes) / 2**20 for name, fn in IMPLS.items()}
        saved = {name: saved_bytes(fn, nodes) / 2**20 for name, fn in IMPLS.items()}
        a, b = IMPLS
        print(
            f"| {t} | {rate[a]:.0f} | {rate[b]:.0f} | {rate[a] / rate[b]:.2f}× | {peak[a]:.1f} / {peak[b]:.1f} "
            f"| {saved[a]:.1f} / {saved[b]:.1f} |"
        )


if __name__ == "__main__":
    main()
