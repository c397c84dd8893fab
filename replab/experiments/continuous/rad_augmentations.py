"""rad-augmentations: the pairwise augmentation matrix of RAD Fig. 4.2(a) on PointMass-Pixels
(seed001 §3.6 / §3.7 R1): SAC with the spec "a-b" for each unordered pair of augmentations (the diagonal is
a alone), scored by the final evaluation return after a fixed env-step budget. Pairs are applied in RAD's
order (crop / translate / cutout first); "crop-translate" crops 38 → 32 then places it in a 38 canvas.
`pairs_with` limits the off-diagonal cells (the DEFAULT measures the six singles only, with 2 seeds, so that
it fits ~30 minutes at the 20k-env-step budget where pixel SAC starts to learn); a uniform-random policy's
return is measured too, so the report can say whether any augmentation learned at all.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from replab import seeding
from replab.envs import make
from replab.experiments import Experiment
from replab.experiments._jobs import run_pending
from replab.experiments.continuous._config import PointMassConfig, pointmass_job
from replab.experiments.continuous._parts import train_job
from replab.rl.evaluate import random_policy_scores
from replab.track.report import Check, Figure, Report, markdown_table, pyplot

AUGS = ("crop", "translate", "cutout_color", "rand_conv", "color_jitter", "flip")


@dataclass
class Config(PointMassConfig):
    augs: tuple[str, ...] = AUGS
    """The augmentations of the matrix (RAD Fig. 4.2a uses DMC's; these six fit PointMass)."""
    pairs_with: tuple[str, ...] = AUGS
    """Off-diagonal cells: the pairs with at least one member here (all of `augs` = the full matrix, none =
    the singles only)."""
    seeds: int = 1
    """Seeds per cell."""
    random_episodes: int = 20
    """Episodes of the uniform-random policy (the reference a learned agent must beat)."""
    env_steps: int = 8000
    """Env steps per job."""
    eval_episodes: int = 5
    """Evaluation episodes per evaluation (Table 3.3: 10)."""

    def __post_init__(self):
        if len(self.augs) < 2 or len(set(self.augs)) != len(self.augs):
            raise ValueError(f"augs must name >= 2 distinct augmentations, got {self.augs}")
        if unknown := set(self.pairs_with) - set(self.augs) - set(AUGS):
            raise ValueError(
                f"pairs_with names unknown augmentations {sorted(unknown)}; use names from {AUGS}"
            )
        for name in ("seeds", "random_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        super().__post_init__()


def pairs(augs, pairs_with=None) -> list[tuple[str, str]]:
    """The diagonal (a, a) for every augmentation, then the unordered pairs with a member in `pairs_with`
    (None: all pairs)."""
    off = [
        (a, b) for a, b in itertools.combinations(augs, 2) if pairs_with is None or {a, b} & set(pairs_with)
    ]
    return [(a, a) for a in augs] + off


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    env_kwargs = dict(
        action_repeat=cfg.action_repeat, frame_stack=cfg.frame_stack, episode_steps=cfg.episode_steps
    )
    if "random" not in state:
        seed = seeding.derive_seed(run.seed, "random") % 2**31
        state["random"] = random_policy_scores(
            make("pointmass", **env_kwargs, obs_type="state"), cfg.random_episodes, seed
        )
        run.save_checkpoint(state)
    jobs = []
    for seed in range(cfg.seeds):
        for a, b in pairs(cfg.augs, cfg.pairs_with):
            spec = a if a == b else f"{a}-{b}"
            job = pointmass_job(
                cfg, run.seed, seed, env_kwargs, key=f"{spec}/s{seed}", method="rad", spec=spec
            )
            jobs.append(dict(job, device=run.device))

    def on_result(job, result):
        result["spec"] = job["spec"]
        run.log({f"eval/final_{job['spec']}": result["final"]}, job["seed_index"])

    run_pending(
        run,
        state,
        jobs,
        train_job,
        workers=cfg.workers,
        description="rad-augmentations jobs",
        on_result=on_result,
    )
    return {"config": cfg.__dict__ | {"augs": list(cfg.augs), "pairs_with": list(cfg.pairs_with)}, **state}


def report(results: dict) -> Report:
    augs = results["config"]["augs"]
    n = len(augs)
    score, cells = np.full((n, n), np.nan), {}
    for i, j in itertools.product(range(n), range(n)):
        a, b = augs[min(i, j)], augs[max(i, j)]
        spec = a if a == b else f"{a}-{b}"
        vals = [r["final"] for r in results["done"].values() if r["spec"] == spec]
        if vals:
            score[i, j], cells[spec] = float(np.mean(vals)), vals
    diag = {a: score[i, i] for i, a in enumerate(augs)}
    measured = sorted((a for a in augs if np.isfinite(diag[a])), key=lambda a: -diag[a])
    rand = results.get("random", [])
    rand_mean = float(np.mean(rand)) if rand else float("nan")
    checks = []
    if measured:
        best = measured[0]
        checks.append(
            Check(
                "an augmentation learned: the best single beats the uniform-random policy (else the matrix is "
                "uninformative)",
                bool(diag[best] > rand_mean),
                f"best single {best} {diag[best]:.1f} vs random {rand_mean:.1f} ({len(rand)} episodes)",
            )
        )
        checks.append(
            Check(
                "crop or translate is the best single augmentation",
                best in ("crop", "translate"),
                f"best single: {best} (per seed: {', '.join(f'{v:.1f}' for v in cells[best])}); "
                + ", ".join(f"{a} {diag[a]:.1f}" for a in measured),
            )
        )
    singles = [[a, diag[a], ", ".join(f"{v:.1f}" for v in cells[a]), len(cells[a])] for a in measured] + [
        ["uniform-random policy", rand_mean, f"{len(rand)} episodes", "–"]
    ]
    rows = [
        [a] + [score[i, j] if j >= i and np.isfinite(score[i, j]) else "" for j in range(n)]
        for i, a in enumerate(augs)
    ]
    pairs_run = len(cells) > len(measured)
    sections = [
        (
            "Single augmentations: final return (mean over seeds, per seed)",
            markdown_table(["augmentation", "mean", "per seed", "seeds"], singles),
        )
    ]
    if pairs_run:
        sections.append(
            ("Final return per pair (mean over seeds; diagonal = single)", markdown_table(["", *augs], rows))
        )
    fig = _matrix_figure(score, augs, rand_mean) if pairs_run else _singles_figure(measured, cells, rand_mean)
    return Report(
        title="rad-augmentations: pairwise augmentation matrix on PointMass-Pixels",
        claim=EXPERIMENT.claim,
        source=EXPERIMENT.source,
        checks=checks,
        sections=sections,
        figures=[
            Figure(
                "matrix" if pairs_run else "singles",
                fig,
                "Final evaluation return of SAC with each pair of augmentations."
                if pairs_run
                else "Final evaluation return of SAC with each single augmentation: bars are means, dots seeds.",
            )
        ],
        summary={f"single/{a}": float(diag[a]) for a in measured} | {"random": rand_mean},
    )


def _matrix_figure(score, augs, rand_mean):
    n = len(augs)
    fig, ax = pyplot().subplots(figsize=(6, 5))
    im = ax.imshow(score, cmap="viridis")
    ax.set_xticks(range(n), augs, rotation=45, ha="right")
    ax.set_yticks(range(n), augs)
    for i, j in itertools.product(range(n), range(n)):
        if np.isfinite(score[i, j]):
            ax.text(j, i, f"{score[i, j]:.0f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, label="final evaluation return (blank: not run)")
    ax.set_title(f"PointMass-Pixels: SAC with augmentation pairs (random policy: {rand_mean:.0f})")
    return fig


def _singles_figure(measured, cells, rand_mean):
    fig, ax = pyplot().subplots(figsize=(6, 4))
    x = np.arange(len(measured))
    ax.bar(x, [np.mean(cells[a]) for a in measured], color="tab:blue", alpha=0.6)
    for k, a in enumerate(measured):
        ax.plot([k] * len(cells[a]), cells[a], "o", color="k", ms=4)
    ax.axhline(rand_mean, color="tab:red", ls="--", label=f"uniform-random policy ({rand_mean:.0f})")
    ax.set_xticks(x, measured, rotation=30, ha="right")
    ax.set_ylabel("final evaluation return")
    ax.set_title("PointMass-Pixels: SAC with single augmentations")
    ax.legend()
    return fig


SMOKE = Config(
    augs=("crop", "flip"),
    env_steps=500,
    eval_episodes=1,
    episode_steps=200,
    size=20,
    crop=16,
    init_steps=100,
    batch_size=16,
    replay_capacity=1000,
    sac=dict(hidden=32, num_layers=2, num_filters=8, feature_dim=16, lr=1e-3),
    workers=1,
)
# 20k env steps: where curl-pointmass's RAD agents first clear the random policy (8k learned nothing:
# docs/continuous.md); 6 singles × 2 seeds ≈ 12 × 4.4 CPU-min ≈ 27 min on 2 idle cores.
DEFAULT = Config(pairs_with=(), seeds=2, env_steps=20_000)
PAPER = Config(seeds=3, env_steps=20_000)

EXPERIMENT = Experiment(
    name="rad-augmentations",
    headline="crop is RAD's most effective augmentation",
    claim=(
        "Random crop (or translate) is the most effective single augmentation for pixel SAC; pairs help "
        "mainly when they include it (RAD Fig. 4.2a, Walker-Walk at 500k steps; values only in the figure)."
    ),
    source="Srinivas thesis 2021, ch. 4, Fig. 4.2(a); seed001 §3.6–3.7 (PointMass analog)",
    check="the diagonal (single augmentations) of the matrix has its maximum at crop or translate",
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
