"""What the RIN experiments share: the model, optimiser, schedule and sampling settings (with their checks),
and one training unit (a RIN trained by Algorithm 1 with an EMA, logged under its key, the bar advanced)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from replab import seeding
from replab.diffusion import EMA, diffusion_loss, make_schedule, noisy, sample
from replab.diffusion.sampling import SAMPLERS
from replab.diffusion.schedules import SCHEDULES
from replab.nn.rin import RIN, LatentView, count_parameters
from replab.probe.health import HealthConfig, health_monitor


@dataclass
class RINConfig(HealthConfig):
    probe_every: int = 250
    """Training steps between two health measurements of the RIN's latents (issue 20; per model)."""
    seeds: int = 1
    """Seeds in this run (each trains every model); `replab sweep --seeds 5` pools single-seed runs."""
    image_size: int = 8
    """Image side in pixels (digits: 8 native, 16 upsampled; seed003 A.7)."""
    patch: int = 2
    """Patch side: tokens |X| = (image_size / patch)² (A.7: 2 → 16 tokens on 8×8)."""
    dim_x: int = 48
    """Interface width dim(X) (A.7: 48; Table 2.1: 512)."""
    dim_z: int = 96
    """Latent width dim(Z) (A.7: 96; Table 2.1: 768–1024)."""
    num_latents: int = 8
    """|Z|, learned latent slots (A.7: 8; Table 2.1: 128–256)."""
    blocks: int = 2
    """RIN blocks (A.7: 2; Table 2.1: 6)."""
    depth: int = 2
    """K, compute layers per block (A.7: 2; Table 2.1: 4–8)."""
    heads: int = 4
    """Attention heads (A.7: 4; the thesis: 16)."""
    kv_norm: bool = False
    """LayerNorm the K/V side of reads and writes (seed003 A.3.2 [ASSUMP]; False: Alg. 3's raw inputs)."""
    schedule: str = "cosine"
    """Training noise schedule: cosine (the thesis's default), sigmoid or linear (A.2.4)."""
    sigmoid_tau: float = 0.9
    """τ of the sigmoid schedule (App. 2.6.2: 0.9), start −3, end 3."""
    input_scale: float = 1.0
    """Input scaling factor b (A.2.1; 1: none; the thesis uses b < 1 only at ≥ 256 px)."""
    steps: int = 2500
    """Training steps of the rate-0.9 model (A.7: ~2500)."""
    batch: int = 64
    """Batch size (A.7 measured batch 128; Table 2.5: 1024)."""
    lr: float = 1e-3
    """Peak learning rate (A.4 [ASSUMP] 1e-3; AdamW as in A.7, the thesis uses LAMB)."""
    weight_decay: float = 0.01
    """AdamW weight decay (Table 2.5: 0.001–0.01)."""
    beta2: float = 0.999
    """Adam β2 (Table 2.5: 0.999)."""
    warmup: int = 100
    """Linear warm-up steps before the cosine decay to 0 (A.7: 100)."""
    ema_decay: float = 0.999
    """EMA β of the evaluated weights (A.7: 0.999 for short runs; Table 2.5: 0.9999)."""
    ema_warmup: bool = False
    """β_n = min(β, (1 + n)/(10 + n)) [ASSUMP]; False: the thesis's constant β."""
    sampler: str = "ddpm"
    """Sampler of the evaluated samples: ddpm or ddim (Alg. 5; the thesis evaluates with DDPM)."""
    sample_steps: int = 100
    """Reverse steps (A.7: 100 DDPM steps; the thesis: 1000)."""
    n_samples: int = 1000
    """Samples per model for the metrics (A.7: 1000)."""
    classifier_steps: int = 600
    """Training steps of the feature classifier (A.7: an MLP 64-256-64-10, ~97% test accuracy)."""

    def __post_init__(self):
        for name in ("seeds", "image_size", "patch", "dim_x", "dim_z", "num_latents", "blocks", "depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("heads", "steps", "batch", "sample_steps", "classifier_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.image_size < 8:
            raise ValueError(
                f"image_size must be >= 8 (digits are 8×8, sprites at least 8×8), got {self.image_size}"
            )
        if self.n_samples < 10:
            raise ValueError(f"n_samples must be >= 10, got {self.n_samples}")
        if self.image_size % self.patch:
            raise ValueError(f"patch must divide image_size {self.image_size}, got {self.patch}")
        if self.dim_x % self.heads or self.dim_z % self.heads:
            raise ValueError(f"heads must divide dim_x {self.dim_x} and dim_z {self.dim_z}, got {self.heads}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got '{self.schedule}'")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got '{self.sampler}'")
        if not self.sigmoid_tau > 0 or not 0 < self.input_scale <= 1:
            raise ValueError(
                f"need sigmoid_tau > 0 and input_scale in (0, 1], got {self.sigmoid_tau}, {self.input_scale}"
            )
        if not self.lr > 0 or self.weight_decay < 0 or not 0 < self.beta2 < 1 or self.warmup < 0:
            raise ValueError(
                f"need lr > 0, weight_decay >= 0, beta2 in (0, 1), warmup >= 0; got {self.lr}, "
                f"{self.weight_decay}, {self.beta2}, {self.warmup}"
            )
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        super().__post_init__()

    def gamma(self):
        return make_schedule(self.schedule, tau=self.sigmoid_tau)

    def model(
        self,
        channels: int,
        num_classes: int,
        *,
        blocks: int | None = None,
        depth: int | None = None,
        mlp_ratio: float = 4.0,
    ):
        return RIN(
            image_size=self.image_size,
            channels=channels,
            patch=self.patch,
            dim_x=self.dim_x,
            dim_z=self.dim_z,
            num_latents=self.num_latents,
            blocks=blocks or self.blocks,
            depth=depth or self.depth,
            heads=self.heads,
            num_classes=num_classes,
            kv_norm=self.kv_norm,
            mlp_ratio=mlp_ratio,
        )


def adamw(params, **kw) -> torch.optim.AdamW:
    """AdamW with the fused kernel where this torch has it (CPU since torch 2.4), else the default."""
    params = list(params)
    try:
        return torch.optim.AdamW(params, fused=True, **kw)
    except (RuntimeError, ValueError):
        return torch.optim.AdamW(params, **kw)


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to 0 (A.7; Table 2.5: cosine)."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def train_rin(
    cfg: RINConfig,
    run,
    key: str,
    model: RIN,
    x,
    y,
    *,
    rate: float,
    steps: int,
    bar,
    shown: dict,
    context_frames=0,
    monitor=None,
):
    """Train `model` on images x (N, C, H, W) in [−1, 1] with labels y (None: unconditional) by Algorithm 1
    at self-conditioning `rate` for `steps` steps; batches and noise from the run's `train/<key>` stream.
    Videos x (N, T, C, H, W) with `context_frames` k: the first k frames clean, the loss on the rest (A.2.6).
    `monitor`: a representation-health Monitor (`replab.probe`) stepped after every update with the step
    count, e.g. one carrying interventions; None builds the latents' Monitor from the config
    (`latent_monitor`). Logs `loss/<key>/eps_mse` and `perf/<key>/seconds_per_step`; returns (EMA model,
    info)."""
    import time

    model.to(run.device)
    gamma = cfg.gamma()
    opt = adamw(model.parameters(), lr=cfg.lr, betas=(0.9, cfg.beta2), weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps, cfg.warmup))
    ema = EMA(model, cfg.ema_decay, warmup=cfg.ema_warmup)
    gen = run.generator(f"train/{key}", run.device)
    x, y = x.to(run.device), None if y is None else y.to(run.device)
    if monitor is None:
        monitor = latent_monitor(cfg, run, key, model, x, y, rate, context_frames)
    net = run.compiled(model)  # `--compile`: the same parameters, a compiled forward (and backward)
    start, losses, diverged = time.process_time(), [], False
    for step in range(steps):
        idx = torch.randint(0, x.shape[0], (cfg.batch,), generator=gen, device=run.device)
        loss, metrics = diffusion_loss(
            net,
            x[idx],
            None if y is None else y[idx],
            gamma=gamma,
            self_cond_rate=rate,
            input_scale=cfg.input_scale,
            generator=gen,
            context_frames=context_frames,
        )
        if not torch.isfinite(loss):
            diverged = True
            bar.advance(steps - step)
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        ema.update(model)
        monitor.step(step + 1)
        losses.append(metrics["loss/eps_mse"])
        if step % 10 == 0 or step == steps - 1:
            run.log({f"loss/{key}/eps_mse": losses[-1]}, step)
        bar.advance(1, **shown, loss=losses[-1])
    seconds = (time.process_time() - start) / max(1, len(losses))
    run.log({f"perf/{key}/cpu_seconds_per_step": seconds}, steps)
    tail = losses[-max(1, len(losses) // 10) :]
    info = {
        "steps": len(losses),
        "final_loss": float(sum(tail) / len(tail)) if tail else float("nan"),
        "cpu_seconds_per_step": seconds,
        "parameters": count_parameters(model),
        "diverged": diverged,
        "rate": rate,
    }
    return ema.model, info


def latent_monitor(cfg: RINConfig, run, key: str, model: RIN, x, y, rate: float, context_frames: int = 0):
    """The health Monitor of the RIN's latents (issue 20): probes of the latents after the last block
    (`nn.rin.LatentView`, one row per latent token) on a fixed batch of the run's training images noised at
    t ~ U(0, 1), with their labels, all drawn from the run's `probe/<key>` stream (not the global one);
    videos keep their first `context_frames` clean, as in training (A.2.6).
    The arm is `<model>/s<seed>`, so the panel averages seeds."""
    gen = run.generator(f"probe/{key}", run.device)
    n = min(cfg.probe_batch, x.shape[0])
    idx = torch.randperm(x.shape[0], generator=gen, device=run.device)[:n]
    t = torch.rand(n, generator=gen, device=run.device)
    eps = torch.randn(x[idx].shape, generator=gen, device=run.device)
    x_t = noisy(x[idx], eps, cfg.gamma()(t).view(n, *[1] * (x.ndim - 1)), cfg.input_scale)
    if context_frames:
        x_t[:, :context_frames] = x[idx][:, :context_frames]
    view = LatentView(model, t, None if y is None else y[idx], self_condition=rate > 0)
    label, seed = key.rsplit("/", 1)
    return health_monitor(
        cfg, view, x_t, run.log, arm=f"{label}/s{seed}", seed=seeding.derive_seed(run.seed, key)
    )


def draw_samples(
    cfg: RINConfig,
    run,
    key: str,
    model: RIN,
    labels,
    *,
    self_condition: bool,
    chunk: int = 500,
    bar=None,
    shown: dict | None = None,
):
    """cfg.n_samples class-conditional samples for `labels` (n,), drawn in chunks from the `sample/<key>`
    stream with the EMA model, with the latents carried over iff `self_condition` (A.8). With a progress
    `bar`, its line shows the sampling (chunk and reverse step) beside `shown`."""
    gen = run.generator(f"sample/{key}", run.device)
    out = []
    for i in range(0, len(labels), chunk):
        lab = labels[i : i + chunk].to(run.device)
        where = f"{i + len(lab)}/{len(labels)}"
        out.append(
            sample(
                model,
                len(lab),
                gamma=cfg.gamma(),
                steps=cfg.sample_steps,
                sampler=cfg.sampler,
                y=lab,
                self_condition=self_condition,
                input_scale=cfg.input_scale,
                generator=gen,
                device=run.device,
                on_step=None
                if bar is None
                else _sampling_progress(bar, shown or {}, where, cfg.sample_steps),
            ).cpu()
        )
    return torch.cat(out)


def _sampling_progress(bar, shown: dict, where: str, steps: int):
    """An `on_step` showing the reverse step of the chunk `where` on the progress line, every 10 steps."""

    def on_step(step, t, x_t):
        if step % 10 == 0 or step == steps - 1:
            bar.advance(0, **shown, sampling=f"{where} step {step + 1}/{steps}")

    return on_step


def unit_seed(run, name: str) -> None:
    """Seed torch's global generator for a model's initialisation (RIN draws with the global generator)."""
    torch.manual_seed(seeding.derive_seed(run.seed, name))
