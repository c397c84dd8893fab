"""Throughput of replab.augment against kornia, measured in the same process on the same batches.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.augment [--rounds 15] [--threads 1] [--clock cpu|wall] [--only dmc,atari]

Two settings: DMControl (batch 128 of 3 stacked RGB frames, 9×100×100 uint8, crop to 84) and Atari (batch 32
of 4 stacked grey frames, 4×84×84 uint8, crop to 80). kornia takes float input only, so each op is timed
three ways: replab on the uint8 batch, replab on float32 and kornia on float32 (the like-for-like ratio), plus
the pipeline a pixel agent runs, uint8 batch in, float32 in [0, 1] out (replab: augment the uint8 batch then
convert, RAD's order for spatial ops; kornia: convert then augment). Colour ops run on float in both
pipelines. "memcpy" is `clone()` of a tensor with the output's bytes, the memory-bandwidth limit; the
fraction is t_clone / t_op. Timings are interleaved (every op once per round, in a new random order each
round) and the median over rounds is reported, so load from other processes hits all ops alike. By default
the clock is this thread's CPU time (`time.thread_time`, user + system, page faults included): on a shared
machine it leaves out the time the process waits for a core; `--clock wall` gives elapsed time. With
`--threads 1` all of torch's work runs on the calling thread, so CPU time is the work done.
Kornia draws colour parameters per frame (it cannot share them across a stack); that is the same work.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings

import torch
from torch import nn

from replab import augment as A
from replab.errors import require_extra

CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


def _time(fn, clock, target_s: float = 0.02):
    fn()
    t0 = clock()
    fn()
    once = max(clock() - t0, 1e-6)
    return fn, max(1, int(target_s / once))


def measure(
    cases: dict[str, callable], rounds: int, clock=time.thread_time, seed: int = 0
) -> dict[str, float]:
    """Median seconds per call of each case, timed interleaved over `rounds` rounds."""
    timed = {name: _time(fn, clock) for name, fn in cases.items()}
    samples = {name: [] for name in cases}
    order = list(cases)
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            fn, n = timed[name]
            t0 = clock()
            for _ in range(n):
                fn()
            samples[name].append((clock() - t0) / n)
    return {name: statistics.median(v) for name, v in samples.items()}


def ops(K, frames: int, size: int, hw: int):
    """(name, replab fn(x, g), kornia module or None, spatial?) for each op."""
    # RAD's op list; kornia's closest equivalent, with RAD's probabilities where kornia has them.
    box = (4 * 4 / hw**2, 24 * 24 / hw**2)
    return [
        (
            "crop",
            lambda x, g: A.random_crop(x, size, generator=g, frames=frames),
            K.RandomCrop((size, size)),
            True,
        ),
        (
            "shift (pad 4)",
            lambda x, g: A.random_shift(x, 4, generator=g, frames=frames),
            nn.Sequential(nn.ReplicationPad2d(4), K.RandomCrop((hw, hw))),  # DrQ's exact module
            True,
        ),
        (
            "flip",
            lambda x, g: A.random_flip(x, generator=g, frames=frames),
            K.RandomHorizontalFlip(p=0.5),
            True,
        ),
        (
            "rotate",
            lambda x, g: A.random_rotate(x, generator=g, frames=frames),
            K.RandomRotation90(times=(1, 3), p=0.3),
            True,
        ),
        (
            "cutout",
            lambda x, g: A.random_cutout(x, generator=g, frames=frames),
            K.RandomErasing(scale=box, ratio=(1 / 6, 6.0), p=1.0),
            True,
        ),
        (
            "grayscale",
            lambda x, g: A.random_grayscale(x, generator=g, frames=frames),
            K.RandomGrayscale(p=0.3),
            False,
        ),
        (
            "color jitter",
            lambda x, g: A.color_jitter(x, generator=g, frames=frames),
            K.ColorJitter(0.4, 0.4, 0.4, 0.5, p=1.0),
            False,
        ),
        (
            "translate (+8)",
            lambda x, g: A.random_translate(x, hw + 8, generator=g, frames=frames),
            None,
            True,
        ),
        ("window", lambda x, g: A.random_window(x, size, generator=g, frames=frames), None, True),
        ("cutout color", lambda x, g: A.random_cutout_color(x, generator=g, frames=frames), None, True),
        ("random conv", lambda x, g: A.random_conv(x, generator=g, frames=frames), None, False),
    ]


def _cases(fn, kmod, spatial, rgb, x8, xf, g, hw):
    out_f = fn(xf, g).clone()
    cases = {"replab f32": lambda: fn(xf, g), "memcpy f32": lambda: out_f.clone()}
    try:
        out_8 = fn(x8, g).clone()
    except ValueError:  # float-only op (random conv)
        out_8 = None
    if out_8 is not None:
        cases["replab u8"] = lambda: fn(x8, g)
        cases["memcpy u8"] = lambda: out_8.clone()
    if kmod is not None:
        # kornia sees RGB frames as its batch, (B·T, 3, H, W), for the colour ops; the stacked batch otherwise.
        shape = (-1, 3, hw, hw) if rgb else xf.shape
        kx = xf.reshape(shape)
        cases["kornia f32"] = lambda: kmod(kx)
        cases["kornia pipe"] = lambda: kmod(x8.float().div_(255).reshape(shape))
        if spatial:
            cases["replab pipe"] = lambda: fn(x8, g).float().div_(255)
        else:
            cases["replab pipe"] = lambda: fn(x8.float().div_(255), g)
    return cases


def run_setting(K, name, batch, channels, frames, hw, size, rounds, clock):
    torch.manual_seed(0)
    x8 = torch.randint(0, 256, (batch, channels * frames, hw, hw), dtype=torch.uint8)
    xf = x8.float() / 255
    g = torch.Generator().manual_seed(0)
    rows = []
    for op, fn, kmod, spatial in ops(K, frames, size, hw):
        rgb = op in ("grayscale", "color jitter")
        if rgb and channels != 3:
            continue
        cases = _cases(fn, kmod, spatial, rgb, x8, xf, g, hw)
        t = measure(cases, rounds, clock)
        rows.append((name, op, batch, t))
        print(_line(name, op, batch, t), flush=True)
    return rows


def _fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def _line(setting, op, batch, t):
    u8, f32, k = t.get("replab u8"), t["replab f32"], t.get("kornia f32")
    ratio = None if k is None else k / f32
    pipe = None if k is None else t["kornia pipe"] / t["replab pipe"]
    cells = [
        setting,
        op,
        _fmt(None if u8 is None else 1e3 * u8),
        _fmt(1e3 * f32),
        _fmt(None if k is None else 1e3 * k),
        _fmt(None if u8 is None else batch / u8 / 1e3, 1),
        _fmt(batch / f32 / 1e3, 1),
        _fmt(None if k is None else batch / k / 1e3, 1),
        _fmt(ratio) + ("×" if ratio else ""),
        _fmt(pipe) + ("×" if pipe else ""),
        _fmt(None if u8 is None else t["memcpy u8"] / u8),
        _fmt(t["memcpy f32"] / f32),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| setting | op | replab u8 ms | replab f32 ms | kornia f32 ms | replab u8 k/s | replab f32 k/s | "
    "kornia f32 k/s | f32 speed-up vs kornia | u8→f32 pipeline speed-up | u8 / memcpy | f32 / memcpy |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--rounds", type=int, default=15, help="interleaved timing rounds (median reported)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu: this thread's CPU time (robust on a shared machine: excludes time spent waiting for a core); "
        "wall: elapsed time",
    )
    parser.add_argument("--only", default="", help="comma-separated settings to run: dmc, atari")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    kornia = require_extra("kornia", "bench")
    K = kornia.augmentation
    print(
        f"torch {torch.__version__}, kornia {kornia.__version__}, threads {args.threads}, rounds {args.rounds}"
    )
    print("k/s = thousand samples per second; speed-up = kornia time / replab time\n")
    print(HEADER)
    settings = {
        "dmc": ("DMC 128×9×100², crop 84", 128, 3, 3, 100, 84),
        "atari": ("Atari 32×4×84², crop 80", 32, 1, 4, 84, 80),
    }
    chosen = [s for s in args.only.split(",") if s] or list(settings)
    for key in chosen:
        run_setting(K, *settings[key], args.rounds, CLOCKS[args.clock])


if __name__ == "__main__":
    main()
