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
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from replab import seeding
from replab.experiments import Experiment
from replab.experiments.bootstrapping._td_interference_report import report
from replab.probe.health import HealthConfig, health_monitor
from replab.probe.interference import function_interference_matrix, mean_pairwise

METHODS = ("regression", "td")


@dataclass
class Config(HealthConfig):
    methods: tuple[str, ...] = METHODS
    """`regression` (supervised, to V) and/or `td` (TD(0), EMA target)."""
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
    `probe_batch` training digits)."""

    def __post_init__(self):
        super().__post_init__()
        self.methods, self.n_train = tuple(self.methods), tuple(int(n) for n in self.n_train)
        self.widths, self.depths = tuple(self.widths), tuple(self.depths)
        for m in self.methods:
            if m not in METHODS:
                raise ValueError(f"methods: unknown method '{m}', choose from {METHODS}")
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


SMOKE = Config(seeds=2, n_train=(20,), widths=(8, 16, 24), depths=(0,), steps=40, probe_every=20)
DEFAULT = Config()
PAPER = Config(n_train=(20, 100, 300, 1000), steps=10_000, probe_every=2000)
"""§S2.6a's n_T and capacities on the digits chain (not the masked-digits MDP)."""


def _digits(cfg: Config, n: int, seed: int, run_seed: int):
    from sklearn.datasets import load_digits

    d = load_digits()
    x, c = torch.tensor(d.data / 16.0, dtype=torch.float32), d.target
    rng = seeding.rng(run_seed, f"data/{n}/{seed}")
    train = np.concatenate([rng.permutation(np.flatnonzero(c[:1297] == k))[: n // 10] for k in range(10)])
    test = np.arange(1297, len(c))
    value = torch.tensor(cfg.gamma ** (9.0 - c), dtype=torch.float32)
    return (x[train], torch.tensor(c[train]), value[train]), (x[test], value[test])


def _net(width: int, depth: int, seed: int) -> nn.Sequential:
    """PyTorch's default Linear bounds (±1/√fan_in), drawn from a per-unit generator (not the global RNG)."""
    g, layers, d_in = torch.Generator().manual_seed(seed), [], 64
    for _ in range(1 + depth):
        layers += [nn.Linear(d_in, width), nn.LeakyReLU(0.01)]
        d_in = width
    net = nn.Sequential(*layers, nn.Linear(d_in, 1))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                bound = 1 / m.in_features**0.5
                m.weight.uniform_(-bound, bound, generator=g)
                m.bias.uniform_(-bound, bound, generator=g)
    return net


def train_unit(cfg: Config, run, method: str, n: int, width: int, depth: int, seed: int) -> dict:
    (x, c, v), (xt, vt) = _digits(cfg, n, seed, run.seed)
    net = _net(width, depth, seeding.derive_seed(run.seed, f"init/{n}/{width}/{depth}/{seed}"))
    target = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = seeding.rng(run.seed, f"batches/{method}/{n}/{width}/{depth}/{seed}")
    by_class = [np.flatnonzero(c.numpy() == k) for k in range(10)]
    arm = f"{method}/n{n}/h{width}L{depth}/s{seed}"
    monitor = health_monitor(cfg, net, x, run.log, arm=arm, layers=[str(2 * depth + 1)])
    for t in range(1, cfg.steps + 1):
        i = rng.integers(0, len(x), cfg.batch)
        pred = net(x[i]).squeeze(1)
        if method == "regression":
            y = v[i]
        else:
            ci = c[i].numpy()
            succ = np.array([rng.choice(by_class[k + 1]) if k < 9 else 0 for k in ci])
            last = torch.tensor(ci == 9)
            with torch.no_grad():
                boot = cfg.gamma * target(x[succ]).squeeze(1)
            y = torch.where(last, torch.ones_like(boot), boot)
        loss = 0.5 * (pred - y).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if method == "td":
            with torch.no_grad():
                for pt, p in zip(target.parameters(), net.parameters()):
                    pt.lerp_(p, cfg.tau)
        monitor.step(t)
    with torch.no_grad():
        train_mse = float((net(x).squeeze(1) - v).pow(2).mean())
        test_mse = float((net(xt).squeeze(1) - vt).pow(2).mean())
    probe = x[seeding.rng(run.seed, f"probe/{n}/{seed}").permutation(len(x))[: cfg.interference_batch]]
    rho = mean_pairwise(function_interference_matrix(net, probe))
    run.log({f"eval/gap/{arm}": test_mse - train_mse, f"eval/interference/{arm}": rho}, cfg.steps)
    return {"train_mse": train_mse, "test_mse": test_mse, "gap": test_mse - train_mse, "rho": rho}


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    units = [
        (m, n, w, d, s)
        for s in range(cfg.seeds)
        for n in cfg.n_train
        for w in cfg.widths
        for d in cfg.depths
        for m in cfg.methods
    ]
    key = "{}/n{}/h{}L{}/s{}".format
    done = sum(key(*u) in state["done"] for u in units)
    with run.progress(len(units), "td-interference", completed=done) as bar:
        for u in units:
            if key(*u) in state["done"]:
                continue
            state["done"][key(*u)] = train_unit(cfg, run, *u)
            run.save_checkpoint(state)
            bar.advance(1, method=u[0], seed=u[4])
    fields = ("methods", "seeds", "n_train", "widths", "depths", "steps", "batch", "lr", "gamma", "tau")
    return {"config": {k: getattr(cfg, k) for k in (*fields, "min_effect")}, "results": state["done"]}


EXPERIMENT = Experiment(
    name="td-interference",
    headline="interference tracks the generalization gap in supervised learning",
    claim=(
        "Across network capacities at a fixed training-set size, supervised regression solutions with more "
        "function interference (mean ∇V(s)ᵀ∇V(s′) over pairs of training states) have a larger "
        "generalization gap: per-seed Pearson r(log ρ̄, gap) > 0; TD(0) on the same values need not follow "
        "(thesis §3.2, Fig 3.4)."
    ),
    source="E. Bengio, PhD thesis (McGill, 2022), §3.2 (Bengio, Pineau, Precup, ICML 2020)",
    check=(
        "Headline: the regression arm's per-seed r(log ρ̄, gap) across capacities, averaged over n_T, > 0 "
        "by min_effect (0.2) with the shared rule (95% CI and sign-flip test, >= 5 seeds). Secondary: "
        "regression r > TD r paired by seed. A digits chain MDP, not the masked-digits MDP."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
