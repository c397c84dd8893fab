"""The masked-digits arms of `td-interference` (seed004 §S2.6a, the reduced form of thesis §3.2.2/§S2.3):
DDQN on `replab.envs.masked_digits` and its supervised twin, one network per (n_T, n_h, n_L, seed).

- Network: MLP 128 → (1 + n_L) × n_h LeakyReLU(0.01) → n_o (n_o = 14 for DDQN: outputs 0–9 the class
  head, 10–13 the move head; 10 for the SL twin), PyTorch's default bounds from a per-unit generator.
- DDQN (eq. 3.14 with the double-Q action choice): each head regressed to r + γ(1 − terminal)
  Q̄_head(s′, argmax Q_head(s′)) — our reading of [REF-CODE]'s two heads (one joint action, a shared
  reward), logged; squared loss (the thesis's eq. 3.14; [REF-CODE]'s min(δ², |δ|) not used); θ̄ an EMA of θ
  (τ) after every update; ε-greedy with one coin per step for the joint action, ε linear from
  `eps_start` to `eps_end` over the first `eps_decay` of the env steps (§S2.6a); `envs` episodes run side
  by side, one update every `update_every` env steps after `learning_starts` [REF-CODE: 2 and 5000 of 200k;
  ours 1000 of 15k, UNSPECIFIED]; truncation after 10 steps bootstraps (not terminal).
- SL twin: cross-entropy on the fully revealed image (the observation's layout: channel 0 the centred
  window mask, channel 1 the whole image — our choice), Adam with the same step size, batch and number of
  updates as the DDQN arm.
- Gap (eq. 3.1, [REF-CODE]'s measure): accuracy on the training seeds − accuracy on the 500 test seeds;
  for DDQN the fraction of greedy episodes that end on the right class.
- ρ̄ (eq. 3.13) on `interference_batch` training states: DDQN f = max over the 14 outputs [REF-CODE]
  (replay states); SL f = the max logit (`sl_output="max_logit"`, the same "max over outputs" as DDQN's;
  the thesis's wording suggests the max softmax probability [UNSPECIFIED], `sl_output="max_prob"`, but a
  fitted classifier's probabilities saturate: in a first trial (n_T = 100, 7000 updates) its ρ̄ was
  −4e-4 and −1e-6, ≤ 0, where log ρ̄ is undefined) on training images.
- ρ′ (eq. 3.25 and 3.40, `replab.probe.rho_evolution`) at `rho_at` of training on `rho_pairs`² pairs:
  DDQN's class head with its EMA target held fixed (the frozen form; the γ terms vanish), split into r₁–r₃;
  SL's cross-entropy by the autodiff form (no r₁–r₃ split exists for it).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from replab import seeding
from replab.envs.masked_digits import CLASSES, MOVES, MaskedDigits, load_digits_split
from replab.nn.init import uniform_fan_in_
from replab.probe.health import health_monitor
from replab.probe.interference import function_interference_matrix, max_output, mean_pairwise
from replab.probe.rho_evolution import positive_share, rho_prime_autodiff, rho_prime_terms

N_OUT = CLASSES + len(MOVES)
MAX_STEPS = 10  # MaskedDigits' episode limit (§S2.6a: at most 10 steps)


def check_config(cfg, tasks: tuple[str, ...]) -> None:
    """`td-interference` Config's checks of the task and the masked-digits, TD(λ) and ρ′ fields."""
    cfg.masked_n_train = tuple(int(n) for n in cfg.masked_n_train)
    if cfg.sl_output not in ("max_logit", "max_prob"):
        raise ValueError(f"sl_output must be 'max_logit' or 'max_prob', got {cfg.sl_output!r}")
    if cfg.task not in tasks:
        raise ValueError(f"task: unknown task '{cfg.task}', choose from {tasks}")
    if cfg.task == "masked-digits" and "td_lambda" in cfg.methods:
        raise ValueError("methods: td_lambda runs on task='chain' only; drop it for masked-digits")
    if cfg.task == "chain" and "reinforce" in cfg.methods:
        raise ValueError(
            "methods: reinforce runs on task='masked-digits' only; add --task masked-digits or drop it"
        )
    for n in cfg.masked_n_train:
        if n < 10 or n % 10 or n > 1290:
            raise ValueError(f"masked_n_train values must be multiples of 10 in [10, 1290], got {n}")
    for name in ("rho_pairs", "env_steps", "envs", "update_every", "replay", "masked_batch"):
        if getattr(cfg, name) < (2 if name == "rho_pairs" else 1):
            raise ValueError(f"{name} must be >= {2 if name == 'rho_pairs' else 1}, got {getattr(cfg, name)}")
    if cfg.envs % cfg.update_every:
        raise ValueError(f"envs ({cfg.envs}) must be a multiple of update_every ({cfg.update_every})")
    if cfg.learning_starts % cfg.envs:
        raise ValueError(f"learning_starts ({cfg.learning_starts}) must be a multiple of envs ({cfg.envs})")
    value_arms = {"td", "regression"} & set(cfg.methods)  # the SL twin takes DDQN's number of updates
    if cfg.task == "masked-digits" and value_arms and n_updates(cfg) < 1:
        raise ValueError(f"env_steps ({cfg.env_steps}) must exceed learning_starts ({cfg.learning_starts})")
    if cfg.task == "masked-digits" and "reinforce" in cfg.methods:
        need = cfg.masked_batch + MAX_STEPS * cfg.envs  # finished episodes' steps >= masked_batch by then
        if cfg.env_steps < need:
            raise ValueError(
                f"reinforce: env_steps ({cfg.env_steps}) must be >= masked_batch + 10 × envs = {need} so that "
                "finished episodes fill at least one update; raise env_steps or lower masked_batch/envs"
            )
    for name in ("lam", "rho_at", "eps_start", "eps_end", "eps_decay"):
        if not 0 <= getattr(cfg, name) <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(cfg, name)}")
    if not 0 < cfg.masked_lr <= 1:
        raise ValueError(f"masked_lr must be in (0, 1], got {cfg.masked_lr}")
    if not 0 <= cfg.learned_min_effect < 0.9:
        raise ValueError(
            f"learned_min_effect must be in [0, 0.9) (accuracy above chance 0.1), got {cfg.learned_min_effect}"
        )
    for name in ("rho_min_effect", "masked_min_effect", "ddqn_min_effect"):
        if not 0 <= getattr(cfg, name) < 2:
            raise ValueError(f"{name} must be in [0, 2), got {getattr(cfg, name)}")


