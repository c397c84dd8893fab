"""atari-curricula: ALE game modes and difficulties as factors of variation, analysed with factorial ANOVA
(Rusu, Flennerhag, Rao, Pascanu, Hadsell 2022, reduced plan seed002 §8.5).

Part A (real ALE factors, fixed policies): every (mode, difficulty) of Freeway and Space Invaders, `ale_episodes`
episodes each of a uniform random policy and a fixed heuristic (Freeway: always UP; Space Invaders: FIRE with a
random move), capped at `ale_max_frames` emulator frames; a two-way ANOVA mode × difficulty per game and
policy (the mapping-free design of §8.2: the mode→factor mapping of the manuals was not recovered).

Part B (learning and transfer on MinAtar factorial variants, `replab.envs.minatar_variants`): a DQN trained
from scratch on each of the 2^k variants (`scratch_steps`); the default game's expert evaluated zero-shot on
every variant; and the expert finetuned for `finetune_steps` on each other variant, against the scratch
agent's score at the same step (transfer). ANOVA of (a) scratch scores, (b) zero-shot scores, (c) transfer,
with seeds as replicates. A job per (variant, seed); the default variant's job also runs the zero-shot
evaluations and the finetuning (so the expert's weights never leave its process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from replab import seeding
from replab.envs.minatar_variants import FACTORS, factorial, make_variant
from replab.experiments import Experiment
from replab.experiments._health import health_fields, job_monitor, log_probes
from replab.experiments._jobs import run_pending
from replab.experiments.discrete._atari_curricula_report import report
from replab.probe.health import HealthConfig
from replab.probe.monitor import ProbeLog
from replab.rl.buffers import FrameReplay
from replab.rl.evaluate import evaluate, random_policy_scores
from replab.rl.loop import train
from replab.rl.rainbow import DQN, dqn_config

ALE_GAMES = {"freeway": "Freeway", "space_invaders": "SpaceInvaders", "breakout": "Breakout"}
HEURISTICS = {
    "freeway": ("UP",),
    "space_invaders": ("FIRE", "RIGHTFIRE", "LEFTFIRE"),
    "breakout": ("FIRE", "RIGHT", "LEFT"),
}
"""The fixed heuristic of §8.5 Part A: a uniform choice among these ALE actions (Freeway: always UP)."""


@dataclass
class Config(HealthConfig):
    probe_every: int = 5_000
    """Agent steps between two health measurements of the DQN's encoder (Part B)."""
    ale_games: tuple[str, ...] = ("freeway", "space_invaders")
    """Part A games (every mode × difficulty ALE exposes: Freeway 8 × 2, Space Invaders 16 × 2, Breakout 12 × 2;
    the three games of the abstract)."""
    ale_episodes: int = 4
    """Episodes per (mode, difficulty, policy): the ANOVA's replicates (§8.5: 8) [P: 4 for time]."""
    ale_max_frames: int = 5_000
    """Emulator frames per Part A episode (§8.5)."""
    ale_modes: int = 0
    """0: every mode of each game; n: its first n modes (a quick look; the smoke test)."""
    game: str = "space_invaders"
    """Part B MinAtar game; its factors are `replab.envs.minatar_variants.FACTORS[game]` (2³ for Space Invaders)."""
    seeds: int = 2
    """Seeds per variant (the ANOVA's replicates in one run; §8.5: 3)."""
    scratch_steps: int = 30_000
    """Agent steps of each from-scratch run (§8.5: 60k) [P: 30k keeps DEFAULT near 15 min]."""
    finetune_steps: int = 10_000
    """Agent steps of finetuning the default expert on each variant (§8.5: 20k) [P]."""
    learn_start: int = 1_000
    update_every: int = 4
    hidden: int = 128
    lr: float = 2.5e-4
    batch_size: int = 32
    replay_capacity: int = 100_000
    target_update: int = 1_000
    epsilon_decay: int = 10_000
    finetune_epsilon: float = 0.1
    """ε at the start of finetuning, decaying to 0.01 over `finetune_steps` / 5 steps (the expert already
    acts well; a fresh ε = 1 would discard it) [P]."""
    sticky_action_prob: float = 0.1
    eval_episodes: int = 8
    eval_epsilon: float = 0.05
    eval_max_episode_steps: int = 2_500
    alpha: float = 0.05
    """Significance level of the ANOVA checks (Bonferroni over the terms of one order)."""
    main_effect: float = 0.1
    """`main/<factor>`: the default level's scratch score exceeds the harder level's by at least this on
    log(1 + score) (≈ 10%), paired by seed, after beating the random policy (registered 2026-12-05 before any
    run). Level 1 of every Space Invaders factor makes the game harder (faster enemy shots, faster aliens,
    slower own fire), so the registered direction is 'level 0 scores higher'."""
    interaction: tuple[str, str] = ("enemy_shot_interval", "shot_cool_down")
    """`interaction`: the registered interaction, decided on the per-seed contrast
    y₁₁ − y₁₀ − y₀₁ + y₀₀ of log(1 + score) (averaged over the other factors) > `interaction_effect`:
    two difficulties compound less than multiplicatively when scores approach the floor (registered
    2026-12-05 before any run)."""
    interaction_effect: float = 0.0
    zero_shot_gain: float = 0.1
    """`zero_shot`: the default expert's zero-shot score on the other variants beats the random policy's by
    at least this on log(1 + score), paired by (seed, variant) (registered 2026-12-05 before any run)."""
    transfer_gain: float = 0.0
    """`transfer`: finetuned score above the scratch agent's at the same step on log(1 + score), paired by
    (seed, variant); 0: any improvement, ties are not wins (registered 2026-12-05 before any run)."""
    workers: int = 2

    def __post_init__(self):
        super().__post_init__()
        if any(g not in ALE_GAMES for g in self.ale_games):
            raise ValueError(f"ale_games must be a subset of {list(ALE_GAMES)}, got {self.ale_games}")
        if self.game not in FACTORS:
            raise ValueError(f"game must be one of {list(FACTORS)} (a factorial design), got {self.game!r}")
        if (
            self.game != "space_invaders"
        ):  # `main_effect`'s direction (level 1 harder) is registered for it only
            raise ValueError(
                f"game {self.game!r}: the main-effect directions are registered for space_invaders only (level 1 "
                "of each factor harder); register a direction per factor for another game before deciding on it"
            )
        if self.ale_modes < 0:
            raise ValueError(f"ale_modes must be >= 0 (0: all), got {self.ale_modes}")
        for name in ("ale_episodes", "ale_max_frames", "seeds", "scratch_steps", "finetune_steps", "update_every",
                     "hidden", "batch_size", "target_update", "epsilon_decay", "eval_episodes", "workers"):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.learn_start < min(self.scratch_steps, self.finetune_steps):
            raise ValueError(
                f"need 0 <= learn_start < scratch_steps and finetune_steps, got {self.learn_start}"
            )
        if self.scratch_steps % self.finetune_steps:
            raise ValueError(
                f"finetune_steps ({self.finetune_steps}) must divide scratch_steps ({self.scratch_steps}): the "
                "scratch agent is evaluated every finetune_steps, its score there is transfer's baseline"
            )
        if not 0 < self.alpha < 1 or not 0 <= self.finetune_epsilon <= 1:
            raise ValueError(
                f"need 0 < alpha < 1 and 0 <= finetune_epsilon <= 1, got {self.alpha}, {self.finetune_epsilon}"
            )
        if any(f not in FACTORS[self.game] for f in self.interaction) or len(set(self.interaction)) != 2:
            raise ValueError(
                f"interaction must name two factors of {list(FACTORS[self.game])}, got {self.interaction}"
            )


