"""Benchmark: replab's BoTNet and InfoNCE against timm and lightly, measured in the same process.

1. BoTNet forward + backward images/s at 256×256 (batch `--batch`): timm's `botnet26t_256` against
   replab's BoTNet-26T (the same layout: tiered stem, one MHSA block in c4 and two in c5), BoTNet-26
   (all of c5) and BoT50 (thesis layout), with parameter counts printed for each.
2. InfoNCE forward + backward calls/s: `replab.losses.nt_xent` against lightly's `NTXentLoss` on two views
   (N, D), same temperature; their values are compared first (they must agree to 1e-5).

timm and lightly need torchvision, which does not import beside the project's CPU torch build, so this runs
in its own environment: `make bench-ssl` (creates build/venv-bench-ssl with torch 2.14.1 + torchvision).
    python benchmarks/ssl_bench.py [--threads 2] [--batch 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402

from replab.losses.info_nce import nt_xent  # noqa: E402
from replab.nn.botnet import botnet  # noqa: E402
from replab.nn.count import count_params  # noqa: E402


def interleaved(fns: dict, repeats: int, inner: int) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved blocks of `inner` calls (after one
    warm-up block each), so that load changes on a shared machine hit every function alike."""
    times = {name: [] for name in fns}
    for r in range(repeats + 1):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            if r:
                times[name].append((time.perf_counter() - t) / inner)
    return {name: statistics.median(ts) for name, ts in times.items()}


def fwd_bwd(model, x):
    def step():
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    return step


def bench_botnet(batch: int, repeats: int) -> list[tuple[str, int, float]]:
    import timm

    torch.manual_seed(0)
    x = torch.randn(batch, 3, 256, 256)
    size = (256, 256)
    models = {
        "timm botnet26t_256": timm.create_model("botnet26t_256", pretrained=False),
        "replab BoTNet-26T (same layout)": botnet(
            (2, 2, 2, 2), image_size=size, stem="tiered", pattern=("cc", "cc", "cm", "mm")
        ),
        "replab BoTNet-26 (c5 only)": botnet((2, 2, 2, 2), image_size=size),
        "replab BoT50": botnet((3, 4, 6, 3), image_size=size),
    }
    sec = interleaved({name: fwd_bwd(m.train(), x) for name, m in models.items()}, repeats, 1)
    return [(name, count_params(m), batch / sec[name]) for name, m in models.items()]


def bench_info_nce(n: int, d: int, repeats: int) -> tuple[float, float, float]:
    from lightly.loss import NTXentLoss

    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(n, d, generator=g, requires_grad=True)
    z1 = torch.randn(n, d, generator=g, requires_grad=True)
    theirs = NTXentLoss(temperature=0.5)
    with torch.no_grad():
        diff = abs(float(nt_xent(z0, z1, 0.5)) - float(theirs(z0, z1)))

    def ours_step():
        z0.grad = z1.grad = None
        nt_xent(z0, z1, 0.5).backward()

    def their_step():
        z0.grad = z1.grad = None
        theirs(z0, z1).backward()

    sec = interleaved({"ours": ours_step, "theirs": their_step}, repeats, max(1, 2000 // n))
    return sec["ours"], sec["theirs"], diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--parts", default="botnet,infonce", help="comma-separated: botnet, infonce")
    ap.add_argument("--sizes", default="256x128,1024x128,4096x256", help="InfoNCE N×D pairs, comma-separated")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import timm

    print(
        f"torch {torch.__version__}, timm {timm.__version__}, {platform.processor() or platform.machine()}, "
        f"{args.threads} threads"
    )
    parts = set(args.parts.split(","))
    if "botnet" in parts:
        print(f"\n### BoTNet forward+backward, 256×256, batch {args.batch}\n", flush=True)
        rows = bench_botnet(args.batch, args.repeats)
        ref = rows[0][2]
        print("| model | params | images/s | vs timm |\n|---|---|---|---|")
        for name, params, ips in rows:
            print(f"| {name} | {params / 1e6:.2f} M | {ips:.2f} | {ips / ref:.2f}× |", flush=True)
    if "infonce" in parts:
        print("\n### InfoNCE (NT-Xent, τ = 0.5) forward+backward\n")
        print(
            "| N × D | replab calls/s | lightly calls/s | ratio | value difference |\n|---|---|---|---|---|"
        )
        for n, d in (tuple(int(v) for v in nd.split("x")) for nd in args.sizes.split(",")):
            ours, theirs, diff = bench_info_nce(n, d, args.repeats)
            print(
                f"| {n} × {d} | {1 / ours:.3g} | {1 / theirs:.3g} | {theirs / ours:.2f}× | {diff:.1e} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
