"""Benchmark: forward+backward throughput (tokens/s) of the LRU layer, in one process.

Rows, at each length L:
  * replab LRU, parallel scan (`replab.nn.scan.linear_scan`, chunked, custom adjoint) — what training uses;
  * the layer with the recurrence removed (x = γ ⊙ B u): the floor that both the scan and the loop pay
    (input/output projections, forward and backward); loop / floor bounds any scan's speed-up of the layer;
  * the same layer with the odd–even (`jax.lax.associative_scan`-style, O(log L) depth) scan;
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


def odd_even_step(layer: LRU, u: torch.Tensor):
    def step():
        layer.zero_grad(set_to_none=True)
        x = linear_scan(layer.lambda_(), layer._input(u), method="odd_even")
        layer._output(x, u).square().mean().backward()

    return step


def floor_step(layer: LRU, u: torch.Tensor):
    def step():
        layer.zero_grad(set_to_none=True)
        layer._output(layer._input(u), u).square().mean().backward()

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


def timed_interleaved(fns: dict, repeats: int) -> dict:
    """Median seconds of each function, timed in interleaved rounds (the machine may be shared: every
    function sees the same mix of quiet and busy moments)."""
    for fn in fns.values():
        fn()  # warm-up
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def core_steps(B: int, L: int, N: int) -> dict:
    """The recurrence alone, forward+backward: the sequential loop and the parallel scan."""
    lam = torch.polar(0.9 + 0.1 * torch.rand(N), 6.28 * torch.rand(N)).requires_grad_()
    b = torch.randn(B, L, N, dtype=torch.complex64, requires_grad=True)

    def run(fn):
        return lambda: fn(lam, b).real.square().mean().backward()

    return {"core_seq": run(sequential_scan), "core_par": run(linear_scan)}


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
    ap.add_argument("--repeats", type=int, default=5)
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
        "| LRU odd–even scan (tok/s) | layer without recurrence (tok/s) | bound: loop time / floor time "
        "| LRU naive indexing loop (tok/s) | parallel / naive | LRU + accelerated-scan ref (tok/s) "
        "| torch GRU (tok/s) | parallel / GRU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    naive_too_slow = False
    for L in args.lengths:
        u = torch.randn(args.batch, L, args.d_model)
        tokens = args.batch * L

        def gru_step(u=u):
            gru.zero_grad(set_to_none=True)
            gru(u)[0].square().mean().backward()

        fns = {
            "par": lru_step(layer, u, "parallel"),
            "seq": lru_step(layer, u, "sequential"),
            "odd_even": odd_even_step(layer, u),
            "floor": floor_step(layer, u),
            "gru": gru_step,
            **core_steps(args.batch, L, args.d_state),
        }
        if have_acc:
            fns["acc"] = accelerated_step(layer, u)
        t = timed_interleaved(fns, args.repeats)
        par, seq, odd_even, floor, g = (tokens / t[k] for k in ("par", "seq", "odd_even", "floor", "gru"))
        core = t["core_seq"] / t["core_par"]
        acc = tokens / t["acc"] if have_acc else float("nan")
        naive = float("nan")
        if not naive_too_slow:
            t_naive = timed(naive_loop_step(layer, u), 1)
            naive, naive_too_slow = tokens / t_naive, t_naive > args.max_seq_seconds
        print(
            f"| {L} | {par:,.0f} | {seq:,.0f} | {par / seq:.1f}× | {core:.1f}× | {odd_even:,.0f} "
            f"| {floor:,.0f} | {floor / seq:.1f}× "
            f"| {naive:,.0f} | {par / naive:.1f}× "
            f"| {acc:,.0f} | {g:,.0f} | {par / g:.1f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()