# -- Part A: fixed policies on real ALE modes and difficulties ------------------------------------------------
def ale_job(job: dict) -> dict:
    """Scores of `job["policy"]` on every (mode, difficulty) of one ALE game, `ale_episodes` episodes each."""
    from replab.envs.atari import AtariEnv

    rows = []
    start = time.perf_counter()
    rng = np.random.default_rng(job["seed"])
    probe = AtariEnv(ALE_GAMES[job["game"]], frame_skip=4, screen_size=10)
    modes, diffs = (
        [int(m) for m in probe.ale.getAvailableModes()],
        [int(d) for d in probe.ale.getAvailableDifficulties()],
    )
    modes = modes[: job["ale_modes"]] if job["ale_modes"] else modes
    for mode in modes:
        for diff in diffs:
            env = AtariEnv(ALE_GAMES[job["game"]], frame_skip=4, screen_size=10, max_frames=job["ale_max_frames"],
                           mode=mode, difficulty=diff)  # fmt: skip
            names = [a.name for a in env._actions]  # ale_py.Action members of the minimal action set
            good = [names.index(a) for a in HEURISTICS[job["game"]]]
            for e in range(job["ale_episodes"]):
                # seeded once per cell (a seeded reset reloads the ROM, 0.2 s); later episodes continue its RNG
                env.reset(seed=int(rng.integers(2**31 - 1))) if e == 0 else env.reset()
                done, info = False, {}
                while not done:
                    a = (
                        int(rng.integers(len(names)))
                        if job["policy"] == "random"
                        else good[int(rng.integers(len(good)))]
                    )
                    _, _, term, trunc, info = env.step(a)
                    done = term or trunc
                rows.append(
                    {"mode": mode, "difficulty": diff, "episode": e, "score": float(info["episode_score"])}
                )
    return {"part": "ale", "game": job["game"], "policy": job["policy"], "rows": rows,
            "seconds": time.perf_counter() - start}  # fmt: skip


