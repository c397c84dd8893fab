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
One "token" is one (sequence, time step) pair: tokens/s = B·L / seconds per forward+backward. On CPU the
seconds are the process's CPU time (`time.process_time`, robust to other jobs on a shared machine: the wall
time there includes waiting for a core); the wall-clock ratio parallel / loop is printed beside it. With
`--device cuda` every call ends with `torch.cuda.synchronize()` and the seconds are wall-clock seconds (the
CPU time of the host thread says nothing about the kernels), so both ratio columns use wall time.

    python benchmarks/lru.py [--lengths 1024 4096 16384] [--batches 4] [--d-model 64] [--d-state 64]
                             [--repeats 5] [--threads 1] [--max-seq-seconds 20] [--profile] [--device cpu]
`--profile` prints, instead of the table, a CPU-time breakdown of the layer (matmuls, scan pieces, page faults).
`pip install accelerated-scan` (extra `replab[bench]`) for its row; it is skipped when missing.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

# drop this folder from the import path (a sibling ssl.py would shadow the standard library's ssl)
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402

from replab.errors import ReplabError  # noqa: E402
from replab.launch import check_device  # noqa: E402
from replab.nn.lru import LRU  # noqa: E402
from replab.nn.scan import _dot_conj, _scan, linear_scan, sequential_scan  # noqa: E402

