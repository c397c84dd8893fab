"""Read attention during sampling, shared by the RIN experiments: the sampling steps nearest the recorded
reverse times, their checks, a sampler run with the reads captured, and the maps kept for the reports."""

from __future__ import annotations

import torch

from replab.diffusion import sample
from replab.experiments.diffusion._config import RINConfig
from replab.nn.rin import RIN

ATTENTION_TIMES = (1.0, 0.7, 0.4, 0.1)
"""Reverse-process times of the read-attention maps in the digits reports (A.7 run 3's times)."""
ATTENTION_SAMPLES = 4
"""Samples per model whose read-attention maps the image reports keep."""


def read_steps(steps: int, times) -> dict[int, float]:
    """{sampling step: time} for each reverse-process time in `times`, at the step nearest to it (step s of
    `steps` is at t = 1 − s/steps); two times on one step keep only the later one."""
    return {min(range(steps), key=lambda s: abs((1 - s / steps) - t)): t for t in times}


def check_times(times: tuple[float, ...], sample_steps: int) -> None:
    """Recorded reverse-process times must run from early to late (decreasing, in (0, 1]), at least two, each
    on its own sampling step (else one would be dropped and the report could not find it)."""
    if len(times) < 2 or any(not 0 < t <= 1 for t in times) or any(a <= b for a, b in zip(times, times[1:])):
        raise ValueError(f"times needs >= 2 decreasing values in (0, 1] (early to late), got {times}")
    if len(read_steps(sample_steps, times)) < len(times):
        raise ValueError(
            f"times {times} share sampling steps among the {sample_steps}; raise sample_steps or move them apart"
        )


def sample_with_reads(
    cfg: RINConfig, model: RIN, n: int, generator, times, *, self_condition: bool, y=None, context=None
):
    """n samples by Algorithm 2 with the read attention captured at the sampling steps nearest `times`:
    (samples, {t: (blocks, n, tokens)}), both on the CPU. Each read's weights are averaged over heads and
    over the learned latents (the first `cfg.num_latents` queries; time and class tokens left out)."""
    at = read_steps(cfg.sample_steps, times)
    reads: dict[float, torch.Tensor] = {}

    def on_step(step, t, x_t):
        if step in at:  # (B, heads, queries, keys) per block -> (blocks, B, keys)
            reads[at[step]] = torch.stack(
                [w[:, :, : cfg.num_latents].mean((1, 2)) for w in model.read_attention]
            ).cpu()

    model.capture_read = True
    try:
        x = sample(
            model, n, gamma=cfg.gamma(), steps=cfg.sample_steps, sampler=cfg.sampler, y=y,
            self_condition=self_condition, input_scale=cfg.input_scale, generator=generator, context=context,
            on_step=on_step,
        )  # fmt: skip
    finally:
        model.capture_read = False
    return x.cpu(), reads


def image_maps(reads: dict[float, torch.Tensor], side: int, k: int) -> dict[str, list]:
    """{str(t): (k, side, side) nested lists}: the first k samples' read attention over the image's patch
    grid, blocks averaged (JSON results for the report's maps)."""
    return {str(t): w.mean(0)[:k].view(-1, side, side).numpy().round(4).tolist() for t, w in reads.items()}
