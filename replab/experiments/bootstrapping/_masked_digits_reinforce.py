"""The REINFORCE arm of `td-interference --task masked-digits` (seed004 §S2.3, thesis §3.2.2: "REINFORCE
agents as a test to entirely remove dependence on value estimation", the pure policy-gradient arm of
Fig 3.4's right panel), beside DDQN (`td`) and its SL twin (`regression`) of `_masked_digits_arms.py`.

- Policy: the same MLP body as DDQN, 128 → (1 + n_L) × n_h LeakyReLU(0.01) → 14 logits (0–9 the class
  head, 10–13 the move head; the same per-unit initialisation as DDQN's network), two categorical heads
  sampled jointly per step (one joint action, as the env and DDQN's two Q heads): log π(a|s) =
  log softmax(class logits)[c] + log softmax(move logits)[m].
- Update (eq. 3.15, ∇G = G(S_t) ∇log π(A_t|S_t), on trajectories sampled from π): the loss
  −G_t log π(a_t|s_t) averaged over the steps of the finished episodes gathered since the last update;
  an update is taken as soon as they hold >= `masked_batch` steps (§S2.6a's minibatch 64; whole episodes
  of up to 10 steps finish `envs` at a time, so a batch holds `masked_batch` to `masked_batch` − 1 + 10 ×
  `envs` steps; our batching, UNSPECIFIED by the thesis). G_t = Σ_k γ^k r_{t+k} to the
  episode's end (Monte-Carlo, γ = `gamma`); an episode cut at the env's 10 steps simply ends there (the
  thesis's episode ends after its step limit; REINFORCE has no value to bootstrap from). **No baseline**:
  eq. 3.15 has none, and none is subtracted (no flag: a new Config field would change the stored DEFAULT
  configs). Adam at `masked_lr`. Episodes still running when the env-step budget ends are not used.
- Budget: the same `env_steps` as DDQN, over `envs` episodes side by side (finished ones restarted on a
  fresh training seed, as DDQN's); no warm-up (`learning_starts` is DDQN's) and no replay. The number of
  updates follows from the episode lengths (≈ env_steps / 64, far fewer than DDQN's `n_updates`: each
  sample is used once, on-policy).
- Gap and ρ̄ as DDQN's: greedy accuracy (argmax of both heads) on the training and the 500 test images;
  ρ̄ (eq. 3.13) with f = the max over the 14 outputs (here logits; DDQN's f, so the arms share one f) on
  `interference_batch` visited states (the steps of finished episodes, the last `replay` of them).
- ρ′ (eq. 3.40, `rho_prime_autodiff`) on the per-example loss J = −G log π(a|s) at the first update after
  `rho_at` of the env steps, on `rho_pairs` distinct steps of that update's batch (with replacement only
  when the batch is smaller): no r₁–r₃ split exists for it (as for the SL twin's cross-entropy).
- Health Monitor: stepped on DDQN's update clock, (env steps − `learning_starts`) / `update_every`, so
  its probes (every `probe_every`) fire at the same env steps as DDQN's; REINFORCE's own ≈ env_steps / 64
  updates would fall below `probe_every` and never fire.
- Draws: the initial network and the training split are DDQN's (`masked/init/…`, `masked/data/…`: the arms
  start paired); every other draw comes from its own stream `masked/reinforce/…`, so the other arms' draws
  are untouched.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from replab import seeding
from replab.envs.masked_digits import CLASSES, MOVES, MaskedDigits
from replab.experiments.bootstrapping._masked_digits_arms import (
    N_OUT,
    _finish,
    _probe_states,
    _split,
    greedy_accuracy,
    mlp,
    reset_where,
    rho_summary,
)
from replab.probe.health import health_monitor
from replab.probe.interference import function_interference_matrix, mean_pairwise
from replab.probe.rho_evolution import rho_prime_autodiff


def reinforce_target(c: torch.Tensor, m: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The per-example target (N, 15) of `reinforce_loss`: one-hot class (10), one-hot move (4), return G
    (in G's floating dtype)."""
    dt = g.dtype if g.is_floating_point() else torch.float32
    return torch.cat([F.one_hot(c, CLASSES).to(dt), F.one_hot(m, len(MOVES)).to(dt), g.to(dt)[:, None]], 1)


def reinforce_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """−G log π(a|s) (eq. 3.15's surrogate), mean over the rows: `out` (N, 14) logits, `y` (N, 15) from
    `reinforce_target`; log π = log softmax of the class head at c + log softmax of the move head at m."""
    logp = (F.log_softmax(out[:, :CLASSES], 1) * y[:, :CLASSES]).sum(1)
    logp = logp + (F.log_softmax(out[:, CLASSES:N_OUT], 1) * y[:, CLASSES:N_OUT]).sum(1)
    return -(y[:, N_OUT] * logp).mean()