_SYNC = [lambda: None]  # torch.cuda.synchronize with --device cuda: a timed call ends when its kernels do
_PRIMARY = [time.process_time]  # the clock of the tok/s columns: CPU time on CPU, wall time on CUDA


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median (primary-clock seconds, wall seconds) of `repeats` calls after one warm-up."""
    return tuple(v["fn"] for v in timed_interleaved({"fn": fn}, repeats))


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


def timed_interleaved(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Median primary-clock seconds and median wall seconds of each function, timed in interleaved rounds
    (the machine may be shared: every function sees the same mix of quiet and busy moments)."""
    for fn in fns.values():
        fn()  # warm-up
    _SYNC[0]()
    cpu, wall = {k: [] for k in fns}, {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            c, w = _PRIMARY[0](), time.perf_counter()
            fn()
            _SYNC[0]()
            cpu[k].append(_PRIMARY[0]() - c)
            wall[k].append(time.perf_counter() - w)
    med = statistics.median
    return {k: med(v) for k, v in cpu.items()}, {k: med(v) for k, v in wall.items()}


def core_steps(B: int, L: int, N: int, device: torch.device) -> dict:
    """The recurrence alone, forward+backward: the sequential loop and the parallel scan."""
    lam = torch.polar(0.9 + 0.1 * torch.rand(N), 6.28 * torch.rand(N)).to(device).requires_grad_()
    b = torch.randn(B, L, N, dtype=torch.complex64, device=device, requires_grad=True)

    def run(fn):
        return lambda: fn(lam, b).real.square().mean().backward()

    return {"core_seq": run(sequential_scan), "core_par": run(linear_scan)}


def gru_matching(params: int, d_model: int) -> torch.nn.GRU:
    h = 1
    while sum(p.numel() for p in torch.nn.GRU(d_model, h + 1, batch_first=True).parameters()) <= params:
        h += 1
    return torch.nn.GRU(d_model, h, batch_first=True)


def profile(layer: LRU, batch: int, length: int, repeats: int) -> None:
    """CPU-time breakdown of one forward+backward of the layer at (B, L) = (`batch`, `length`): the parallel
    layer, the layer without recurrence, the five matmuls of that floor (shapes of the layer), the pieces
    of the scan, and the minor page faults per call (fresh large buffers: kernel time, not arithmetic)."""
    H, N, rows = layer.d_model, layer.d_state, batch * length
    u = torch.randn(batch, length, H)
    lam = layer.lambda_().detach()
    b, g = (torch.randn(batch, length, N, dtype=torch.complex64) for _ in range(2))
    lam_g, b_g = lam.clone().requires_grad_(), b.clone().requires_grad_()
    a, w_in, w_out = (
        (torch.randn(rows, k) for k in (H, 2 * N, H)),
        torch.randn(2 * N, H),
        torch.randn(H, 2 * N),
    )
    uu, xx, gy = a
    fns = {
        "layer, parallel scan (fwd+bwd)": lru_step(layer, u, "parallel"),
        "layer without recurrence (fwd+bwd)": floor_step(layer, u),
        "  matmul B u: (BL, H) @ (H, 2N)": lambda: uu @ w_in.t(),
        "  matmul C x: (BL, 2N) @ (2N, H)": lambda: xx @ w_out.t(),
        "  matmul ∂x: (BL, H) @ (H, 2N)": lambda: gy @ w_out,
        "  matmul ∂C: (H, BL) @ (BL, 2N)": lambda: gy.t() @ xx,
        "  matmul ∂B: (2N, BL) @ (BL, H)": lambda: xx.t() @ uu,
        "scan alone (fwd+bwd, given ∂h)": lambda: torch.autograd.backward(linear_scan(lam_g, b_g), g),
        "  forward scan": lambda: _scan(lam, b, "chunked"),
        "  reverse scan (adjoint)": lambda: _scan(lam.conj_physical(), g, "chunked", reverse=True),
        "  ∂λ = Σ conj(h_{t-1}) g_t": lambda: _dot_conj(b[:, :-1], g[:, 1:]),
    }
    cpu, wall = timed_interleaved(fns, repeats)
    print(
        f"# CPU-time breakdown, B={batch}, L={length}, H={H}, N={N} (median of {repeats} interleaved rounds)"
    )
    print("| piece | CPU ms | wall ms |\n|---|---|---|")
    for k in fns:
        print(f"| {k} | {cpu[k] * 1e3:.1f} | {wall[k] * 1e3:.1f} |")
    for k in ("layer, parallel scan (fwd+bwd)", "layer without recurrence (fwd+bwd)"):
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(repeats):
            fns[k]()
        after = resource.getrusage(resource.RUSAGE_SELF)
        faults = (after.ru_minflt - before.ru_minflt) / repeats
        sys_ms = (after.ru_stime - before.ru_stime) / repeats * 1e3
        print(f"# {k}: {faults:,.0f} minor page faults per call, {sys_ms:.1f} ms system CPU per call")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    ap.add_argument("--batches", type=int, nargs="+", default=[4], help="batch sizes B (one row per B, L)")
    ap.add_argument("--d-model", type=int, default=64)
    ap.add_argument("--d-state", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--profile", action="store_true", help="print a CPU-time breakdown at each (B, L) instead"
    )
    ap.add_argument("--device", default="cpu", help="cpu or cuda (wall-clock seconds, synchronised)")
    ap.add_argument(
        "--max-seq-seconds",
        type=float,
        default=20.0,
        help="skip the naive loop at longer L (same B) once one step took longer than this (CPU seconds)",
    )
    args = ap.parse_args()
    if min(args.batches) < 1 or min(args.lengths) < 1:
        raise ValueError(f"batches and lengths must be >= 1, got {args.batches}, {args.lengths}")
    try:  # the CLI's check: cpu, cuda or cuda:N, and CUDA present
        device = torch.device(check_device(args.device))
    except ReplabError as e:
        raise SystemExit(str(e)) from None
    if device.type == "cuda":
        if args.profile:
            raise SystemExit("--profile measures CPU time and page faults: use it with --device cpu")
        _SYNC[0], _PRIMARY[0] = torch.cuda.synchronize, time.perf_counter
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layer = LRU(args.d_model, args.d_state, r_min=0.9, r_max=0.999).to(device)
    params = sum(p.numel() for p in layer.parameters())
    gru = gru_matching(params, args.d_model).to(device)
    try:
        import accelerated_scan.ref  # noqa: F401

        have_acc = True
    except ImportError:
        have_acc = False
    print(
        f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, threads={args.threads}, "
        f"device {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}, "
        f"H={args.d_model}, N={args.d_state}; LRU params {params}, GRU hidden "
        f"{gru.hidden_size} params {sum(p.numel() for p in gru.parameters())}; "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    if args.profile:
        for batch in args.batches:
            for L in args.lengths:
                profile(layer, batch, L, args.repeats)
        return
    clock = "wall-clock (synchronised)" if device.type == "cuda" else "CPU"
    print(f"# tok/s and ratios from median {clock} seconds; 'wall' ratio from median wall-clock seconds")
    print(
        "| B | L | LRU parallel scan (tok/s) | LRU loop (tok/s) | parallel / loop | parallel / loop (wall) "
        "| recurrence only: parallel / loop | LRU odd–even scan (tok/s) | layer without recurrence (tok/s) "
        "| bound: loop time / floor time | LRU naive indexing loop (tok/s) | parallel / naive "
        "| LRU + accelerated-scan ref (tok/s) | torch GRU (tok/s) | parallel / GRU |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for batch in args.batches:
        naive_too_slow = False
        for L in args.lengths:
            u = torch.randn(batch, L, args.d_model, device=device)
            tokens = batch * L

            def gru_step(u=u):
                gru.zero_grad(set_to_none=True)
                gru(u)[0].square().mean().backward()

            fns = {
                "par": lru_step(layer, u, "parallel"),
                "seq": lru_step(layer, u, "sequential"),
                "odd_even": odd_even_step(layer, u),
                "floor": floor_step(layer, u),
                "gru": gru_step,
                **core_steps(batch, L, args.d_state, device),
            }
            if have_acc:
                fns["acc"] = accelerated_step(layer, u)
            t, wall = timed_interleaved(fns, args.repeats)
            par, seq, odd_even, floor, g = (tokens / t[k] for k in ("par", "seq", "odd_even", "floor", "gru"))
            core = t["core_seq"] / t["core_par"]
            acc = tokens / t["acc"] if have_acc else float("nan")
            naive = float("nan")
            if not naive_too_slow:
                t_naive = timed(naive_loop_step(layer, u), 1)[0]
                naive, naive_too_slow = tokens / t_naive, t_naive > args.max_seq_seconds
            print(
                f"| {batch} | {L} | {par:,.0f} | {seq:,.0f} | {par / seq:.1f}× | {wall['seq'] / wall['par']:.1f}× "
                f"| {core:.1f}× | {odd_even:,.0f} | {floor:,.0f} | {floor / seq:.1f}× "
                f"| {naive:,.0f} | {par / naive:.1f}× "
                f"| {acc:,.0f} | {g:,.0f} | {par / g:.1f}× |",
                flush=True,
            )
    print(f"# load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
