"""Benchmark: forward+backward throughput (tokens/s) of the LRU layer, in one process.

Rows, at each length L:
  * replab LRU, parallel scan (`replab.nn.scan.linear_scan`, custom adjoint) — what training uses;
  * replab LRU, sequential loop (`scan="sequential"`, the input unbound once: O(L) forward and backward);
  * the recurrence alone (`linear_scan` vs `sequential_scan` on (B, L, N) complex inputs), as a ratio;
  * the same layer with a naive loop that indexes the input at every step, as PyTorch LRU ports are often
    written (its backward is O(L²): each index's gradient is a full-size zero tensor); skipped at longer L
    once one step took more than --max-seq-seconds;
  * the same LRU layer with the recurrence computed by `accelerated_scan.ref.scan` (the pure-PyTorch
    reference scan of the `accelerated-scan` package; its Triton/CUDA kernels do not run on CPU);
  * `torch.nn.GRU` with the hidden size that matches the LRU layer's parameter count.
One "token" is one (sequence, time step) pair: tokens/s = B·L / seconds per forward+backward.

    python benchmarks/lru.py [--lengths 1024 4096 16384] [--batch 4] [--d-model 64] [--d-state 64]
                             [--repeats 3] [--threads 1] [--max-seq-seconds 20]
`pip install accelerated-scan` (extra `replab[bench]`) for its row; it is skipped when missing.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

# drop this folder from the import path (a sibling ssl.py would shadow the standard library's ssl)
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402

from replab.nn.lru import LRU  # noqa: E402
from replab.nn.scan import linear_scan, sequential_scan  # noqa: E402


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def lru_step(layer: LRU, u: torch.Tensor, scan: str):
    def step():
        layer.zero_grad(set_to_none=True)
        layer(u, scan=scan).square().mean().backward()

    return step


def naive_loop_step(layer: LRU, u: torch.Tensor):
    def step():
        layer.zero_grad(set_to_none=True)
        lam, bu = layer.lambda_(), layer._input(u)
        x, xs = torch.zeros_like(bu[:, 0]), []
        for t in range(u.shape[1]):
            x = lam * x + bu[:, t]
            xs.append(x)
        layer._output(torch.stack(xs, 1), u).square().mean().backward()

    return step


def accelerated_step(layer: LRU, u: torch.Tensor):
    from accelerated_scan.ref import scan

    def step():
        layer.zero_grad(set_to_none=True)
        bu = layer._input(u)  # (B, L, N) complex
        gates = layer.lambda_()[None, :, None].expand(u.shape[0], -1, u.shape[1]).contiguous()  # (B, N, L)
        x = scan(gates, bu.transpose(1, 2).contiguous()).transpose(1, 2)
        layer._output(x, u).square().mean().backward()

    return step


def core_ratio(B: int, L: int, N: int, repeats: int) -> float:
    """Seconds of the sequential loop / seconds of the parallel scan, recurrence only, forward+backward."""
    lam = torch.polar(0.9 + 0.1 * torch.rand(N), 6.28 * torch.rand(N)).requires_grad_()
    b = torch.randn(B, L, N, dtype=torch.complex64, requires_grad=True)

    def run(fn):
        return lambda: fn(lam, b).real.square().mean().backward()

    return timed(run(sequential_scan), repeats) / timed(run(linear_scan), repeats)


def gru_matching(params: int, d_model: int) -> torch.nn.GRU:
    h = 1
    while sum(p.numel() for p in torch.nn.GRU(d_model, h + 1, batch_first=True).parameters()) <= params:
        h += 1
    return torch.nn.GRU(d_model, h, batch_first=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--d-state", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--max-seq-seconds",
        type=float,
        default=20.0,
        help="skip the naive loop at longer L once one step took longer than this",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layer = LRU(args.d_model, args.d_state, r_min=0.9, r_max=0.999)
    params = sum(p.numel() for p in layer.parameters())
    gru = gru_matching(params, args.d_model)
    try:
        import accelerated_scan.ref  # noqa: F401

        have_acc = True
    except ImportError:
        have_acc = False
    print(
        f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, threads={args.threads}, "
        f"B={args.batch}, H={args.d_model}, N={args.d_state}; LRU params {params}, GRU hidden "
        f"{gru.hidden_size} params {sum(p.numel() for p in gru.parameters())}"
    )
    print(
        "| L | LRU parallel scan (tok/s) | LRU loop (tok/s) | parallel / loop | recurrence only: parallel / loop "
        "| LRU naive indexing loop (tok/s) | parallel / naive | LRU + accelerated-scan ref (tok/s) "
        "| torch GRU (tok/s) | parallel / GRU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    naive_too_slow = False
    for L in args.lengths:
        u = torch.randn(args.batch, L, args.d_model)
        tokens = args.batch * L
        par = tokens / timed(lru_step(layer, u, "parallel"), args.repeats)
        seq = tokens / timed(lru_step(layer, u, "sequential"), args.repeats)
        core = core_ratio(args.batch, L, args.d_state, args.repeats)
        naive = float("nan")
        if not naive_too_slow:
            t = timed(naive_loop_step(layer, u), 1)
            naive, naive_too_slow = tokens / t, t > args.max_seq_seconds
        acc = tokens / timed(accelerated_step(layer, u), args.repeats) if have_acc else float("nan")

        def gru_step(u=u):
            gru.zero_grad(set_to_none=True)
            gru(u)[0].square().mean().backward()

        g = tokens / timed(gru_step, args.repeats)
        print(
            f"| {L} | {par:,.0f} | {seq:,.0f} | {par / seq:.1f}× | {core:.1f}× | {naive:,.0f} | {par / naive:.1f}× "
            f"| {acc:,.0f} | {g:,.0f} | {par / g:.1f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
