"""Benchmark: replab's BoTNet and InfoNCE against timm and lightly, measured in the same process.

1. BoTNet forward + backward images/s at 256×256 (batch `--batch`): timm's `botnet26t_256` against
   replab's BoTNet-26T (the same layout: tiered stem, one MHSA block in c4 and two in c5), BoTNet-26
   (all of c5) and BoT50 (thesis layout), with parameter counts printed for each. Each step is timed by the
   wall clock and by process CPU time (which leaves out waiting for a core on a shared machine); the last
   column gives the round-by-round (paired) wall ratios. `--channels-last` adds both BoTNet-26Ts with
   channels_last weights and input (like with like: each is compared with timm in the same format).
2. `--parts stages`: CPU ms of forward + backward of each part (stem, each block, head) of both BoTNet-26Ts.
3. InfoNCE forward + backward calls/s: `replab.losses.nt_xent` against lightly's `NTXentLoss` on two views
   (N, D), same temperature; their values are compared first (they must agree to 1e-5).

timm and lightly need torchvision, which does not import beside the project's CPU torch build, so this runs
in its own environment: `make bench-ssl` (creates build/venv-bench-ssl with torch 2.14.1 + torchvision).
    python benchmarks/ssl_bench.py [--threads 2] [--batch 8] [--repeats 5] [--parts botnet,stages,infonce]
        [--channels-last]
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

import torch  # noqa: E402
from torch import nn  # noqa: E402

from replab.losses.info_nce import nt_xent  # noqa: E402
from replab.nn.botnet import botnet  # noqa: E402
from replab.nn.count import count_params  # noqa: E402


def interleaved(fns: dict, repeats: int, inner: int) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved blocks of `inner` calls (after one
    warm-up block each), so that load changes on a shared machine hit every function alike."""
    wall, _ = interleaved_both(fns, repeats, inner)
    return {name: statistics.median(ts) for name, ts in wall.items()}


def interleaved_both(fns: dict, repeats: int, inner: int) -> tuple[dict, dict]:
    """Per-block seconds per call, wall clock and process CPU time, for each function: `repeats` rounds
    of interleaved blocks after one warm-up round. CPU time leaves out the time the process waits for a
    core on a loaded machine (with one thread, autograd's backward runs on the calling thread)."""
    wall = {name: [] for name in fns}
    cpu = {name: [] for name in fns}
    for r in range(repeats + 1):
        for name, fn in fns.items():
            t, c = time.perf_counter(), time.process_time()
            for _ in range(inner):
                fn()
            if r:
                wall[name].append((time.perf_counter() - t) / inner)
                cpu[name].append((time.process_time() - c) / inner)
    return wall, cpu


def fwd_bwd(model, x):
    def step():
        model.zero_grad(set_to_none=True)
        model(x).sum().backward()

    return step


def botnet_models(channels_last: bool, replab_first: bool = False) -> dict:
    """The models in timing order; `replab_first` puts replab's BoTNet-26T before timm's in each round
    (to check that the position in the round does not favour either)."""
    import timm

    size = (256, 256)
    models = {
        "timm botnet26t_256": timm.create_model("botnet26t_256", pretrained=False),
        "replab BoTNet-26T (same layout)": botnet(
            (2, 2, 2, 2), image_size=size, stem="tiered", pattern=("cc", "cc", "cm", "mm")
        ),
    }
    if replab_first:
        models = dict(reversed(models.items()))
    if channels_last:
        for name in list(models):
            models[f"{name}, channels_last"] = copy.deepcopy(models[name]).to(
                memory_format=torch.channels_last
            )
    models["replab BoTNet-26 (c5 only)"] = botnet((2, 2, 2, 2), image_size=size)
    models["replab BoT50"] = botnet((3, 4, 6, 3), image_size=size)
    return models