def mlp(d_in: int, width: int, depth: int, d_out: int, seed: int) -> nn.Sequential:
    """d_in → (1 + depth) × width LeakyReLU(0.01) → d_out; PyTorch's default Linear bounds (±1/√fan_in)
    drawn from a per-unit generator (not the global RNG)."""
    g, layers, d = torch.Generator().manual_seed(seed), [], d_in
    for _ in range(1 + depth):
        layers += [nn.Linear(d, width), nn.LeakyReLU(0.01)]
        d = width
    net = nn.Sequential(*layers, nn.Linear(d, d_out))
    return uniform_fan_in_(net, g)


def stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n/10 indices of each class (n a multiple of 10), in class order."""
    return np.concatenate([rng.permutation(np.flatnonzero(labels == k))[: n // 10] for k in range(10)])


def reset_where(env: MaskedDigits, done: torch.Tensor, seeds: torch.Tensor) -> None:
    """Restart the finished episodes `done` (B,) on the images `seeds` (done.sum(),), the others untouched."""
    fresh = MaskedDigits(env.images, env.labels, max_steps=env.max_steps, step_reward=env.step_reward)
    fresh.reset(seeds)
    env.seeds, env.pos, env.revealed, env.t = (x.clone() for x in (env.seeds, env.pos, env.revealed, env.t))
    env.seeds[done], env.pos[done], env.revealed[done], env.t[done] = (
        fresh.seeds,
        fresh.pos,
        fresh.revealed,
        fresh.t,
    )


@torch.no_grad()
def greedy_accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of greedy episodes, one per image, that end on the right class within 10 steps."""
    env = MaskedDigits(images, labels)
    obs, active, right = env.reset(torch.arange(len(images))), torch.ones(len(images), dtype=torch.bool), 0
    for _ in range(env.max_steps):
        q = net(obs.flatten(1))
        obs, _, term, trunc = env.step(q[:, :CLASSES].argmax(1), q[:, CLASSES:].argmax(1))
        right += int((term & active).sum())
        active &= ~(term | trunc)
    return right / len(images)


def full_images(images: torch.Tensor) -> torch.Tensor:
    """The SL twin's input (N, 128): the observation layout with every pixel revealed."""
    mask = MaskedDigits(images[:1], torch.zeros(1, dtype=torch.long)).reset([0])[0, 0]
    return torch.stack([mask.expand_as(images), images], 1).flatten(1)


def rho_summary(terms: dict) -> dict:
    """Means (over pairs A ≠ B) and positive shares of the ρ′ terms present (Fig 3.17)."""
    out = {}
    for k in ("r1", "r2", "r3", "rho_prime"):
        if k in terms:
            x = terms[k]
            off = x[~torch.eye(x.shape[0], dtype=torch.bool)]
            out[f"{k}_mean"], out[f"{k}_pos"] = float(off.mean()), positive_share(x)
    return out


def _split(cfg, n: int, seed: int, run_seed: int):
    (x, y), test = load_digits_split()
    idx = stratified(y.numpy(), n, seeding.rng(run_seed, f"masked/data/{n}/{seed}"))
    return (x[idx], y[idx]), test


