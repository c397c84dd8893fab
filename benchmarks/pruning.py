"""Benchmark: is zero-shot structured pruning's FLOP saving a real speed-up? (issue 24, PRUNE seed002 §3)

For a bottleneck ResNet (stages (2, 2, 2), widths 32/64/128, expansion 4, CIFAR stem, 3×32×32 inputs) and
each pruning mode and ratio (`replab.continual.pruning.zero_shot_prune`: masks, then the pruned channels
removed physically), the rows give the counted forward FLOPs per image (`replab.nn.count.flops`), inference
throughput (eval, no grad, batch 128) and training throughput (forward + backward + SGD step, batch 64) in
images per CPU second, and each speed-up over the dense model next to the counted one (dense FLOPs / pruned
FLOPs); "measured / counted" is their ratio (1.0: the wall-clock follows the count). A last row runs the
masked network before removal (`torch.nn.utils.prune` masks only): the same FLOPs as dense, no speed-up.
CPU seconds of this process (robust to other jobs on a shared machine), one torch thread, same process.

    python benchmarks/pruning.py [--ratios 0.25 0.5 0.75 0.9] [--repeats 5] [--width 32]
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

from replab.continual.pruning import prune_masks, zero_shot_prune
from replab.nn.count import flops
from replab.nn.resnet import ResNet

SHAPE = (3, 32, 32)


def make(width: int) -> ResNet:
    torch.manual_seed(0)
    net = ResNet(layers=(2, 2, 2), widths=(width, 2 * width, 4 * width), in_channels=3, num_classes=0,
                 stem="cifar", stem_channels=width)  # fmt: skip
    return net.eval()


def cpu_per_call(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, oneDNN primitive caches)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def throughput(net: nn.Module, repeats: int) -> tuple[float, float]:
    """(inference, training) images per CPU second."""
    x_inf = torch.randn(128, *SHAPE)
    net = net.eval()

    def infer():
        with torch.no_grad():
            net(x_inf)

    inf = 128 / cpu_per_call(infer, repeats)
    train_net = nn.Sequential(copy.deepcopy(net) if not _masked(net) else net, nn.LazyLinear(10)).train()
    x, y = torch.randn(64, *SHAPE), torch.randint(0, 10, (64,))
    train_net(x)
    opt = torch.optim.SGD(train_net.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = F.cross_entropy(train_net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return inf, 64 / cpu_per_call(step, repeats)


def _masked(net) -> bool:
    return any(n.endswith("_mask") for n, _ in net.named_buffers())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.25, 0.5, 0.75, 0.9])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--width", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dense = make(args.width)
    base_flops = flops(dense, SHAPE)
    base_inf, base_train = throughput(dense, args.repeats)
    print(
        f"dense: {base_flops / 1e6:.1f} MFLOPs/image, {base_inf:.0f} img/s inference, {base_train:.0f} img/s training"
    )
    print("| model | MFLOPs/image | counted speed-up | inference img/CPU-s | inference speed-up | measured / counted "
          "| training img/CPU-s | training speed-up | measured / counted |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| dense | {base_flops / 1e6:.1f} | 1.00× | {base_inf:.0f} | 1.00× | 1.00 | {base_train:.0f} | 1.00× | 1.00 |"
    )
    rows = [
        (f"{mode} {r:g}", zero_shot_prune(dense, mode, r))
        for mode in ("filter", "channel")
        for r in args.ratios
    ]
    rows.append(("filter 0.5, masks only", prune_masks(copy.deepcopy(dense), "filter", 0.5)))
    for name, net in rows:
        f = flops(net, SHAPE)
        inf, tr = throughput(net, args.repeats)
        counted = base_flops / f
        si, st = inf / base_inf, tr / base_train
        print(f"| {name} | {f / 1e6:.1f} | {counted:.2f}× | {inf:.0f} | {si:.2f}× | {si / counted:.2f} | {tr:.0f} | "
              f"{st:.2f}× | {st / counted:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
