"""The off-policy training loop with explicit frame / env-step / agent-step accounting (anchors §8.2).

- agent steps: decisions of the policy (one `env.step` call of the agent's environment);
- env steps: agent steps × `env.action_repeat` (Atari: frame skip 4; DMC: the task's action repeat);
- frames: emulator frames actually simulated, summed from `info["frames"]` (Atari: no-op starts
  included, fewer than 4 when a life or the game ends mid-skip).
Atari100k = 100k agent steps = 400k env steps/frames; DMControl100k = 100k env steps. All three counts
and the number of gradient updates are logged as `train/agent_steps`, `train/env_steps`,
`train/frames`, `train/updates`, at the agent step.

Scores: an episode's score is `info["episode_score"]` when the environment reports it (Atari: the game
score over all lives, reported when the game ends even if training episodes end at each life loss);
environments without `lives` in their info score an episode by its (unclipped) return.

The loop talks to the agent only through the agent protocol (`replab.rl.agent`), so every agent trains
here. Interventions (`schedule`, a `replab.intervene.Schedule`): at agent step t, after that step's
updates, `apply_schedule` runs the interventions due (injection, reset, shrink-and-perturb, ReDo, layer
norm; each handles the optimiser state by its own flag) on the agent's networks, re-syncs every target
network and key encoder that shadows a changed network (after an injection the target must have the
online network's three-head structure, Nikishin et al. 2023, seed002 §2.2) and makes each optimiser own
exactly the trainable parameters. Records of what ran go to `History.interventions`. A `monitor`
(`replab.probe.Monitor`, or anything with `step(t)`) is called after each step's updates (and its
`mark(t)`, when it has one, at each step where an intervention ran).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from replab.rl.agent import apply_schedule


@dataclass
class Counters:
    agent_steps: int = 0
    env_steps: int = 0
    frames: int = 0
    updates: int = 0
    episodes: int = 0
    """Agent episodes (one per life under life-loss terminals)."""
    games: int = 0
    """Scored episodes (whole games for Atari)."""


@dataclass
class History:
    counters: Counters = field(default_factory=Counters)
    train_scores: list[tuple[int, float]] = field(default_factory=list)
    """(agent step, score) of each finished scored episode."""
    evals: list[tuple[int, list[float]]] = field(default_factory=list)
    """(agent step, scores of the evaluation episodes)."""
    interventions: list[dict] = field(default_factory=list)
    """One record per intervention run by the schedule: {"step", "action", ...its numbers}."""
    update_seconds: float = 0.0
    act_env_seconds: float = 0.0


def train(
    agent,
    env,
    replay,
    *,
    agent_steps: int,
    learn_start: int = 1600,
    update_every: int = 1,
    updates_per_step: int = 1,
    random_steps: int = 0,
    reward_clip: float | None = None,
    beta: tuple[float, float] = (0.4, 1.0),
    seed: int | None = None,
    evaluate_fn: Callable[[object], list[float]] | None = None,
    eval_every: int = 0,
    run=None,
    log_every: int = 1000,
    progress=None,
    schedule=None,
    monitor=None,
) -> History:
    """Train `agent` for `agent_steps` on `env`, storing transitions in `replay` (a `FrameReplay`).

    Updates start after `learn_start` agent steps, `updates_per_step` of them every `update_every`
    steps; the first `random_steps` actions are uniform (SAC's init steps). Rewards stored for learning
    are clipped to ±`reward_clip` (Atari: 1); scores are never clipped. The prioritized-replay exponent β
    is annealed linearly from beta[0] to beta[1] between `learn_start` and the end (Schaul et al. 2016).
    `evaluate_fn(agent) -> scores` runs every `eval_every` agent steps and at the end.
    `schedule` (a `replab.intervene.Schedule`, steps in agent steps) runs after the updates of each
    step, through `replab.rl.agent.apply_schedule` (ReDo scores units on a fresh `replay.sample()`), then
    `monitor.step(t)`; both before that step's evaluation.
    """
    if agent_steps < 1:
        raise ValueError(f"agent_steps must be >= 1, got {agent_steps}")
    if update_every < 1 or updates_per_step < 0:
        raise ValueError(
            f"need update_every >= 1 and updates_per_step >= 0, got {update_every}, {updates_per_step}"
        )
    hist, c = History(), None
    c = hist.counters
    repeat = int(getattr(env, "action_repeat", 1))
    if seed is not None:
        env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    replay.add_first(obs)
    c.frames += int(info.get("frames", 0))
    ep_return, metrics_sum, metrics_n = 0.0, {}, 0
    t_start = time.perf_counter()
    for t in range(1, agent_steps + 1):
        tic = time.perf_counter()
        action = env.action_space.sample() if t <= random_steps else agent.act(obs, explore=True)
        next_obs, reward, terminated, truncated, info = env.step(action)
        c.agent_steps, c.env_steps = t, t * repeat
        c.frames += int(info.get("frames", repeat))
        ep_return += float(reward)
        stored = float(np.clip(reward, -reward_clip, reward_clip)) if reward_clip else float(reward)
        replay.add(action, stored, next_obs, terminated, truncated)
        score = info.get("episode_score")
        if score is None and (terminated or truncated) and "lives" not in info:
            score = ep_return
        if score is not None:
            c.games += 1
            hist.train_scores.append((t, float(score)))
            if run is not None:
                run.log({"train/episode_score": score}, t)
        if terminated or truncated:
            c.episodes += 1
            ep_return = 0.0
            obs, info = env.reset()
            replay.add_first(obs)
            c.frames += int(info.get("frames", 0))
        else:
            obs = next_obs
        hist.act_env_seconds += time.perf_counter() - tic

        if t >= learn_start and t % update_every == 0 and len(replay) > 0:
            tic = time.perf_counter()
            frac = (t - learn_start) / max(1, agent_steps - learn_start)
            b = beta[0] + frac * (beta[1] - beta[0])
            for _ in range(updates_per_step):
                batch = replay.sample(b)
                m = agent.update(batch, t)
                c.updates += 1
                priorities = getattr(agent, "last_priorities", None)
                if getattr(replay, "tree", None) is not None and priorities is not None:
                    replay.update_priorities(batch.index, priorities)
                for k, v in m.items():
                    metrics_sum[k] = metrics_sum.get(k, 0.0) + v
                metrics_n += 1
            hist.update_seconds += time.perf_counter() - tic

        if schedule is not None and schedule.due(t):
            records = apply_schedule(schedule, t, agent, batch=replay.sample)
            hist.interventions.extend(records)
            if records and hasattr(monitor, "mark"):
                monitor.mark(t)  # a marker on the health panel
            if run is not None:
                run.log({"train/interventions": len(hist.interventions)}, t)
        if monitor is not None:
            monitor.step(t)

        if evaluate_fn is not None and ((eval_every and t % eval_every == 0) or t == agent_steps):
            scores = evaluate_fn(agent)
            hist.evals.append((t, scores))
            if run is not None:
                run.log({"eval/score": float(np.mean(scores))}, t)
        if run is not None and (t % log_every == 0 or t == agent_steps):
            elapsed = time.perf_counter() - t_start
            row = {
                "train/agent_steps": c.agent_steps,
                "train/env_steps": c.env_steps,
                "train/frames": c.frames,
                "train/updates": c.updates,
                "perf/agent_steps_per_s": t / max(elapsed, 1e-9),
            }
            row.update({k: v / metrics_n for k, v in metrics_sum.items()} if metrics_n else {})
            run.log(row, t)
            metrics_sum, metrics_n = {}, 0
        if progress is not None:
            progress.advance(1)
    return hist