def n_updates(cfg) -> int:
    """The DDQN arm's number of updates (the SL twin takes as many): one batch of `envs` steps per loop
    iteration, updates after the first `learning_starts` steps (a multiple of `envs`, checked)."""
    steps = math.ceil(cfg.env_steps / cfg.envs)
    start = cfg.learning_starts // cfg.envs  # as the loop: iteration t updates once (t + 1)·envs > it
    return max(0, steps - start) * cfg.envs // cfg.update_every


def train_ddqn(cfg, run, n: int, width: int, depth: int, seed: int) -> dict:
    (x, y), (xt, yt) = _split(cfg, n, seed, run.seed)
    net = mlp(
        128, width, depth, N_OUT, seeding.derive_seed(run.seed, f"masked/init/{n}/{width}/{depth}/{seed}")
    )
    target = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.masked_lr)
    rng = seeding.rng(run.seed, f"masked/ddqn/{n}/{width}/{depth}/{seed}")
    arm = f"td/n{n}/h{width}L{depth}/s{seed}"
    cap = cfg.replay
    buf = {
        "s": torch.zeros(cap, 128),
        "c": torch.zeros(cap, dtype=torch.long),
        "m": torch.zeros(cap, dtype=torch.long),
        "r": torch.zeros(cap),
        "s2": torch.zeros(cap, 128),
        "term": torch.zeros(cap),
    }
    size = ptr = 0
    env = MaskedDigits(x, y)
    obs = env.reset(torch.as_tensor(rng.integers(0, n, cfg.envs))).flatten(1)
    # measurement draws (probe states, ρ′ pairs) come from their own streams, so changing `probe_batch`,
    # `rho_pairs` or `rho_at` leaves every training draw (and so the trained network) unchanged
    probe = _probe_states(x, y, cfg.probe_batch, seeding.rng(run.seed, f"masked/probe/{arm}"))
    monitor = health_monitor(cfg, net, probe, run.log, arm=arm, layers=[str(2 * depth + 1)])
    monitor.add_model_probe("function_interference", None, (probe[: cfg.interference_batch], None))
    total, per_step = n_updates(cfg), cfg.envs // cfg.update_every
    rho_step, rho, u = max(1, round(cfg.rho_at * total)), {}, 0
    for t in range(math.ceil(cfg.env_steps / cfg.envs)):
        eps = cfg.eps_start + (cfg.eps_end - cfg.eps_start) * min(
            1.0, t * cfg.envs / max(1.0, cfg.eps_decay * cfg.env_steps)
        )
        with torch.no_grad():
            q = net(obs)
        c, m = q[:, :CLASSES].argmax(1), q[:, CLASSES:].argmax(1)
        explore = torch.as_tensor(rng.random(cfg.envs) < eps)
        c = torch.where(explore, torch.as_tensor(rng.integers(0, CLASSES, cfg.envs)), c)
        m = torch.where(explore, torch.as_tensor(rng.integers(0, len(MOVES), cfg.envs)), m)
        nxt, r, term, trunc = env.step(c, m)
        nxt = nxt.flatten(1)
        i = (ptr + torch.arange(cfg.envs)) % cap
        for k, v in (("s", obs), ("c", c), ("m", m), ("r", r), ("s2", nxt), ("term", term.float())):
            buf[k][i] = v
        ptr, size = (ptr + cfg.envs) % cap, min(cap, size + cfg.envs)
        done = term | trunc
        if done.any():
            reset_where(env, done, torch.as_tensor(rng.integers(0, n, int(done.sum()))))
            nxt = env.observation().flatten(1)
        obs = nxt
        if (t + 1) * cfg.envs <= cfg.learning_starts:
            continue
        for _ in range(per_step):
            j = torch.as_tensor(rng.integers(0, size, cfg.masked_batch))
            b = {k: v[j] for k, v in buf.items()}
            yc, ym = _targets(net, target, b, cfg.gamma)
            qb = net(b["s"])
            qc = qb[:, :CLASSES].gather(1, b["c"][:, None]).squeeze(1)
            qm = qb[:, CLASSES:].gather(1, b["m"][:, None]).squeeze(1)
            loss = 0.5 * ((qc - yc).pow(2) + (qm - ym).pow(2)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for pt, p in zip(target.parameters(), net.parameters()):
                    pt.lerp_(p, cfg.tau)
            u += 1
            monitor.step(u)
            if u == rho_step:
                r2 = seeding.rng(run.seed, f"masked/rho/{arm}")  # its own stream (see the probe's)
                j = torch.as_tensor(r2.integers(0, size, cfg.rho_pairs))
                b = {k: v[j] for k, v in buf.items()}
                yc, _ = _targets(net, target, b, cfg.gamma)
                sel = F.one_hot(b["c"], N_OUT).float()
                rho = rho_summary(rho_prime_terms(net, b["s"], yc, select=sel)) | {"at": u}
    pick = seeding.rng(run.seed, f"masked/interference/{arm}").permutation(size)[: cfg.interference_batch]
    states = buf["s"][torch.as_tensor(pick)]
    rho_bar = mean_pairwise(function_interference_matrix(net, states))  # f = max_a Q over 14 outputs
    return _finish(run, arm, greedy_accuracy(net, x, y), greedy_accuracy(net, xt, yt), rho_bar, rho, u, total)


def _targets(net, target, b, gamma):
    """Per-head double-Q targets r + γ(1 − terminal) Q̄_head(s′, argmax Q_head(s′))."""
    with torch.no_grad():
        qn, qt = net(b["s2"]), target(b["s2"])
        keep = gamma * (1.0 - b["term"])
        yc = b["r"] + keep * qt[:, :CLASSES].gather(1, qn[:, :CLASSES].argmax(1, keepdim=True)).squeeze(1)
        ym = b["r"] + keep * qt[:, CLASSES:].gather(1, qn[:, CLASSES:].argmax(1, keepdim=True)).squeeze(1)
    return yc, ym


def _probe_states(x, y, count: int, rng) -> torch.Tensor:
    """`count` observations of random-policy episodes on the training images (0–3 steps in)."""
    env = MaskedDigits(x, y)
    obs = env.reset(torch.as_tensor(rng.integers(0, len(x), count)))
    k = torch.as_tensor(rng.integers(0, 4, count))
    for step in range(3):
        nxt, *_ = env.step(
            torch.as_tensor(rng.integers(0, CLASSES, count)), torch.as_tensor(rng.integers(0, 4, count))
        )
        obs = torch.where((k > step)[:, None, None, None], nxt, obs)
    return obs.flatten(1)


def train_sl(cfg, run, n: int, width: int, depth: int, seed: int) -> dict:
    (x, y), (xt, yt) = _split(cfg, n, seed, run.seed)
    xf, xtf = full_images(x), full_images(xt)
    net = mlp(
        128, width, depth, CLASSES, seeding.derive_seed(run.seed, f"masked/init/{n}/{width}/{depth}/{seed}")
    )
    opt = torch.optim.Adam(net.parameters(), lr=cfg.masked_lr)
    rng = seeding.rng(run.seed, f"masked/sl/{n}/{width}/{depth}/{seed}")
    arm = f"regression/n{n}/h{width}L{depth}/s{seed}"
    # measurement draws from their own streams: `interference_batch`, `rho_pairs`, `rho_at` leave training as is
    probe = xf[
        torch.as_tensor(seeding.rng(run.seed, f"masked/probe/{arm}").permutation(n)[: cfg.interference_batch])
    ]
    monitor = health_monitor(cfg, net, xf, run.log, arm=arm, layers=[str(2 * depth + 1)])
    f = max_output if cfg.sl_output == "max_logit" else _max_prob
    monitor.add(
        "function_interference",
        lambda m: mean_pairwise(function_interference_matrix(m, probe, output=f)),
    )
    total = n_updates(cfg)
    rho_step, rho = max(1, round(cfg.rho_at * total)), {}
    for u in range(1, total + 1):
        j = torch.as_tensor(rng.integers(0, n, cfg.masked_batch))
        loss = F.cross_entropy(net(xf[j]), y[j])
        opt.zero_grad()
        loss.backward()
        opt.step()
        monitor.step(u)
        if u == rho_step:
            j = torch.as_tensor(seeding.rng(run.seed, f"masked/rho/{arm}").integers(0, n, cfg.rho_pairs))
            rho = rho_summary(rho_prime_autodiff(net, F.cross_entropy, xf[j], y[j])) | {"at": u}
    with torch.no_grad():
        acc = float((net(xf).argmax(1) == y).float().mean())
        acc_t = float((net(xtf).argmax(1) == yt).float().mean())
    rho_bar = mean_pairwise(function_interference_matrix(net, probe, output=f))
    return _finish(run, arm, acc, acc_t, rho_bar, rho, total, total)


def _max_prob(out: torch.Tensor) -> torch.Tensor:
    """f for the classifier's ρ̄: the max softmax probability (the argmax class's confidence)."""
    return out.reshape(-1).softmax(0).max()


def _finish(run, arm, train_acc, test_acc, rho_bar, rho, updates, total) -> dict:
    gap = train_acc - test_acc
    run.log(
        {f"eval/gap/{arm}": gap, f"eval/interference/{arm}": rho_bar, f"eval/train_acc/{arm}": train_acc},
        total,
    )
    return {
        "train_acc": train_acc,
        "test_acc": test_acc,
        "gap": gap,
        "rho": rho_bar,
        "rho_prime": rho,
        "updates": updates,
    }
