"""Function interference and the generalization gap: regression vs TD(0) (seed004 §S2, a reduction of §S2.6a).

A digits chain MDP (our reduction, not the thesis's masked-digits MDP): a state is a scikit-learn digit
(8×8 scaled to [0, 1]); from a digit of class c the next state is a random digit of class c + 1 of the same
split, and class 9 ends the episode with reward 1, so V(s) = γ^(9 − c). Both methods learn the same V
with the same MLP 64 → (1 + n_L) × n_h LeakyReLU → 1 and Adam: `regression` to V exactly (supervised),
`td` by TD(0) with an EMA target network (DDQN's θ̄, τ). Training seeds are n_T digits of the first 1297
(stratified, n_T/10 per class); test seeds the last 500 (§S2.7: generalization over seeds). At the end,
gap = MSE_test − MSE_train to V (eq. 3.1) and ρ̄ = mean over pairs of ∇V(s)ᵀ∇V(s′) on 64 training states
(`replab.probe.interference`, eq. 3.13). Per seed and n_T, Pearson r(log ρ̄, gap) is taken across the
capacities (n_h × n_L), then averaged over the n_T values (within-size correlations, §S2.7).

`td_lambda`: forward-view TD(λ) (eq. 3.18–3.19) on the chain: each minibatch state's trajectory to the end
of the chain is drawn (random successor digits) and G^λ computed from θ̄ by `replab.probe.td_lambda`
(λ = 1 is the regression target, λ = 0 the TD(0) one). ρ′ (eq. 3.25, `replab.probe.rho_evolution`): r₁,
r₂, r₃ on `rho_pairs`² pairs of training states at `rho_at` of training, every arm with its target held
fixed (the regression target, or the EMA network's bootstrap: the frozen form, Fig 3.17's DDQN setting).

`task="masked-digits"` runs §S2.6a instead (`_masked_digits_arms.py`): DDQN (`td`) and its supervised
classification twin (`regression`) on the masked-digits MDP, gap = train − test accuracy; on request also
REINFORCE (`reinforce`, eq. 3.15, `_masked_digits_reinforce.py`; in no preset). The chain stays
the default task, but DEFAULT changed from `Config()` to `Config(methods=METHODS)`: it now also runs TD(λ),
so its config differs from the stored 5-seed run `tdi-default` (ledger, 2026-12-05; regression and TD(0)
only) and a new DEFAULT run is a new ledger entry, not a replicate of that one. The regression and TD(0)
arms' training is unchanged (the new arm and ρ′ draw from their own streams).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from replab import seeding
from replab.experiments import Experiment
from replab.experiments.bootstrapping import _masked_digits_arms as masked
from replab.experiments.bootstrapping._masked_digits_reinforce import train_reinforce
from replab.experiments.bootstrapping._td_interference_report import report
from replab.probe.health import HealthConfig, health_monitor
from replab.probe.interference import function_interference_matrix, mean_pairwise
from replab.probe.rho_evolution import rho_prime_terms
from replab.probe.td_lambda import lambda_returns

METHODS = ("regression", "td", "td_lambda")
MASKED_ONLY = ("reinforce",)
"""Methods accepted on `task="masked-digits"` only (not in METHODS, so the presets' configs stay as stored)."""
TASKS = ("chain", "masked-digits")


@dataclass
class Config(HealthConfig):
    task: str = "chain"
    """`chain` (the digits chain, our reduction) or `masked-digits` (§S2.6a: DDQN vs its SL twin; reads
    the `masked_*`, `env_steps`, ... fields below, and `widths`, `depths`, `gamma`, `tau`, `seeds`)."""
    methods: tuple[str, ...] = ("regression", "td")
    """`regression` (supervised, to V), `td` (TD(0), EMA target), `td_lambda` (forward-view TD(λ), chain
    only). masked-digits: `regression` is the SL classification twin, `td` DDQN, `reinforce` the thesis's
    policy-gradient arm (eq. 3.15, `_masked_digits_reinforce.py`; masked-digits only)."""
    seeds: int = 5
    """Seeds (initialisation, training digits, minibatches, successors)."""
    n_train: tuple[int, ...] = (50, 200)
    """Training-set sizes n_T (digits, stratified; multiples of 10)."""
    widths: tuple[int, ...] = (16, 32, 64)
    """Hidden widths n_h (§S2.6a: 16, 32, 64)."""
    depths: tuple[int, ...] = (0, 1)
    """Extra hidden layers n_L (§S2.6a: 0, 1)."""
    steps: int = 2000
    """Adam steps per network."""
    batch: int = 32
    """Minibatch size."""
    lr: float = 1e-3
    """Adam step size."""
    gamma: float = 0.9
    """Discount γ (§S2.3: 0.9)."""
    tau: float = 0.1
    """EMA rate of the TD target network θ̄ ← (1 − τ)θ̄ + τθ after every step (§S2.3: 0.1)."""
    interference_batch: int = 64
    """Training states over whose pairs ρ̄ is averaged (§S2.6a: 64)."""
    min_effect: float = 0.2
    """Registered minimum effect of the headline (registered 2026-12-05 before any run of this rule), in
    Pearson-r units: the regression arm's per-seed r(log ρ̄, gap), averaged over n_T, must exceed 0 by it.
    The thesis reports r > 0.9 pooled for classification, weaker for regression (Fig 3.4–3.5)."""
    probe_every: int = 500
    """Adam steps between two measurements of the health monitor (the last hidden layer on the first
    `probe_batch` training digits; masked-digits: updates, training states)."""
    lam: float = 0.9
    """λ of the `td_lambda` arm (eq. 3.18; the thesis's Atari runs: 0, 0.5, 0.9, 1)."""
    rho_pairs: int = 32
    """Training samples whose pairs carry the ρ′ terms (Fig 3.17: 32 × 32 = 1024 pairs)."""
    rho_at: float = 0.1
    """When ρ′ is measured, as a fraction of training ("early in training", Fig 3.17)."""
    rho_min_effect: float = 0.1
    """Registered minimum effect (2026-12-05, before any run of this rule) of the chain's secondary claim
    "r₂ is positive on a larger share of pairs for regression than for TD(0)" (Fig 3.17: "in TD the negative
    share is much larger, especially for r₂"), a difference of shares paired by seed."""
    masked_n_train: tuple[int, ...] = (20, 100, 300, 1000)
    """masked-digits: training seeds n_T (images of the first 1297, stratified; §S2.6a)."""
    env_steps: int = 15_000
    """masked-digits: DDQN env steps per network (§S2.6a: 15k); REINFORCE takes as many."""
    envs: int = 8
    """masked-digits: episodes run side by side (our choice; the env steps are counted over all of them)."""
    update_every: int = 2
    """masked-digits: env steps per DDQN update ([REF-CODE]: 2)."""
    learning_starts: int = 1000
    """masked-digits: env steps before the first update ([REF-CODE]: 5000 of 200k; ours, UNSPECIFIED)."""
    replay: int = 20_000
    """masked-digits: replay capacity (§S2.6a: 20k)."""
    masked_batch: int = 64
    """masked-digits: minibatch of DDQN and the SL twin (§S2.6a: 64); REINFORCE updates once its finished
    episodes hold this many steps."""
    masked_lr: float = 2.5e-4
    """masked-digits: Adam step size of DDQN, the SL twin and REINFORCE (§S2.6a: 2.5e-4)."""
    eps_start: float = 0.95
    """masked-digits: initial ε (§S2.6a: 0.95)."""
    eps_end: float = 0.05
    """masked-digits: final ε (§S2.6a: 0.05)."""
    eps_decay: float = 0.5
    """masked-digits: fraction of the env steps over which ε decays linearly (§S2.6a: the first half)."""
    masked_min_effect: float = 0.3
    """Registered minimum effect (2026-12-05, before any masked-digits run) of the masked-digits headline
    "SL r(log ρ̄, gap) − DDQN r(log ρ̄, gap) > 0.3", per seed averaged over n_T >= `claim_min_train`, with the
    floor guard SL r > 0 (Fig 3.4: SL positive, DDQN negative given enough data), in Pearson-r units."""
    ddqn_min_effect: float = 0.0
    """Minimum effect of the masked-digits secondary claim "DDQN r(log ρ̄, gap) < 0" (per seed, averaged over
    n_T >= `claim_min_train`), in Pearson-r units: registered 2026-12-05 before any 5-seed run (it had been
    used, hard-coded, only in the one-seed trial `tdi-masked-1s`, which decides nothing)."""
    learned_min_effect: float = 0.1
    """Minimum effect of the masked-digits secondary claim "DDQN's training accuracy > chance (0.1)", in
    accuracy units: registered 2026-12-05 before any 5-seed run (used, hard-coded, only in the one-seed trial
    `tdi-masked-1s`)."""
    sl_output: str = "max_logit"
    """masked-digits: f of the SL twin's ρ̄: `max_logit` (as DDQN's max over outputs) or `max_prob` (the
    max softmax probability; §S2.2 [UNSPECIFIED], it saturates on a fitted classifier)."""
    claim_min_train: int = 100
    """masked-digits: the n_T values the claims average over (>= this; Fig 3.4: "given enough data")."""

    def __post_init__(self):
        super().__post_init__()
        self.methods, self.n_train = tuple(self.methods), tuple(int(n) for n in self.n_train)
        self.widths, self.depths = tuple(self.widths), tuple(self.depths)
        for m in self.methods:
            if m not in METHODS + MASKED_ONLY:
                raise ValueError(f"methods: unknown method '{m}', choose from {METHODS + MASKED_ONLY}")
        if not self.methods:
            raise ValueError("methods must not be empty")
        for n in self.n_train:
            if n < 10 or n % 10 or n > 1290:
                raise ValueError(f"n_train values must be multiples of 10 in [10, 1290], got {n}")
        if len(self.widths) * len(self.depths) < 3:
            raise ValueError("widths × depths must give at least 3 capacities (a correlation across them)")
        for name in ("seeds", "steps", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 2 <= self.interference_batch:
            raise ValueError(f"interference_batch must be >= 2, got {self.interference_batch}")
        if not 0 < self.lr <= 1:
            raise ValueError(f"lr must be in (0, 1], got {self.lr}")
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        if not 0 < self.tau <= 1:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if not 0 <= self.min_effect < 2:
            raise ValueError(f"min_effect must be in [0, 2) (Pearson r units), got {self.min_effect}")
        masked.check_config(self, TASKS)  # the task and the masked-digits / TD(λ) / ρ′ fields


SMOKE = Config(
    seeds=2,
    n_train=(20,),
    widths=(8, 16, 24),
    depths=(0,),
    steps=40,
    probe_every=20,
    methods=METHODS,
    rho_pairs=8,
)
DEFAULT = Config(methods=METHODS)
PAPER = Config(n_train=(20, 100, 300, 1000), steps=10_000, probe_every=2000, methods=METHODS)
"""§S2.6a's n_T and capacities on the digits chain (`--task masked-digits --methods regression td` for
the masked-digits MDP; the thesis's 200k env steps: `--env-steps 200000`)."""


def _digits(cfg: Config, n: int, seed: int, run_seed: int):
    from sklearn.datasets import load_digits

    d = load_digits()
    x, c = torch.tensor(d.data / 16.0, dtype=torch.float32), d.target
    train = masked.stratified(c[:1297], n, seeding.rng(run_seed, f"data/{n}/{seed}"))
    test = np.arange(1297, len(c))
    value = torch.tensor(cfg.gamma ** (9.0 - c), dtype=torch.float32)
    return (x[train], torch.tensor(c[train]), value[train]), (x[test], value[test])


def chain_lambda_targets(
    target: nn.Module, x, c, idx, by_class, rng, gamma: float, lam: float
) -> torch.Tensor:
    """G^λ (eq. 3.18) of the chain states x[idx] (classes c[idx]) from θ̄: one trajectory per state to the
    end of the chain (a random digit of each next class; reward 1 on leaving class 9, which ends it)."""
    cl = c[idx].tolist()
    rows = [(i, k) for i, ci in enumerate(cl) for k in range(ci, 10)]
    succ = [int(rng.choice(by_class[k + 1])) if k < 9 else 0 for _, k in rows]
    with torch.no_grad():
        nv = target(x[succ]).squeeze(1).double().numpy()
    last = np.array([k == 9 for _, k in rows])
    g = lambda_returns(last.astype(float), np.where(last, 0.0, nv), last, last, gamma, lam)
    first = [r for r, (i, k) in enumerate(rows) if k == cl[i]]
    return torch.tensor(g[first], dtype=torch.float32)


def _target(cfg, method, target, x, c, v, i, by_class, rng):
    """The regression target V, the TD(0) target γV̄(s′) (1 at class 9), or the TD(λ) return."""
    if method == "regression":
        return v[i]
    if method == "td_lambda":
        return chain_lambda_targets(target, x, c, i, by_class, rng, cfg.gamma, cfg.lam)
    ci = c[i].numpy()
    succ = np.array([rng.choice(by_class[k + 1]) if k < 9 else 0 for k in ci])
    with torch.no_grad():
        boot = cfg.gamma * target(x[succ]).squeeze(1)
    return torch.where(torch.tensor(ci == 9), torch.ones_like(boot), boot)


def train_unit(cfg: Config, run, method: str, n: int, width: int, depth: int, seed: int) -> dict:
    (x, c, v), (xt, vt) = _digits(cfg, n, seed, run.seed)
    net = masked.mlp(64, width, depth, 1, seeding.derive_seed(run.seed, f"init/{n}/{width}/{depth}/{seed}"))
    target = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = seeding.rng(run.seed, f"batches/{method}/{n}/{width}/{depth}/{seed}")
    by_class = [np.flatnonzero(c.numpy() == k) for k in range(10)]
    arm = f"{method}/n{n}/h{width}L{depth}/s{seed}"
    monitor = health_monitor(cfg, net, x, run.log, arm=arm, layers=[str(2 * depth + 1)])
    rho_step, rho_prime = max(1, round(cfg.rho_at * cfg.steps)), {}
    for t in range(1, cfg.steps + 1):
        i = rng.integers(0, len(x), cfg.batch)
        y = _target(cfg, method, target, x, c, v, i, by_class, rng)
        loss = 0.5 * (net(x[i]).squeeze(1) - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if method != "regression":
            with torch.no_grad():
                for pt, p in zip(target.parameters(), net.parameters()):
                    pt.lerp_(p, cfg.tau)
        monitor.step(t)
        if t == rho_step:  # its own stream: the training draws are unchanged by the measurement
            r2 = seeding.rng(run.seed, f"rho/{arm}")
            j = r2.permutation(len(x))[: cfg.rho_pairs]
            yj = _target(cfg, method, target, x, c, v, j, by_class, r2)
            rho_prime = masked.rho_summary(rho_prime_terms(net, x[j], yj)) | {"at": t}
    with torch.no_grad():
        train_mse = float((net(x).squeeze(1) - v).pow(2).mean())
        test_mse = float((net(xt).squeeze(1) - vt).pow(2).mean())
    probe = x[seeding.rng(run.seed, f"probe/{n}/{seed}").permutation(len(x))[: cfg.interference_batch]]
    rho = mean_pairwise(function_interference_matrix(net, probe))
    run.log({f"eval/gap/{arm}": test_mse - train_mse, f"eval/interference/{arm}": rho}, cfg.steps)
    # the floor of the ρ′ claim: the best constant fitted on the training digits (their mean V), on the test set
    const = float((vt - v.mean()).pow(2).mean())
    out = {"train_mse": train_mse, "test_mse": test_mse, "gap": test_mse - train_mse, "rho": rho}
    out["const_test_mse"] = const
    return out | {"rho_prime": rho_prime}


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    chain = cfg.task == "chain"
    sizes = cfg.n_train if chain else cfg.masked_n_train
    units = [
        (m, n, w, d, s)
        for s in range(cfg.seeds)
        for n in sizes
        for w in cfg.widths
        for d in cfg.depths
        for m in cfg.methods
    ]
    key = "{}/n{}/h{}L{}/s{}".format
    done = sum(key(*u) in state["done"] for u in units)
    with run.progress(len(units), f"td-interference ({cfg.task})", completed=done) as bar:
        for u in units:
            if key(*u) in state["done"]:
                continue
            if chain:
                state["done"][key(*u)] = train_unit(cfg, run, *u)
            else:
                arms = {"regression": masked.train_sl, "td": masked.train_ddqn, "reinforce": train_reinforce}
                state["done"][key(*u)] = arms[u[0]](cfg, run, *u[1:])
            run.save_checkpoint(state)
            bar.advance(1, method=u[0], seed=u[4])
    fields = ("methods", "seeds", "widths", "depths", "gamma", "tau", "lam", "rho_pairs", "rho_at")
    fields += (
        ("n_train", "steps", "batch", "lr")
        if chain
        else ("env_steps", "envs", "masked_batch", "masked_lr", "sl_output")
    )
    effects = ("min_effect", "rho_min_effect", "masked_min_effect", "ddqn_min_effect", "learned_min_effect")
    config = {k: getattr(cfg, k) for k in (*fields, *effects)}
    config |= (
        {"task": cfg.task}
        if chain
        else {"task": cfg.task, "n_train": sizes, "claim_min_train": cfg.claim_min_train}
    )
    return {"config": config, "results": state["done"]}


EXPERIMENT = Experiment(
    name="td-interference",
    headline="interference tracks the generalization gap in supervised learning",
    claim=(
        "Across network capacities at a fixed training-set size, supervised regression solutions with more "
        "function interference (mean ∇V(s)ᵀ∇V(s′) over pairs of training states) have a larger "
        "generalization gap: per-seed Pearson r(log ρ̄, gap) > 0; TD on the same values need not follow, "
        "and on the masked-image MDP DDQN's correlation is negative where the classifier's is positive "
        "(thesis §3.2, Fig 3.4)."
    ),
    source="E. Bengio, PhD thesis (McGill, 2022), §3.2 (Bengio, Pineau, Precup, ICML 2020)",
    check=(
        "Headline: the regression arm's per-seed r(log ρ̄, gap) across capacities, averaged over n_T, > 0 "
        "by min_effect (0.2) with the shared rule (95% CI and sign-flip test, >= 5 seeds). Secondary: "
        "regression r > TD r and the share of r₂ > 0 (ρ′, Fig 3.17) regression > TD, paired by seed, decided only "
        "once both arms' test MSE beats the constant predictor's (the digits chain, the default task). `--task masked-digits`: SL r − DDQN r > 0.3 over n_T >= 100 with "
        "the floor SL r > 0, paired by seed (§S2.6a)."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
