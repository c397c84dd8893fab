"""TD loss gain vs temporal offset: regression, Q-learning and TD(λ) on a CartPole expert buffer (seed004
§S2.6b, the reduced plan of the thesis's Atari Figs 3.7–3.9 and 3.12–3.13), or a MinAtar one (`task`).

Data: 50k transitions of a heuristic CartPole expert (push right iff θ + 0.5·θ̇ > 0, ε = 5%), with
trajectory indices (`replab.envs.cartpole_expert`; the thesis: a Rainbow expert's 500k-transition buffer
D*). Model: MLP 4 → 64 → 64 → 2 LeakyReLU(0.01), Adam 1e-4, minibatch 32 (§S2.3: lr 1e-4, batch 32, γ =
0.99; no L2, which the reduced plan omits). `task="minatar"` swaps in a heuristic MinAtar Breakout expert
(`replab.envs.minatar_expert`, ε = 5%) and MinAtar's conv Q-network (`_td_gain_tasks.py`); the rest is
the same code. Objectives, all regressions of Q_θ(s_t, a_t) to a target y:

- `mc`: the discounted return G^{D*}(s_t) (L_MC of §3.2.2.4);
- `ql`: Q-learning policy evaluation ("Batch Q", eq. 3.17), y = r + γ max_a Q_θ̄(s′, a), θ̄ frozen and
  copied every `target_every` updates (§S2.6b: 1k; the thesis: 10k);
- `lambda`: forward-view TD(λ) (eq. 3.18–3.19) for each λ in `lambdas`, the λ-returns of the whole buffer
  recomputed from θ̄ whenever it is copied (the thesis's appendix: "cheaply recompute all λ-targets");
- `control` (opt-in, not in the default `objectives`): Q-learning *control* (Fig 3.8's full lines), an
  ε-greedy agent learning from scratch on its own replay with trajectory indices, probed the same way
  (`_td_gain_control.py`).

The bootstrap action: eq. 3.17 (seed text §3.2.2.4) takes max_a for Q-learning (`ql_bootstrap="max"`);
eq. 3.18 writes V(S_{t+n}) and says "the return depends implicitly on the trajectory and the actions
followed from S_t", i.e. the evaluation of the data's policy, so TD(λ) bootstraps with the logged next
action Q_θ̄(s′, a′) (`lambda_bootstrap="logged"`; λ = 1 is then the `mc` regression up to the cut at the
stored horizon — CartPole's 500-step limit, MinAtar's 1000 stored steps — and λ = 0 differs from `ql` only by max vs logged). Both are flags.

Probe (§S2.2, §S2.6b): every `gain_every` updates, `gain_positions` buffer positions; for each, one SGD
step of size `probe_lr` on that sample's own loss (a functional copy), and gain(k) = L_before − L_after at
s_{t+k}, k ∈ [−30, 30] on the same trajectory, L the pointwise Q-learning loss of eq. 3.17 with the live
network as target (`gain_loss="ql"`, as the thesis measures every objective, Fig 3.7) or each objective's
own loss (`"own"`); beside it the first-order prediction α∇Lᵀ∇J and the cosine of the per-sample
gradients of the objective (`replab.probe.td_gain`). Squared loss (the thesis's eq. 3.17; its code uses
smooth-L1). Sign variance of the TD(0) errors in windows of 5 is measured at the end.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from replab import seeding
from replab.errors import require_extra
from replab.experiments import Experiment
from replab.experiments.bootstrapping._td_gain_control import train_control
from replab.experiments.bootstrapping._td_gain_parts import (
    GAIN_LOSSES,
    SERIES_ROWS,
    GainRecord,
    MaxQ,  # noqa: F401 (re-exported: the module's public parts stay importable from here)
    _sign_variance,
    final_summary,
    health,
    own_loss,  # noqa: F401
    ql_loss,  # noqa: F401
)
from replab.experiments.bootstrapping._td_gain_report import report
from replab.experiments.bootstrapping._td_gain_tasks import TASKS
from replab.probe.health import HealthConfig
from replab.probe.td_lambda import lambda_returns

OBJECTIVES = ("mc", "ql", "lambda")
"""The default objectives (DEFAULT's stored config); `CHOICES` adds the opt-in `control` arm."""
CHOICES = OBJECTIVES + ("control",)
BOOTSTRAPS = ("max", "logged")


@dataclass
class Config(HealthConfig):
    task: str = "cartpole"
    """The expert buffer and Q-network (`_td_gain_tasks.py`): 'cartpole' (§S2.6b's reduction) or 'minatar'
    (MinAtar Breakout, a heuristic ε-expert and MinAtar's conv net: the thesis's Atari setting, §S2.3, in
    miniature)."""
    objectives: tuple[str, ...] = OBJECTIVES
    """`mc` (regression to returns), `ql` (Q-learning policy evaluation), `lambda` (TD(λ), one arm per λ);
    opt-in: `control` (Q-learning control on its own ε-greedy replay, `_td_gain_control.py`)."""
    lambdas: tuple[float, ...] = (0.0, 0.5, 0.9, 1.0)
    """λ values of the `lambda` objective (§S2.6b)."""
    seeds: int = 5
    """Seeds (the buffer D*, initialisation, minibatches, probe positions); all arms of a seed share them."""
    transitions: int = 50_000
    """Buffer size (§S2.6b: 50k)."""
    epsilon: float = 0.05
    """Random-action rate of the expert (§S2.3: 5%)."""
    gamma: float = 0.99
    """Discount (§S2.3: 0.99)."""
    tail: int = 700
    """Steps the expert's rollout continues past the stored horizon (CartPole's 500-step limit; MinAtar: 1000
    stored steps) for the Monte-Carlo returns (ours)."""
    width: int = 64
    """Hidden width of the CartPole MLP's two hidden layers (§S2.6b: 64)."""
    minatar_net: tuple[int, int] = (16, 128)
    """(conv channels, hidden units) of the `minatar` task's Q-network (Young & Tian 2019: 16 and 128)."""
    lr: float = 1e-4
    """Adam step size (§S2.3, §S2.6b: 1e-4)."""
    batch: int = 32
    """Minibatch size (§S2.3: 32)."""
    steps: int = 20_000
    """Adam updates per arm (the thesis: 500k on Atari; §S2.6b sizes the whole plan at ≈ 10 min)."""
    target_every: int = 1000
    """Updates between two copies of the frozen target θ̄ ← θ (§S2.6b: 1k; the thesis: 10k)."""
    ql_bootstrap: str = "max"
    """Bootstrap of `ql`: 'max' (eq. 3.17) or 'logged' (Q_θ̄(s′, a′), SARSA)."""
    lambda_bootstrap: str = "logged"
    """Bootstrap of `lambda`: 'logged' (V = Q_θ̄(s, a) of the data's action, eq. 3.18) or 'max'."""
    gain_every: int = 500
    """Updates between two gain probes (§S2.6b: 500; the reference code: 1000)."""
    gain_positions: int = 32
    """Update samples per probe (§S2.6b: 32)."""
    max_offset: int = 30
    """Offsets k ∈ [−max_offset, max_offset] (§S2.2: 30)."""
    near: int = 10
    """The claims' near offsets 1 ≤ |k| ≤ near (Fig 3.7: constructive "especially from −10 to 10")."""
    probe_lr: float = 1e-7
    """SGD step size of the probe's single-sample update. Small enough that the gain is in its first-order
    regime (the thesis: gain ≈ α × interference, §3.2.2.4); at 1e-4 (the Adam lr) a plain SGD step on the
    regression sample overshot (measured gain −11 against a first-order +1.9 at k = 0, our first trial).
    The report's "1st-order error" column checks the regime."""
    gain_loss: str = "ql"
    """The measured loss: 'ql' (eq. 3.17, live target, the thesis's yardstick) or 'own' (each objective's)."""
    min_effect: float = 0.0
    """Registered minimum effect of the headline (registered 2026-12-05 before any run), in loss units of
    one probe step: mean near gain of `mc` − that of `ql` must exceed it, paired by seed, and `mc`'s gain
    must exceed 0 (the floor: a constructive update). 0 because the gain's scale is set by `probe_lr`
    (first order in α); the thesis reports "more than an order of magnitude" (Fig 3.8)."""
    lambda_min_effect: float = 0.0
    """Registered minimum effect of the secondary claim (near gain at λ = 0.9 − at λ = 0), same units."""
    probe_every: int = 2000
    """Updates between two measurements of the health monitor (second hidden layer, buffer states; plus
    the mean function and TD interference on 64 buffer transitions, ≈ 40 ms a measurement)."""

    def __post_init__(self):
        super().__post_init__()
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {tuple(TASKS)}, got {self.task!r}")
        if self.task == "minatar":  # before a run's store row exists, not mid-run
            require_extra("minatar", "minatar")
        self.minatar_net = tuple(int(x) for x in self.minatar_net)
        if len(self.minatar_net) != 2 or min(self.minatar_net) < 1:
            raise ValueError(f"minatar_net must be two sizes >= 1 (channels, hidden), got {self.minatar_net}")
        self.objectives = tuple(self.objectives)
        self.lambdas = tuple(float(x) for x in self.lambdas)
        for o in self.objectives:
            if o not in CHOICES:
                raise ValueError(f"objectives: unknown objective '{o}', choose from {CHOICES}")
        if not self.objectives:
            raise ValueError("objectives must not be empty")
        if "lambda" in self.objectives and not self.lambdas:
            raise ValueError("lambdas must not be empty when objectives include 'lambda'")
        for lam in self.lambdas:
            if not 0 <= lam <= 1:
                raise ValueError(f"lambdas must lie in [0, 1], got {lam}")
        for name, value, menu in (
            ("ql_bootstrap", self.ql_bootstrap, BOOTSTRAPS),
            ("lambda_bootstrap", self.lambda_bootstrap, BOOTSTRAPS),
            ("gain_loss", self.gain_loss, GAIN_LOSSES),
        ):
            if value not in menu:
                raise ValueError(f"{name} must be one of {menu}, got {value!r}")
        for name in ("seeds", "steps", "batch", "width", "target_every", "gain_every", "gain_positions"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.transitions < 2 * self.max_offset + 2:
            raise ValueError(f"transitions must be >= 2 × max_offset + 2, got {self.transitions}")
        if not 1 <= self.near <= self.max_offset:
            raise ValueError(f"near must be in [1, max_offset={self.max_offset}], got {self.near}")
        if not 0 <= self.epsilon <= 1:
            raise ValueError(f"epsilon must be in [0, 1], got {self.epsilon}")
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        for name in ("lr", "probe_lr"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        if self.tail < 0:
            raise ValueError(f"tail must be >= 0, got {self.tail}")

    def arms(self) -> list[str]:
        out = [o for o in self.objectives if o != "lambda"]
        if "lambda" in self.objectives:
            out += [arm_name(lam) for lam in self.lambdas]
        return out


def arm_name(lam: float) -> str:
    return f"lambda{lam:g}"


SMOKE = Config(
    seeds=2,
    lambdas=(0.0, 0.9),
    transitions=1500,
    tail=50,
    steps=40,
    target_every=20,
    gain_every=20,
    gain_positions=4,
    max_offset=5,
    near=2,
    probe_every=20,
    probe_batch=64,
)
DEFAULT = Config()
PAPER = Config(transitions=500_000, steps=500_000, target_every=10_000, gain_every=1000, probe_every=10_000)
"""The thesis's Atari scale on the CartPole buffer: 500k transitions and updates, θ̄ every 10k, probes
every 1000 (the reference code's interval)."""


def _net(cfg: Config, seed: int) -> nn.Module:
    """The task's Q-network (`_td_gain_tasks.py`), drawn from a per-seed generator (every arm of a seed
    starts from the same network)."""
    return TASKS[cfg.task].net(cfg, seed)


def _bootstrap(q_next: torch.Tensor, a_next: torch.Tensor, kind: str) -> torch.Tensor:
    return q_next.max(1).values if kind == "max" else q_next.gather(1, a_next[:, None]).squeeze(1)


def targets(cfg: Config, arm: str, data: dict, frozen: nn.Module) -> torch.Tensor:
    """The objective's regression targets for the whole buffer from θ̄ (float32, (N,))."""
    if arm == "mc":
        return data["returns"]
    with torch.no_grad():
        q_next = frozen(data["s2"])
    if arm == "ql":
        return data["r"] + data["disc"] * _bootstrap(q_next, data["a2"], cfg.ql_bootstrap)
    lam = float(arm.removeprefix("lambda"))
    v = _bootstrap(q_next, data["a2"], cfg.lambda_bootstrap).double().numpy()
    g = lambda_returns(data["r"].numpy(), v, data["terminal"].numpy(), data["last"].numpy(), cfg.gamma, lam)
    return torch.as_tensor(g, dtype=torch.float32)


def _data(cfg: Config, run_seed: int, seed: int) -> dict:
    task = TASKS[cfg.task]
    d = task.collect(
        cfg.transitions,
        seeding.derive_seed(run_seed, f"data/{seed}"),
        epsilon=cfg.epsilon,
        gamma=cfg.gamma,
        tail=cfg.tail,
    )
    t = {
        "s": torch.as_tensor(d["obs"]),
        "s2": torch.as_tensor(d["next_obs"]),
        "a": torch.as_tensor(d["action"]),
        "a2": torch.as_tensor(d["next_action"]),
        "r": torch.as_tensor(d["reward"]),
        "returns": torch.as_tensor(d["returns"]),
        "terminal": torch.as_tensor(d["terminal"]),
        "last": torch.as_tensor(d["last"]),
        "traj": torch.as_tensor(d["traj"]),
    }
    t["a_hot"] = nn.functional.one_hot(t["a"], task.n_actions).float()
    t["disc"] = cfg.gamma * (1 - t["terminal"].float())
    return t


def train_unit(cfg: Config, run, arm: str, seed: int, data: dict) -> dict:
    net = _net(cfg, seeding.derive_seed(run.seed, f"init/{seed}"))
    frozen = copy.deepcopy(net).requires_grad_(False)
    y = targets(cfg, arm, data, frozen)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    batches = seeding.rng(run.seed, f"batches/{seed}")  # the same stream for every arm of the seed
    positions = seeding.rng(run.seed, f"positions/{seed}")
    n = len(y)
    monitor = health(cfg, run, net, arm, seed, data)
    record = GainRecord(cfg)
    for t in range(1, cfg.steps + 1):
        i = torch.as_tensor(batches.integers(0, n, cfg.batch))
        pred = (net(data["s"][i]) * data["a_hot"][i]).sum(1)
        loss = (pred - y[i]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if arm != "mc" and t % cfg.target_every == 0:
            frozen.load_state_dict(net.state_dict())
            y = targets(cfg, arm, data, frozen)
        if t % cfg.gain_every == 0:
            centres = torch.as_tensor(positions.integers(0, n, cfg.gain_positions))
            rows = {key: data[key] for key in ("s", "s2", "a_hot", "r", "disc")} | {"y": y}
            sv = _sign_variance(net, data, SERIES_ROWS)
            near_gain, cos = record.probe(net, rows, centres, data["traj"], t, sv)
            run.log({f"eval/gain_near/{arm}/s{seed}": near_gain, f"eval/cosine_near/{arm}/s{seed}": cos}, t)
        if t % max(1, cfg.steps // 20) == 0:
            run.log({f"loss/train/{arm}/s{seed}": float(loss.detach())}, t)
        monitor.step(t)
    every = torch.ones(n, dtype=torch.bool)  # the buffer's returns are known on every row
    return {**record.result(), **final_summary(run, cfg, net, data, data["returns"], every, arm, seed)}


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}}
    units = [(arm, s) for s in range(cfg.seeds) for arm in cfg.arms()]
    done = sum(f"{a}/s{s}" in state["done"] for a, s in units)
    data, data_seed = None, None
    with run.progress(len(units), f"td-gain ({cfg.task})", completed=done) as bar:
        for arm, s in units:
            key = f"{arm}/s{s}"
            if key in state["done"]:
                continue
            if data_seed != s:
                data, data_seed = _data(cfg, run.seed, s), s
            if arm == "control":
                state["done"][key] = train_control(cfg, run, s, data)
            else:
                state["done"][key] = train_unit(cfg, run, arm, s, data)
            run.save_checkpoint(state)
            bar.advance(1, arm=arm, seed=s)
    fields = (
        "task", "objectives", "lambdas", "seeds", "transitions", "epsilon", "gamma", "width", "minatar_net", "lr", "batch", "steps",
        "target_every", "ql_bootstrap", "lambda_bootstrap", "gain_every", "gain_positions", "max_offset", "near",
        "probe_lr", "gain_loss", "min_effect", "lambda_min_effect",
    )  # fmt: skip
    return {"config": {k: getattr(cfg, k) for k in fields} | {"arms": cfg.arms()}, "results": state["done"]}


EXPERIMENT = Experiment(
    name="td-gain",
    headline="regression propagates its updates to neighbouring states more than TD",
    claim=(
        "One update on a sample of a stored trajectory lowers the Q-learning loss of the states around it "
        "(1 ≤ |k| ≤ 10 steps away) more when the objective regresses to Monte-Carlo returns than when it is "
        "Q-learning policy evaluation (thesis §3.2.2.4, Figs 3.7–3.8: TD's gain is \"more than an order of "
        'magnitude smaller"; decided here as a difference > 0, not a ratio); TD(λ) gains rise with λ (Fig 3.13).'
    ),
    source="E. Bengio, PhD thesis (McGill, 2022), §3.2.2.4 and §3.2.3.1 (Bengio, Pineau, Precup, ICML 2020)",
    check=(
        "Headline: mean gain over 1 ≤ |k| ≤ 10 of `mc` − `ql`, paired by seed, > min_effect (0) with the "
        "shared rule (95% CI and sign-flip test, >= 5 seeds), `mc`'s gain above the floor 0. Secondary: "
        "λ = 0.9 above λ = 0 by lambda_min_effect (0). A CartPole heuristic expert (`--task minatar`: a "
        "MinAtar Breakout one), not Atari's Rainbow."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
