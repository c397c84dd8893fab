"""rad-augmentations: the pairwise augmentation matrix of RAD Fig. 4.2(a) on PointMass-Pixels
(seed001 §3.6 / §3.7 R1): SAC with the spec "a-b" for each unordered pair of augmentations (the diagonal is
a alone), scored by the final evaluation return after a fixed env-step budget. Pairs are applied in RAD's
order (crop / translate / cutout first); "crop-translate" crops 38 → 32 then places it in a 38 canvas.
`pairs_with` limits the off-diagonal cells (the DEFAULT measures the six singles only, with 2 seeds, so that
it fits ~30 minutes at the 20k-env-step budget where pixel SAC starts to learn); a uniform-random policy's
return is measured too: the floor the claim's augmentations must beat before anything is decided.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from replab import seeding
from replab.envs import make
from replab.experiments import Experiment
from replab.experiments._health import log_probes
from replab.experiments._jobs import run_pending
from replab.experiments.continuous._config import PointMassConfig, pointmass_job
from replab.experiments.continuous._parts import train_job
from replab.rl.evaluate import random_policy_scores
from replab.track.claims import paired
from replab.track.report import Figure, Report, markdown_table, pyplot

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
    probe_every: int = 1000
    """Env steps between two health measurements of each agent's encoder (20 over the DEFAULT's 20k)."""
    eval_episodes: int = 5
    """Evaluation episodes per evaluation (Table 3.3: 10)."""
    none_arm: bool = False
    """Also train Pixel SAC without augmentation per seed (the "none" cell, rendered at `crop`), so that
    "crop vs no augmentation" is decided paired by seed here too (one more job per seed; off in the presets:
    curl-pointmass decides RAD's crop vs Pixel SAC)."""

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
                cfg, run.seed, seed, env_kwargs, key=f"{spec}/s{seed}", method="rad", spec=spec, cell=spec
            )
            jobs.append(dict(job, device=run.device))
        if cfg.none_arm:  # Pixel SAC: no augmentation, same seeds
            job = pointmass_job(
                cfg, run.seed, seed, env_kwargs, key=f"none/s{seed}", method="pixel", cell="none"
            )
            jobs.append(dict(job, device=run.device))

    def on_result(job, result):
        result["spec"] = job["cell"]
        run.log({f"eval/final_{job['cell']}": result["final"]}, job["seed_index"])
        log_probes(run, result)

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


GEOMETRIC = ("crop", "translate")


def cell_values(results: dict) -> dict[str, dict[int, float]]:
    """{cell spec ("crop", "crop-flip", "none"): {seed index: final evaluation return}}."""
    out: dict[str, dict[int, float]] = {}
    for key, r in results["done"].items():
        seed = r.get("seed", int(key.rsplit("/s", 1)[-1]))
        out.setdefault(r["spec"], {})[int(seed)] = float(r["final"])
    return out


def _best(cells: dict, specs, seeds) -> dict[int, float]:
    """Per seed, the best return among `specs` (each seed's own maximum: no selection across seeds)."""
    return {s: max(cells[c][s] for c in specs) for s in seeds}


def _seeds(cells: dict, specs) -> list[int]:
    return sorted(set.intersection(*(set(cells[c]) for c in specs)))