def bench_botnet(batch: int, repeats: int, channels_last: bool, replab_first: bool = False) -> list[tuple]:
    """Rows (name, params, images/s wall, images/s CPU, paired wall ratios vs timm in the same format)."""
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 256, 256)
    xcl = x.contiguous(memory_format=torch.channels_last)
    models = botnet_models(channels_last, replab_first)
    fns = {n: fwd_bwd(m.train(), xcl if n.endswith("channels_last") else x) for n, m in models.items()}
    wall, cpu = interleaved_both(fns, repeats, 1)
    rows = []
    for name, m in models.items():
        ref = "timm botnet26t_256" + (", channels_last" if name.endswith("channels_last") else "")
        paired = [t / s for t, s in zip(wall[ref], wall[name])]  # timm time / ours, round by round
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        rows.append((name, count_params(m), batch / w, batch / c, paired))
    return rows


def stage_times(batch: int, repeats: int) -> list[tuple[str, float, float]]:
    """CPU ms of forward+backward of each part (stem, each block, head) of timm's botnet26t_256 and of
    replab's BoTNet-26T, on the part's real input (the previous parts' output), interleaved part by part."""
    models = botnet_models(False)
    timm_m, ours = (models[n].train() for n in list(models)[:2])
    ours_stem = nn.Sequential(ours.conv1, ours.bn1, ours.relu, ours.maxpool)
    ours_head = lambda h: ours.fc(h.mean((2, 3)))  # noqa: E731
    blocks = [
        (f"c{s + 2}.{j}", timm_m.stages[s][j], getattr(ours, f"layer{s + 1}")[j])
        for s in range(4)
        for j in range(2)
    ]
    parts = [("stem", timm_m.stem, ours_stem), *blocks, ("head", timm_m.head, ours_head)]
    torch.manual_seed(0)
    fns, h = {}, {"timm": torch.randn(batch, 3, 256, 256)}
    h["ours"] = h["timm"]
    for k, (name, *pair) in enumerate(parts):
        for lib, part in zip(("timm", "ours"), pair):
            inp = h[lib]

            def step(part=part, inp=inp, grad=k > 0):
                part(inp.detach().requires_grad_(grad)).sum().backward()

            fns[(name, lib)] = step
            with torch.no_grad():
                h[lib] = part(inp)
    _, cpu = interleaved_both(fns, repeats, 1)
    return [
        (n, 1e3 * statistics.median(cpu[(n, "timm")]), 1e3 * statistics.median(cpu[(n, "ours")]))
        for n, *_ in parts
    ]


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
    ap.add_argument("--parts", default="botnet,infonce", help="comma-separated: botnet, stages, infonce")
    ap.add_argument("--channels-last", action="store_true", help="also both BoTNet-26Ts in channels_last")
    ap.add_argument("--replab-first", action="store_true", help="time replab's BoTNet-26T before timm's")
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
        print(
            f"\n### BoTNet forward+backward, 256×256, batch {args.batch}, {args.repeats} rounds\n", flush=True
        )
        rows = bench_botnet(args.batch, args.repeats, args.channels_last, args.replab_first)
        ref = {row[0].endswith("channels_last"): row for row in rows if row[0].startswith("timm")}
        print(
            "| model | params | images/s (wall) | images/s (CPU time) | vs timm (wall) | vs timm (CPU) "
            "| paired wall ratios vs timm: median [min, max] |\n|---|---|---|---|---|---|---|"
        )
        for name, params, ips, ips_cpu, paired in rows:
            r = ref[name.endswith("channels_last")]
            spread = f"{statistics.median(paired):.3f} [{min(paired):.3f}, {max(paired):.3f}]"
            print(
                f"| {name} | {params / 1e6:.2f} M | {ips:.2f} | {ips_cpu:.2f} | {ips / r[2]:.3f}× "
                f"| {ips_cpu / r[3]:.3f}× | {spread} |",
                flush=True,
            )
    if "stages" in parts:
        print(
            f"\n### Forward+backward CPU ms per part, batch {args.batch}, {args.repeats} rounds\n", flush=True
        )
        print("| part | timm ms | replab BoTNet-26T ms | replab / timm |\n|---|---|---|---|")
        rows = stage_times(args.batch, args.repeats)
        for name, t, o in rows:
            print(f"| {name} | {t:.1f} | {o:.1f} | {o / t:.3f} |", flush=True)
        t, o = sum(r[1] for r in rows), sum(r[2] for r in rows)
        print(f"| sum | {t:.1f} | {o:.1f} | {o / t:.3f} |")
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
