"""The `control` arm of `td-gain`: Q-learning *control* (thesis §3.2.2.4, Fig 3.8's full lines; seed004
§S2.3: "Q-learning ... run both as control and as policy evaluation").

The thesis trains control agents "learning to play from scratch" with the Q-learning loss of eq. 3.17 and a
frozen target copied every 10k updates, acting ε-greedily ("the choice of actions in ε-greedy rollouts"
is one of its seeds' draws), and measures the gain with the same offset protocol on the agent's own replay
trajectories. Here, on the task's env (`_td_gain_tasks.Task.make_env`, the env the expert plays):

- the network, Adam, lr, minibatch, γ, `target_every`, `steps` (updates) and the gain probe (`gain_every`,
  `gain_positions`, offsets, `probe_lr`, `gain_loss`) are the other arms'; the initial network is the one
  every arm of the seed starts from;
- one env step per update after `warmup` env steps; the action is ε-greedy w.r.t. the live Q;
- the replay holds the agent's own transitions with trajectory ids (rows of one episode consecutive, as the
  probe's offsets require), the most recent `transitions` rows of them sampled (a FIFO window; the thesis:
  a 500k buffer); episodes are cut at the task's `horizon` (CartPole-v1's 500 steps) as a bootstrap state;
- minibatch targets y = r + γ(1 − terminal) max_a Q_θ̄(s′, a) (eq. 3.17, the max bootstrap whatever
  `ql_bootstrap` says: that flag is the policy-evaluation arm's);
- the probe's update samples are drawn from the replay window, their neighbours on the same stored episode.

[ASSUMP] The thesis gives no ε schedule, warm-up or buffer size for its control runs. Ours: ε = 1 during a
warm-up of `WARMUP` × steps env steps (at least a minibatch), then linear to the config's `epsilon` (5%, the
rate that generated D*, §S2.3) over the first `EPS_DECAY` × steps updates (Mnih et al. 2015's DQN: 1 → 0.1
over 1M of its 50M frames, 50k frames of warm-up); replay capacity `transitions` (§S2.6b: 50k). They are
keyword arguments of `train_control`, not Config fields, so that DEFAULT's stored config stays the one its
ledger entry was made with.

Draws, each from its own stream of the run seed: `control/env/<seed>` (episode reset seeds, hence MinAtar's
sticky actions), `control/act/<seed>` (ε draws and random actions), `control/batches/<seed>`,
`control/positions/<seed>`; `init/<seed>` and `health/<seed>` are shared with the other arms.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from replab import seeding
from replab.envs._expert_buffer import discounted_returns
from replab.experiments.bootstrapping._td_gain_parts import (
    SERIES_ROWS,
    GainRecord,
    _sign_variance,
    final_summary,
    health,
)
from replab.experiments.bootstrapping._td_gain_tasks import TASKS

EPS_START = 1.0
"""[ASSUMP] ε during the warm-up and at the first update (DQN's 1.0)."""
EPS_DECAY = 0.1
"""[ASSUMP] Fraction of `steps` over which ε falls linearly from EPS_START to the config's `epsilon`."""
WARMUP = 0.05
"""[ASSUMP] Env steps before the first update, as a fraction of `steps` (at least one minibatch)."""


def check_schedule(eps_start: float, eps_decay: float, warmup: float) -> None:
    """One-line errors for the control arm's schedule arguments."""
    if not 0 <= eps_start <= 1:
        raise ValueError(f"eps_start must be in [0, 1], got {eps_start}")
    if not 0 <= eps_decay <= 1:
        raise ValueError(f"eps_decay must be a fraction of steps in [0, 1], got {eps_decay}")
    if not 0 <= warmup <= 1:
        raise ValueError(f"warmup must be a fraction of steps in [0, 1], got {warmup}")


def epsilon_at(t: int, decay_steps: int, eps_start: float, eps_final: float) -> float:
    """ε at update t (t ≤ 0: the warm-up): eps_start, then linear to eps_final over `decay_steps` updates."""
    if t <= 0 or decay_steps <= 0:
        return eps_start if t <= 0 else eps_final
    return eps_start + (eps_final - eps_start) * min(1.0, t / decay_steps)


def act(net: nn.Module, obs: np.ndarray, eps: float, rng: np.random.Generator, n_actions: int) -> int:
    """ε-greedy w.r.t. the live Q: with probability ε a uniform action, else argmax_a Q(obs, a)."""
    if rng.random() < eps:
        return int(rng.integers(n_actions))
    with torch.no_grad():
        return int(net(torch.as_tensor(np.asarray(obs, np.float32))[None]).argmax(1))


class Replay:
    """The agent's transitions in order, with trajectory ids; the last `capacity` rows are its window.

    Every row of the run is kept (s and s′ both): warm-up + `steps` rows, e.g. ≈ 1.7 GB for MinAtar's
    4 × 10 × 10 frames at PAPER's 525k rows (CartPole's 4 floats: ≈ 17 MB); only the window is sampled."""

    def __init__(self, rows: int, obs_shape: tuple, n_actions: int, capacity: int, gamma: float):
        self.s = torch.zeros((rows, *obs_shape))
        self.s2 = torch.zeros((rows, *obs_shape))
        self.a = torch.zeros(rows, dtype=torch.long)
        self.r = torch.zeros(rows)
        self.terminal = torch.zeros(rows, dtype=torch.bool)
        self.traj = torch.zeros(rows, dtype=torch.long)
        self.size, self.capacity, self.n_actions, self.gamma = 0, capacity, n_actions, gamma

    def add(self, s, a: int, r: float, s2, terminal: bool, traj: int) -> None:
        i = self.size
        self.s[i], self.s2[i] = torch.as_tensor(s), torch.as_tensor(s2)
        self.a[i], self.r[i], self.terminal[i], self.traj[i] = a, r, terminal, traj
        self.size += 1

    @property
    def lo(self) -> int:
        return max(0, self.size - self.capacity)

    def rows(self, start: int | None = None) -> dict[str, torch.Tensor]:
        """The window's rows (views) from `start` (default: the window's first) in td_gain's field names."""
        return self.take(slice(self.lo if start is None else max(self.lo, start), self.size))

    def take(self, sl) -> dict[str, torch.Tensor]:
        """Rows `sl` (a slice or an index tensor) in td_gain's field names, with disc = γ(1 − terminal)."""
        a = self.a[sl]
        return {
            "s": self.s[sl],
            "s2": self.s2[sl],
            "a": a,
            "a_hot": nn.functional.one_hot(a, self.n_actions).float(),
            "r": self.r[sl],
            "disc": self.gamma * (1 - self.terminal[sl].float()),
            "terminal": self.terminal[sl],
            "traj": self.traj[sl],
        }


def ql_targets(frozen: nn.Module, rows: dict) -> torch.Tensor:
    """y = r + γ(1 − terminal) max_a Q_θ̄(s′, a) (eq. 3.17 with the frozen target)."""
    with torch.no_grad():
        return rows["r"] + rows["disc"] * frozen(rows["s2"]).max(1).values


def episode_returns(rows: dict, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(G, mask): the discounted return of every row whose stored episode terminated inside the rows
    (G_t = r_t + γG_{t+1}), mask False for the rows of cut or unfinished episodes (their G is unknown)."""
    traj, term = rows["traj"].numpy(), rows["terminal"].numpy()
    g, mask = np.zeros(len(traj)), np.zeros(len(traj), bool)
    starts = np.r_[0, np.flatnonzero(np.diff(traj)) + 1]
    for a, b in zip(starts, np.r_[starts[1:], len(traj)]):
        if term[b - 1]:
            g[a:b], mask[a:b] = discounted_returns(rows["r"][a:b].double().numpy(), gamma), True
    return torch.as_tensor(g, dtype=torch.float32), torch.as_tensor(mask)


def train_control(
    cfg,
    run,
    seed: int,
    data: dict,
    *,
    eps_start: float = EPS_START,
    eps_decay: float = EPS_DECAY,
    warmup: float = WARMUP,
    on_end=None,
) -> dict:
    """One seed of the control arm; `data` (the seed's expert buffer) only feeds the health Monitor's
    states, as for every arm. Returns the other arms' result keys plus `episodes` ([env step, return] of
    every finished episode) and `schedule`. `on_end(replay, net)`, if given, sees the final replay and
    network (for tests and analysis)."""
    check_schedule(eps_start, eps_decay, warmup)
    task = TASKS[cfg.task]
    if task.make_env is None:
        raise ValueError(f"task {cfg.task!r} has no env for the control arm; drop 'control' from objectives")
    n_warm = max(cfg.batch, round(warmup * cfg.steps))
    decay_steps = round(eps_decay * cfg.steps)
    net = task.net(cfg, seeding.derive_seed(run.seed, f"init/{seed}"))
    frozen = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    env_seeds = seeding.rng(run.seed, f"control/env/{seed}")
    acting = seeding.rng(run.seed, f"control/act/{seed}")
    batches = seeding.rng(run.seed, f"control/batches/{seed}")
    positions = seeding.rng(run.seed, f"control/positions/{seed}")
    monitor = health(cfg, run, net, "control", seed, data)
    record = GainRecord(cfg)
    env = task.make_env()
    try:
        obs, _ = env.reset(seed=int(env_seeds.integers(2**31)))
        replay = Replay(n_warm + cfg.steps, np.shape(obs), task.n_actions, cfg.transitions, cfg.gamma)
        traj, pos, ret, episodes = 0, 0, 0.0, []
        for step in range(1, n_warm + cfg.steps + 1):
            t = step - n_warm  # the update index (≤ 0 during the warm-up)
            a = act(net, obs, epsilon_at(t, decay_steps, eps_start, cfg.epsilon), acting, task.n_actions)
            nxt, r, terminated, truncated, _ = env.step(a)
            replay.add(obs, a, r, nxt, terminated, traj)
            pos, ret, obs = pos + 1, ret + float(r), nxt
            if terminated or truncated or pos == task.horizon:  # a cut episode ends in a bootstrap state
                episodes.append([step, ret])
                obs, _ = env.reset(seed=int(env_seeds.integers(2**31)))
                traj, pos, ret = traj + 1, 0, 0.0
            if t < 1:
                continue
            i = torch.as_tensor(batches.integers(replay.lo, replay.size, cfg.batch))
            batch = replay.take(i)
            y = ql_targets(frozen, batch)
            pred = net(batch["s"]).gather(1, batch["a"][:, None]).squeeze(1)
            loss = (pred - y).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if t % cfg.target_every == 0:
                frozen.load_state_dict(net.state_dict())
            if t % cfg.gain_every == 0:
                rows = replay.rows()
                rows["y"] = ql_targets(frozen, rows)
                centres = torch.as_tensor(positions.integers(0, len(rows["r"]), cfg.gain_positions))
                recent = replay.rows(replay.size - SERIES_ROWS)
                sv = _sign_variance(net, recent, SERIES_ROWS)
                probe_rows = {k: rows[k] for k in ("s", "s2", "a_hot", "r", "disc", "y")}
                near_gain, cos = record.probe(net, probe_rows, centres, rows["traj"], t, sv)
                last = [e[1] for e in episodes[-10:]]
                run.log(
                    {
                        f"eval/gain_near/control/s{seed}": near_gain,
                        f"eval/cosine_near/control/s{seed}": cos,
                        f"eval/episode_return/control/s{seed}": float(np.mean(last)) if last else 0.0,
                    },
                    t,
                )
            if t % max(1, cfg.steps // 20) == 0:
                run.log({f"loss/train/control/s{seed}": float(loss.detach())}, t)
            monitor.step(t)
    finally:
        env.close()
    if on_end is not None:
        on_end(replay, net)
    return _final(cfg, run, seed, net, replay, record, episodes, (eps_start, decay_steps, n_warm))


def _final(cfg, run, seed, net, replay, record, episodes, schedule) -> dict:
    rows = replay.rows()
    g, done = episode_returns(rows, cfg.gamma)
    eps_start, decay_steps, n_warm = schedule
    return {
        **record.result(),
        **final_summary(run, cfg, net, rows, g, done, "control", seed),
        "episodes": episodes,
        "schedule": {"eps_start": eps_start, "eps_final": cfg.epsilon, "decay_updates": decay_steps,
                     "warmup_env_steps": n_warm, "replay_rows": len(rows["r"])},
    }  # fmt: skip
