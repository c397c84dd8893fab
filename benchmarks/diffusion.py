"""Benchmark: RIN diffusion training steps/s and DDIM sampling images/s, replab vs `rin-pytorch`, one process.

Rows (same image size, patch, widths, latents, blocks × K, heads, batch):
  * replab: `replab.nn.rin.RIN` trained by `replab.diffusion.diffusion_loss` (ε-prediction, latent
    self-conditioning rate 0.9 with a per-example coin and the bootstrap pass on the chosen examples only,
    without the last write and the readout, from one broadcast row of zero latents and with the training
    pass's input tokens), fused AdamW step (as `replab run` trains);
  * rin-pytorch (lucidrains, PyPI `rin-pytorch`): `RIN` + `GaussianDiffusion(objective="eps",
    train_prob_self_cond=0.9, min_snr_loss_weight=False)`, Adam step; its own design where it differs from
    the thesis (x self-conditioning as extra input channels, dual patch norm, MLP axial positional
    embeddings, a per-batch coin, time as one latent token here: `latent_token_time_cond=True`, patch
    self-attention off: `patches_self_attn=False`, one `dim_head` for every attention), einsum attention
    (`flash=False`, its default) and F.scaled_dot_product_attention (`flash=True`).
Both use the sigmoid schedule (rin-pytorch's cosine schedule calls math.cos on a tensor). Seconds are the
process's CPU time (`time.process_time`, robust to other jobs on a shared machine), medians over
interleaved rounds (the row order rotates each round), with the min–max of the per-round CPU ratios and
the machine's load average; the wall-clock ratio is printed beside it. Sampling: `--sample-n` images with
100 DDIM steps.

rin-pytorch imports torchvision and accelerate for its Trainer and Dataset only; neither installs beside
the CPU torch of this venv, so they are replaced by empty stand-in modules when missing (the model and
GaussianDiffusion use neither). Install it beside replab without its dependencies:

    pip install --no-deps --target build/rin-deps rin-pytorch einops ema-pytorch beartype
    python benchmarks/diffusion.py [--batch 64] [--rounds 5] [--steps 10] [--threads 1] [--sample-n 64]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import time
import types
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import torch  # noqa: E402

from replab.diffusion import diffusion_loss, make_schedule, sample  # noqa: E402
from replab.experiments.diffusion._config import adamw  # noqa: E402
from replab.nn.rin import RIN, count_parameters  # noqa: E402


def import_rin_pytorch():
    deps = _HERE.parent / "build" / "rin-deps"
    if deps.is_dir():
        sys.path.append(str(deps))
    for name in ("torchvision", "accelerate"):
        try:
            __import__(name)
        except ImportError:  # stand-ins: only rin-pytorch's Trainer and Dataset use them
            mod = types.ModuleType(name)
            mod.transforms = mod.utils = types.SimpleNamespace()
            mod.Accelerator = mod.DistributedDataParallelKwargs = object
            sys.modules[name] = mod
    try:
        import rin_pytorch
    except ImportError:
        raise SystemExit(
            "rin-pytorch is not installed: pip install --no-deps --target build/rin-deps rin-pytorch einops "
            "ema-pytorch beartype (its own pins would replace the CPU torch)"
        ) from None
    return rin_pytorch


def ours(args):
    model = RIN(
        image_size=args.image_size, channels=1, patch=args.patch, dim_x=args.dim_x, dim_z=args.dim_z,
        num_latents=args.latents, blocks=args.blocks, depth=args.depth, heads=args.heads,
    )  # fmt: skip
    opt = adamw(model.parameters(), lr=1e-3)  # what train_rin uses
    gamma = make_schedule("sigmoid")
    x = torch.rand(args.batch, 1, args.image_size, args.image_size) * 2 - 1
    gen = torch.Generator().manual_seed(0)

    def step():
        loss, _ = diffusion_loss(model, x, None, gamma=gamma, self_cond_rate=0.9, generator=gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def draw():
        sample(model.eval(), args.sample_n, gamma=gamma, steps=100, sampler="ddim", generator=gen)
        model.train()

    return model, step, draw


def theirs(args, rp, flash: bool):
    model = rp.RIN(
        dim=args.dim_x, image_size=args.image_size, patch_size=args.patch, channels=1, depth=args.blocks,
        latent_self_attn_depth=args.depth, dim_latent=args.dim_z, num_latents=args.latents,
        latent_token_time_cond=True, patches_self_attn=False, heads=args.heads,
        dim_head=args.dim_z // args.heads, flash=flash,
    )  # fmt: skip
    diffusion = rp.GaussianDiffusion(
        model, timesteps=100, use_ddim=True, noise_schedule="sigmoid", objective="eps",
        min_snr_loss_weight=False, train_prob_self_cond=0.9,
    )  # fmt: skip
    opt = torch.optim.Adam(diffusion.parameters(), lr=1e-3)
    img = torch.rand(args.batch, 1, args.image_size, args.image_size)

    def step():
        loss = diffusion(img)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def draw():
        with contextlib.redirect_stderr(io.StringIO()):  # its tqdm bar
            diffusion.sample(batch_size=args.sample_n)

    return model, step, draw


def measure(fns: dict, repeats: int, rounds: int) -> dict[str, tuple[float, float, list[float]]]:
    """Median over rounds of (CPU seconds, wall seconds) per call, and each round's CPU seconds; the rows
    interleave within each round, in an order that rotates from round to round."""
    per = {k: ([], []) for k in fns}
    for fn in fns.values():
        fn()  # warm-up
    names = list(fns)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(repeats):
                fns[name]()
            per[name][0].append((time.process_time() - c0) / repeats)
            per[name][1].append((time.perf_counter() - w0) / repeats)
    return {k: (statistics.median(c), statistics.median(w), c) for k, (c, w) in per.items()}


def spread(other: list[float], ours: list[float]) -> str:
    """The per-round CPU ratios other / ours: min–max over the rounds (each round's rows ran back to back)."""
    r = [a / b for a, b in zip(other, ours)]
    return f"{min(r):.2f}–{max(r):.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=8)
    p.add_argument("--patch", type=int, default=2)
    p.add_argument("--dim-x", type=int, default=48)
    p.add_argument("--dim-z", type=int, default=96)
    p.add_argument("--latents", type=int, default=8)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=10, help="training steps per round and row")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--sample-n", type=int, default=64, help="images per 100-step DDIM sample (0: skip)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rp = import_rin_pytorch()
    rows = {
        "replab": ours(args),
        "rin-pytorch": theirs(args, rp, False),
        "rin-pytorch flash": theirs(args, rp, True),
    }
    print(
        f"# torch {torch.__version__}, {args.threads} thread(s); {args.image_size}x{args.image_size}, patch "
        f"{args.patch}, dim X/Z {args.dim_x}/{args.dim_z}, {args.latents} latents, {args.blocks}x{args.depth}, "
        f"{args.heads} heads, batch {args.batch}; load average {load()} at the start"
    )
    train = measure({k: v[1] for k, v in rows.items()}, args.steps, args.rounds)
    base = train["replab"]
    print(
        "\n| implementation | parameters | train steps/s (CPU) | replab / this (CPU) | per round (CPU) "
        "| replab / this (wall) |"
    )
    print("|---|---|---|---|---|---|")
    for k, (c, w, cs) in train.items():
        print(
            f"| {k} | {count_parameters(rows[k][0])} | {1 / c:.2f} | {c / base[0]:.2f}x | "
            f"{spread(cs, base[2])} | {w / base[1]:.2f}x |"
        )
    if args.sample_n:
        draw = measure({k: v[2] for k, v in rows.items()}, 1, max(1, args.rounds // 2))
        base = draw["replab"]
        print(
            f"\n| implementation | images/s, 100 DDIM steps, n={args.sample_n} (CPU) | replab / this (CPU) "
            "| per round (CPU) | (wall) |"
        )
        print("|---|---|---|---|---|")
        for k, (c, w, cs) in draw.items():
            print(
                f"| {k} | {args.sample_n / c:.1f} | {c / base[0]:.2f}x | {spread(cs, base[2])} | "
                f"{w / base[1]:.2f}x |"
            )
    print(f"\n# load average {load()} at the end")


def load() -> str:
    """The 1/5/15-minute load averages (other jobs on a shared machine)."""
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