# -- Part B: DQN on MinAtar factorial variants ------------------------------------------------------------------
def _dqn(
    job: dict, shape, n_actions: int, *, epsilon_start: float = 1.0, epsilon_decay: int | None = None
) -> DQN:
    cfg = dqn_config(encoder="minatar", obs_scale=1.0, hidden=job["hidden"], lr=job["lr"], adam_eps=1e-8,
                     target_update=job["target_update"], epsilon_start=epsilon_start,
                     epsilon_decay=epsilon_decay or job["epsilon_decay"], epsilon_end=0.01)  # fmt: skip
    return DQN(shape, n_actions, cfg=cfg, rng=np.random.default_rng(job["init_seed"]))


def _replay(job: dict, shape) -> FrameReplay:
    rng = np.random.default_rng(seeding.derive_seed(job["init_seed"], "sampler"))
    return FrameReplay(min(job["replay_capacity"], job["scratch_steps"] + 10), shape, batch_size=job["batch_size"],
                       rng=rng, verbose=False)  # fmt: skip


def _score(agent, job: dict, variant: dict, tag: str) -> float:
    env = make_variant(job["game"], variant, sticky_action_prob=job["sticky_action_prob"],
                       max_episode_steps=job["eval_max_episode_steps"])  # fmt: skip
    seed = seeding.derive_seed(job["env_seed"], f"eval/{tag}") % 2**31
    return float(np.mean(evaluate(agent, env, job["eval_episodes"], epsilon=job["eval_epsilon"],
                                  rng=np.random.default_rng(seed), seed=seed)))  # fmt: skip