def report(results: dict) -> Report:
    cfg = results["config"]
    augs = cfg["augs"]
    m = float(cfg.get("min_effect", PointMassConfig.min_effect))
    n = len(augs)
    cells = cell_values(results)
    score = np.full((n, n), np.nan)
    for i, j in itertools.product(range(n), range(n)):
        a, b = augs[min(i, j)], augs[max(i, j)]
        spec = a if a == b else f"{a}-{b}"
        if spec in cells:
            score[i, j] = float(np.mean(list(cells[spec].values())))
    diag = {a: score[i, i] for i, a in enumerate(augs)}
    measured = sorted((a for a in augs if np.isfinite(diag[a])), key=lambda a: -diag[a])
    rand = results.get("random", [])
    rand_mean = float(np.mean(rand)) if rand else float("nan")
    floor = rand_mean if rand else None
    checks = []
    geo = [a for a in GEOMETRIC if a in measured]
    other = [a for a in measured if a not in GEOMETRIC]
    if geo and other:
        seeds = _seeds(cells, geo + other)
        d = paired(
            _best(cells, geo, seeds),
            _best(cells, other, seeds),
            min_effect=m,
            floor=floor,
            name=(
                f"{'the better of ' if len(geo) > 1 else ''}{' / '.join(geo)} beats the best other single augmentation "
                f"({', '.join(other)}) by > {m:g} return (each seed's own best, paired by seed)"
            ),
            key="geometric_best",
            a_label="best of " + "/".join(geo),
            b_label="best other single",
            floor_label="random policy",
            paper="RAD Fig. 4.2(a), Walker-Walk at 500k: crop is the most effective single augmentation",
        )
        checks.append(d.check(headline=True))
    if "crop" in cells and "none" in cells:
        seeds = _seeds(cells, ["crop", "none"])
        d = paired(
            {s: cells["crop"][s] for s in seeds},
            {s: cells["none"][s] for s in seeds},
            min_effect=m,
            floor=floor,
            name=f"crop beats no augmentation by > {m:g} return (paired by seed)",
            key="crop_vs_none",
            a_label="crop",
            b_label="none",
            floor_label="random policy",
        )
        checks.append(d.check(headline=False))
    pairs_run = [c for c in cells if "-" in c]
    with_geo = [c for c in pairs_run if set(c.split("-")) & set(GEOMETRIC)]
    without = [c for c in pairs_run if not set(c.split("-")) & set(GEOMETRIC)]
    if with_geo and without:
        seeds = _seeds(cells, with_geo + without)
        d = paired(
            {s: float(np.mean([cells[c][s] for c in with_geo])) for s in seeds},
            {s: float(np.mean([cells[c][s] for c in without])) for s in seeds},
            min_effect=m,
            floor=floor,
            name=(
                f"pairs with crop or translate beat pairs without either by > {m:g} return (mean over the "
                f"{len(with_geo)} and {len(without)} cells, paired by seed)"
            ),
            key="pairs_with_geometric",
            a_label="pairs with crop/translate",
            b_label="pairs without",
            floor_label="random policy",
        )
        checks.append(d.check(headline=False))

    def margin(vals: dict) -> str:
        return f"{np.mean(list(vals.values())) - rand_mean:+.1f}" if rand else "–"

    singles = [
        [
            a,
            diag[a],
            ", ".join(f"{cells[a][s]:.1f}" for s in sorted(cells[a])),
            len(cells[a]),
            margin(cells[a]),
        ]
        for a in measured
    ]
    if "none" in cells:
        none = cells["none"]
        singles.append(
            [
                "none (Pixel SAC)",
                float(np.mean(list(none.values()))),
                ", ".join(f"{none[s]:.1f}" for s in sorted(none)),
            ]
            + [len(none), margin(none)]
        )
    singles.append(["uniform-random policy", rand_mean, f"{len(rand)} episodes", "–", "–"])
    rows = [
        [a] + [score[i, j] if j >= i and np.isfinite(score[i, j]) else "" for j in range(n)]
        for i, a in enumerate(augs)
    ]
    note = (
        f"Minimum effect {m:g} return points (returns lie in [0, {cfg.get('episode_steps', 1000)}]); the "
        "floor is the uniform-random policy's mean return. Claims are decided by `track/claims.py` "
        "(paired by seed, ≥ 5 seeds: pool runs with `replab sweep rad-augmentations --seeds 5`)."
    )
    sections = [
        (
            "Single augmentations: final return (mean over seeds, per seed)",
            markdown_table(["augmentation", "mean", "per seed", "seeds", "mean − random"], singles)
            + "\n\n"
            + note,
        )
    ]
    if pairs_run:
        sections.append(
            ("Final return per pair (mean over seeds; diagonal = single)", markdown_table(["", *augs], rows))
        )
    fig = _matrix_figure(score, augs, rand_mean) if pairs_run else _singles_figure(measured, cells, rand_mean)
    return Report(
        title="rad-augmentations: pairwise augmentation matrix on PointMass-Pixels",
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
    ax.bar(x, [np.mean(list(cells[a].values())) for a in measured], color="tab:blue", alpha=0.6)
    for k, a in enumerate(measured):
        ax.plot([k] * len(cells[a]), list(cells[a].values()), "o", color="k", ms=4)
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
    probe_every=100,
    probe_batch=64,
)
# 20k env steps: where curl-pointmass's RAD agents first clear the random policy (8k learned nothing:
# docs/continuous.md); 6 singles × 2 seeds ≈ 12 × 4.4 CPU-min ≈ 27 min on 2 idle cores.
DEFAULT = Config(pairs_with=(), seeds=2, env_steps=20_000)
PAPER = Config(seeds=3, env_steps=20_000)

EXPERIMENT = Experiment(
    name="rad-augmentations",
    headline="crop or translate: RAD's most effective augmentation",
    claim=(
        "Random crop (or translate) is the most effective single augmentation for pixel SAC; pairs help "
        "mainly when they include it (RAD Fig. 4.2a, Walker-Walk at 500k steps; values only in the figure)."
    ),
    source="Srinivas thesis 2021, ch. 4, Fig. 4.2(a); seed001 §3.6–3.7 (PointMass analog)",
    check=(
        "paired by seed (track/claims.py, ≥ 5 seeds): each seed's better of crop and translate beats its best "
        "other single augmentation by > min_effect return, once it beats the uniform-random policy; further "
        "checks: pairs with crop or translate vs pairs without (full matrix), crop vs no augmentation "
        "(--none-arm)"
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