def mc_returns(rewards: list[float], gamma: float) -> list[float]:
    """G_t = Σ_k γ^k r_{t+k} over one finished episode's rewards (no bootstrap)."""
    out, g = [], 0.0
    for r in reversed(rewards):
        g = r + gamma * g
        out.append(g)
    return out[::-1]


def train_reinforce(cfg, run, n: int, width: int, depth: int, seed: int) -> dict:
    (x, y), (xt, yt) = _split(cfg, n, seed, run.seed)
    net = mlp(
        128, width, depth, N_OUT, seeding.derive_seed(run.seed, f"masked/init/{n}/{width}/{depth}/{seed}")
    )
    opt = torch.optim.Adam(net.parameters(), lr=cfg.masked_lr)
    unit = f"{n}/{width}/{depth}/{seed}"
    rng = seeding.rng(run.seed, f"masked/reinforce/episodes/{unit}")  # the training seeds of the episodes
    gen = seeding.generator(run.seed, f"masked/reinforce/actions/{unit}")  # π's samples
    arm = f"reinforce/n{n}/h{width}L{depth}/s{seed}"
    probe = _probe_states(x, y, cfg.probe_batch, seeding.rng(run.seed, f"masked/reinforce/probe/{arm}"))
    monitor = health_monitor(cfg, net, probe, run.log, arm=arm, layers=[str(2 * depth + 1)])
    monitor.add_model_probe("function_interference", None, (probe[: cfg.interference_batch], None))
    cap, size, ptr = cfg.replay, 0, 0
    seen = torch.zeros(cap, 128)  # visited states (finished episodes' steps), for ρ̄
    env = MaskedDigits(x, y)
    obs = env.reset(torch.as_tensor(rng.integers(0, n, cfg.envs))).flatten(1)
    traj = [[] for _ in range(cfg.envs)]  # per running episode: (s, c, m, r) per step
    batch: list[tuple] = []  # finished episodes' steps since the last update: (s, c, m, G)
    rho_env_step, rho, u, ticked = cfg.rho_at * cfg.env_steps, {}, 0, 0
    for t in range(math.ceil(cfg.env_steps / cfg.envs)):
        with torch.no_grad():
            logits = net(obs)
        c = torch.multinomial(logits[:, :CLASSES].softmax(1), 1, generator=gen).squeeze(1)
        m = torch.multinomial(logits[:, CLASSES:].softmax(1), 1, generator=gen).squeeze(1)
        nxt, r, term, trunc = env.step(c, m)
        done = term | trunc
        for i in range(cfg.envs):
            traj[i].append((obs[i], int(c[i]), int(m[i]), float(r[i])))
            if done[i]:
                g = mc_returns([step[3] for step in traj[i]], cfg.gamma)
                batch += [(s, ci, mi, gi) for (s, ci, mi, _), gi in zip(traj[i], g)]
                traj[i] = []
        if done.any():
            reset_where(env, done, torch.as_tensor(rng.integers(0, n, int(done.sum()))))
            nxt = env.observation()
        obs = nxt.flatten(1)
        clock = ((t + 1) * cfg.envs - cfg.learning_starts) // cfg.update_every  # DDQN's update count
        for k in range(max(ticked, 0) + 1, clock + 1):
            monitor.step(k)
        ticked = max(ticked, clock)
        if len(batch) < cfg.masked_batch:
            continue
        s = torch.stack([b[0] for b in batch])
        yb = reinforce_target(
            torch.tensor([b[1] for b in batch]),
            torch.tensor([b[2] for b in batch]),
            torch.tensor([b[3] for b in batch]),
        )
        keep = s[-cap:]  # the ring of the last `cap` visited states
        seen[(ptr + torch.arange(len(keep))) % cap] = keep
        ptr, size = (ptr + len(keep)) % cap, min(cap, size + len(keep))
        loss = reinforce_loss(net(s), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        batch, u = [], u + 1
        if not rho and (t + 1) * cfg.envs >= rho_env_step:
            r2 = seeding.rng(run.seed, f"masked/reinforce/rho/{arm}")
            j = torch.as_tensor(
                r2.permutation(len(s))[: cfg.rho_pairs]
                if cfg.rho_pairs <= len(s)
                else r2.integers(0, len(s), cfg.rho_pairs)
            )
            rho = rho_summary(rho_prime_autodiff(net, reinforce_loss, s[j], yb[j])) | {"at": u}
    if size < 2:
        raise ValueError(
            f"reinforce: {size} visited states after {cfg.env_steps} env steps; raise env_steps above "
            f"masked_batch ({cfg.masked_batch}) so that at least one update runs"
        )
    pick = seeding.rng(run.seed, f"masked/reinforce/interference/{arm}").permutation(size)[
        : cfg.interference_batch
    ]
    rho_bar = mean_pairwise(function_interference_matrix(net, seen[torch.as_tensor(pick)]))  # f = max of 14
    return _finish(run, arm, greedy_accuracy(net, x, y), greedy_accuracy(net, xt, yt), rho_bar, rho, u, u)