def minatar_job(job: dict) -> dict:
    """Scratch training on variant `job["variant"]`; for the default variant also zero-shot and finetuning."""
    torch.set_num_threads(job.get("threads", 1))
    variants, v = job["variants"], job["variant"]
    kw = dict(sticky_action_prob=job["sticky_action_prob"], max_episode_steps=10_000)
    env = make_variant(job["game"], variants[v], **kw)
    shape, n_actions = env.observation_space.shape, env.action_space.n
    torch.manual_seed(job["init_seed"])
    agent = _dqn(job, shape, n_actions)
    probe_log = ProbeLog()
    monitor = job_monitor(
        job, agent, lambda: make_variant(job["game"], variants[v], **kw), probe_log, arm=job["key"]
    )
    if monitor is not None:
        monitor.step(0)
    start, cpu = time.perf_counter(), time.process_time()
    n_eval = [0]

    def evaluate_fn(a):
        n_eval[0] += 1
        return [_score(a, job, variants[v], f"scratch/{v}/{n_eval[0]}")]

    hist = train(agent, env, _replay(job, shape), agent_steps=job["scratch_steps"], learn_start=job["learn_start"],
                 update_every=job["update_every"], seed=job["env_seed"], eval_every=job["finetune_steps"],
                 evaluate_fn=evaluate_fn, monitor=monitor)  # fmt: skip
    out = {"part": "minatar", "variant": v, "seed": job["seed_index"],
           "evals": [[int(t), [float(s) for s in sc]] for t, sc in hist.evals],
           "final": float(np.mean(hist.evals[-1][1])),
           "random": float(np.mean(random_policy_scores(
               make_variant(job["game"], variants[v], sticky_action_prob=job["sticky_action_prob"],
                            max_episode_steps=job["eval_max_episode_steps"]), job["eval_episodes"],
               seeding.derive_seed(job["env_seed"], f"random/{v}") % 2**31)))}  # fmt: skip
    if v == 0:  # the default game's expert: zero-shot on every variant, then finetuning on each other one
        out["zero_shot"] = {
            str(u): _score(agent, job, variants[u], f"zero/{u}") for u in range(len(variants))
        }
        expert = {k: t.clone() for k, t in agent.online.state_dict().items()}
        out["finetuned"] = {}
        for u in range(1, len(variants)):
            fenv = make_variant(job["game"], variants[u], **kw)
            torch.manual_seed(seeding.derive_seed(job["init_seed"], f"finetune/{u}") % 2**31)
            ft = _dqn(job, shape, n_actions, epsilon_start=job["finetune_epsilon"],
                      epsilon_decay=max(1, job["finetune_steps"] // 5))  # fmt: skip
            ft.online.load_state_dict(expert)
            ft.target.load_state_dict(expert)
            fh = train(ft, fenv, _replay(job, shape), agent_steps=job["finetune_steps"], learn_start=job["learn_start"],
                       update_every=job["update_every"], seed=job["env_seed"] + u)  # fmt: skip
            del fh
            out["finetuned"][str(u)] = _score(ft, job, variants[u], f"finetuned/{u}")
    out |= {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "probes": probe_log.rows}  # fmt: skip
    return out


def make_jobs(cfg: Config, run_seed: int) -> list[dict]:
    dqn = {k: getattr(cfg, k) for k in (
        "game", "scratch_steps", "finetune_steps", "learn_start", "update_every", "hidden", "lr", "batch_size",
        "replay_capacity", "target_update", "epsilon_decay", "finetune_epsilon", "sticky_action_prob",
        "eval_episodes", "eval_epsilon", "eval_max_episode_steps",
    )} | {"variants": factorial(cfg.game), "health": health_fields(cfg)}  # fmt: skip
    jobs = []
    for seed in range(cfg.seeds):  # the experts (longest: scratch + 7 finetunings) first
        for v in range(len(dqn["variants"])):
            jobs.append({**dqn, "key": f"minatar/v{v}/s{seed}", "variant": v, "seed_index": seed,
                         "env_seed": seeding.derive_seed(run_seed, f"env/{v}/{seed}") % 2**31,
                         "init_seed": seeding.derive_seed(run_seed, f"init/{seed}") % 2**31})  # fmt: skip
    jobs.sort(key=lambda j: j["variant"] != 0)
    for game in cfg.ale_games:
        for policy in ("random", "heuristic"):
            jobs.append({"key": f"ale/{game}/{policy}", "game": game, "policy": policy,
                         "ale_episodes": cfg.ale_episodes, "ale_max_frames": cfg.ale_max_frames, "ale_modes": cfg.ale_modes,
                         "seed": seeding.derive_seed(run_seed, f"ale/{game}/{policy}") % 2**31})  # fmt: skip
    return jobs


def curricula_job(job: dict) -> dict:
    return ale_job(job) if job["key"].startswith("ale/") else minatar_job(job)


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}

    def on_result(job, result):
        if result["part"] == "minatar":
            for t, sc in result["evals"]:
                run.log({f"eval/v{result['variant']}_s{result['seed']}": float(np.mean(sc))}, t)
        log_probes(run, result)

    run_pending(run, state, make_jobs(cfg, run.seed), curricula_job, workers=cfg.workers,
                description="atari-curricula jobs", on_result=on_result)  # fmt: skip
    config = cfg.__dict__ | {"ale_games": list(cfg.ale_games), "interaction": list(cfg.interaction),
                             "factors": {k: list(v) for k, v in FACTORS[cfg.game].items()},
                             "variants": factorial(cfg.game)}  # fmt: skip
    return {"config": config, **state}


SMOKE = Config(
    ale_games=("freeway",), ale_episodes=2, ale_max_frames=40, ale_modes=2, seeds=2, scratch_steps=200, finetune_steps=100,
    learn_start=50, epsilon_decay=100, target_update=50, eval_episodes=1, eval_max_episode_steps=30, workers=1,
    probe_every=100, probe_batch=32, replay_capacity=500,
)  # fmt: skip
DEFAULT = Config()
PAPER = Config(
    ale_games=("freeway", "space_invaders", "breakout"),
    ale_episodes=8,
    seeds=5,
    scratch_steps=60_000,
    finetune_steps=20_000,
    epsilon_decay=20_000,
)
"""§8.5 at full size (8 episodes per ALE cell, the three games, 60k/20k MinAtar steps) with 5 replicate seeds so
the ANOVA checks can decide. The paper's own runs (DQN-family agents trained on every ALE variant, 10⁷+
frames each) are not reproduced: that needs a GPU cluster and an ALE training path with modes, which the
`atari100k` machinery (`replab.envs.atari` takes mode=/difficulty=) could host."""

EXPERIMENT = Experiment(
    name="atari-curricula",
    headline="game modes: significant effects + interactions",
    claim=(
        "Design factors of Atari game variants (modes and difficulties) and their interactions have large, "
        "significant effects on what a deep RL agent learns; zero-shot transfer from the default game is "
        "possible but its variance is explained largely by interactions; finetuning from default-game experts "
        "transfers positively in most variants (Rusu et al. 2022; exact F and η² not recovered)."
    ),
    source="Rusu, Flennerhag, Rao, Pascanu, Hadsell 2022, Probing Transfer in Deep RL without Task Engineering "
    "(CoLLAs); seed002 §8.2, §8.5",
    check=(
        "Shared rule, paired by seed (and variant), on log(1 + score), pooled by the ledger: each MinAtar factor's "
        "default level beats its harder level by main_effect, above the random policy (main/<factor>); the "
        "registered interaction contrast > interaction_effect (interaction); zero-shot above random by "
        "zero_shot_gain (zero_shot); finetuned above scratch at the same step (transfer). ANOVA tables (Type II, "
        "partial η², variance explained) of ALE mode × difficulty and of the MinAtar factors, with interaction plots."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
    extras={"minatar": "minatar", "ale_py": "atari", "statsmodels": "anova"},
)
