"""Compute-optimal transfer by zero-shot structured pruning (PRUNE, seed002 §3.6).

Per seed: a mini bottleneck ResNet (one block per stage, widths w/2w/4w, expansion 4; ResNet-50 in the
paper) is pretrained on 60% of scikit-learn's digits at 16×16 with ±1 px shifts and pixel noise (the
stand-in for ImageNet). It is pruned zero-shot (`replab.continual.pruning`: filter-magnitude ranking; inner
filters vs residual channels; the pruned channels removed physically) at each ratio, then every model is
fine-tuned (backbone + a fresh head, SGD with Nesterov momentum, constant lr after warm-up) on each target
task built from the other 40% of the digits, for each lr; the dev and test errors are read at every step
budget along the run. A point of the compute/error plane is (training FLOPs = 3 × forward FLOPs of the
pruned network × examples seen, test error), and a compute-optimal learner picks, under each FLOP budget,
the point with the best dev error (`replab.continual.metrics`' frontier, selected on dev).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from replab import seeding
from replab.continual.finetune import error, fit
from replab.continual.pruning import MODES, zero_shot_prune
from replab.data.nevis_mini import _digits, _transform
from replab.experiments import Experiment
from replab.experiments.continual._pruning_report import report
from replab.nn.count import TRAIN_FACTOR, flops
from replab.nn.resnet import ResNet
from replab.probe.health import HealthConfig, health_monitor

TARGETS = ("rot90", "invert", "parity", "gt4", "subset179", "blur", "down4", "attributes")
"""seed002 §3.6's eight targets: rotated 90°, inverted, parity, > 4, the class subset {1, 7, 9}, Gaussian
blur, 4×4 downsample + upsample, and the 3-label {even, > 4, has-loop} multi-label task."""


@dataclass
class Config(HealthConfig):
    probe_every: int = 50
    """Steps between two health measurements (pretraining, and each model's first fine-tune)."""
    probe_batch: int = 128
    seeds: int = 1
    """Seeds run inside this run (a sweep pools runs: `replab sweep pruning-transfer --seeds 5`)."""
    width: int = 16
    """Bottleneck widths (w, 2w, 4w); the embedding has 16w channels (expansion 4)."""
    pretrain_epochs: int = 30
    """Pretraining epochs on the source digits (seed002 §3.6: 30)."""
    pretrain_lr: float = 0.05
    pretrain_batch: int = 64
    targets: tuple[str, ...] = TARGETS
    """Target tasks (from the digits the pretraining never saw)."""
    ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 0.9)
    """Pruning ratios p > 0 (seed002 §3.6: 0.25, 0.5, 0.75, 0.9; p = 0 is the dense model)."""
    modes: tuple[str, ...] = MODES
    """filter: inner filters, embedding kept; channel: residual channels, embedding shrinks."""
    norm: int = 1
    """Filter score ‖F‖₁ (Li et al. 2017 [K]) or 2."""
    budgets: tuple[int, ...] = (25, 50, 100, 200, 400, 800)
    """Fine-tuning step budgets at batch `batch` (seed002 §3.6: 25 … 800), read along one run per lr."""
    lrs: tuple[float, ...] = (0.01, 0.03, 0.1)
    """Fine-tuning learning rates tried for every (model, target) (seed002 §3.6: 3 lr trials)."""
    batch: int = 32
    small_budget: int = 1
    """Index into `budgets`: the small compute budget C is the dense model's FLOPs at budgets[i]."""
    min_effect: float = 0.01
    """Registered minimum effect (2026-12-05, before any run), in test-error units, paired by (seed, task):
    for all three claims."""

    def __post_init__(self):
        super().__post_init__()
        self.targets, self.ratios, self.modes = tuple(self.targets), tuple(self.ratios), tuple(self.modes)
        self.budgets, self.lrs = tuple(int(b) for b in self.budgets), tuple(self.lrs)
        bad = [t for t in self.targets if t not in TARGETS]
        if bad or not self.targets:
            raise ValueError(f"targets: unknown {bad}, choose from {TARGETS}")
        if any(not 0 < r < 1 for r in self.ratios) or not self.ratios:
            raise ValueError(
                f"ratios must be in (0, 1) (0 is the dense model, always run), got {self.ratios}"
            )
        if any(m not in MODES for m in self.modes) or not self.modes:
            raise ValueError(f"modes must be from {MODES}, got {self.modes}")
        if list(self.budgets) != sorted(set(self.budgets)) or self.budgets[0] < 1:
            raise ValueError(f"budgets must be increasing positive step counts, got {self.budgets}")
        if not 0 <= self.small_budget < len(self.budgets):
            raise ValueError(
                f"small_budget must index budgets (0..{len(self.budgets) - 1}), got {self.small_budget}"
            )
        if any(lr <= 0 for lr in self.lrs) or not self.lrs:
            raise ValueError(f"lrs must be positive, got {self.lrs}")
        for name in ("seeds", "width", "pretrain_epochs", "pretrain_batch", "batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.norm not in (1, 2):
            raise ValueError(f"norm must be 1 or 2, got {self.norm}")
        if self.min_effect < 0:
            raise ValueError(f"min_effect must be >= 0, got {self.min_effect}")


SMOKE = Config(
    width=4, pretrain_epochs=1, targets=("parity", "attributes"), ratios=(0.5,), budgets=(4, 8), lrs=(0.05,),
    small_budget=0, probe_every=4, probe_batch=16,
)  # fmt: skip
DEFAULT = Config(budgets=(16, 32, 64, 128, 256), lrs=(0.02, 0.08))
"""Budgets 16 … 256 steps and 2 learning rates (seed002 §3.6: 25 … 800, 3 lrs) to fit ~10 CPU minutes."""
PAPER = Config(seeds=5, width=32)


def make_net(width: int) -> ResNet:
    return ResNet(
        layers=(1, 1, 1), widths=(width, 2 * width, 4 * width), block="bottleneck", in_channels=1,
        num_classes=0, stem="cifar", stem_channels=width,
    )  # fmt: skip


def _source_split(seed: int):
    """Pretraining images (60% of the digits) and the rest for the targets, by a seeded permutation."""
    x, y = _digits()
    perm = torch.from_numpy(seeding.rng(seed, "source-split").permutation(len(y)))
    k = int(0.6 * len(y))
    return (x[perm[:k]], y[perm[:k]]), (x[perm[k:]], y[perm[k:]])


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """±1 px shifts (one per image, zero padding) and N(0, 0.1) pixel noise (seed002 §3.6)."""
    pad = F.pad(x, (1, 1, 1, 1))
    dx, dy = torch.randint(0, 3, (2, len(x)), generator=g)
    out = torch.stack(
        [pad[i, :, dy[i] : dy[i] + x.shape[2], dx[i] : dx[i] + x.shape[3]] for i in range(len(x))]
    )
    return out + 0.1 * torch.randn(out.shape, generator=g)


def pretrain(cfg: Config, x, y, seed: int, log) -> tuple[ResNet, float]:
    """The source model (backbone; its head is dropped) and its source training accuracy."""
    with torch.random.fork_rng():
        torch.manual_seed(seeding.derive_seed(seed, "pretrain-init") % 2**63)
        net = nn.Sequential(make_net(cfg.width), nn.Linear(16 * cfg.width, 10))
    g = seeding.generator(seed, "pretrain-batches")
    steps = cfg.pretrain_epochs * max(1, len(x) // cfg.pretrain_batch)
    opt = torch.optim.SGD(
        net.parameters(), lr=cfg.pretrain_lr, momentum=0.9, nesterov=True, weight_decay=1e-4
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    monitor = health_monitor(cfg, net[0], x, log, arm="pretrain")
    net.train()
    for t in range(1, steps + 1):
        idx = torch.randint(0, len(x), (cfg.pretrain_batch,), generator=g)
        loss = F.cross_entropy(net(_augment(x[idx], g)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        monitor.step(t)
        if t % 50 == 0 or t == steps:
            log({"loss/pretrain": loss.item()}, t)
    return net[0].eval(), 1 - error(net, x, y, "single")


def target_task(name: str, x, y, seed: int):
    """(train, dev, test) splits 50/20/30% of a target built from the held-out digits, standardised."""
    g = seeding.generator(seed, f"target/{name}")
    tx, ty, kind, classes = _transform(name, x, y, g)
    if kind == "single":
        keep = ty >= 0
        tx, ty = tx[keep], ty[keep]
    perm = torch.from_numpy(seeding.rng(seed, f"target-split/{name}").permutation(len(tx)))
    a, b = int(0.5 * len(tx)), int(0.7 * len(tx))
    tr, dv, te = perm[:a], perm[a:b], perm[b:]
    mean, std = tx[tr].mean(), tx[tr].std()
    tx = (tx - mean) / std
    return kind, classes, (tx[tr], ty[tr]), (tx[dv], ty[dv]), (tx[te], ty[te])


def _models(cfg: Config, source: ResNet) -> dict[str, ResNet]:
    models = {"dense": zero_shot_prune(source, "filter", 0.0)}
    for mode in cfg.modes:
        for r in cfg.ratios:
            models[f"{mode}/{r:g}"] = zero_shot_prune(source, mode, r, norm=cfg.norm)
    return models


def finetune_unit(cfg: Config, model: ResNet, task, lr: float, seed: int, monitor_factory=None) -> dict:
    """Dev and test error at each budget of one fine-tuning run of `model` (copied) on `task`;
    `monitor_factory(backbone)` gives the health Monitor of the backbone being fine-tuned (or None)."""
    kind, classes, train, dev, test = task
    with torch.random.fork_rng():
        torch.manual_seed(seed % 2**63)
        head = nn.Linear(model.out_channels, classes)
    net = nn.Sequential(copy.deepcopy(model), head)
    monitor = monitor_factory(net[0]) if monitor_factory is not None else None
    at = {}

    def on_eval(t, n):
        if t in cfg.budgets:
            at[t] = error(n, *test, kind)

    result = fit(
        net, train, dev, kind=kind, lr=lr, steps=cfg.budgets[-1], batch=cfg.batch,
        generator=seeding.generator(seed, "finetune-batches"), eval_every=cfg.budgets[-1], grace=0,
        schedule="constant", eval_at=cfg.budgets, monitor=monitor, on_eval=on_eval,
    )  # fmt: skip
    dev_at = dict(result.curve)
    return {"dev": [dev_at[b] for b in cfg.budgets], "test": [at[b] for b in cfg.budgets]}


def run(cfg: Config, run) -> dict:
    state = run.load_checkpoint() or {"done": {}, "sources": {}}
    shape = (1, 16, 16)
    n_models = 1 + len(cfg.modes) * len(cfg.ratios)
    total = cfg.seeds * len(cfg.targets) * n_models * len(cfg.lrs)
    with run.progress(total, "pruning-transfer", completed=len(state["done"])) as bar:
        for s in range(cfg.seeds):
            seed = seeding.derive_seed(run.seed, f"seed/{s}")
            src, rest = _source_split(seed)
            if str(s) not in state["sources"]:
                source, acc = pretrain(cfg, *src, seed, lambda m, t, s=s: run.log(m, t) if s == 0 else None)
                state["sources"][str(s)] = {"weights": source.state_dict(), "source_accuracy": acc}
                run.save_checkpoint(state)
            source = make_net(cfg.width)
            source.load_state_dict(state["sources"][str(s)]["weights"])
            source.eval()
            models = _models(cfg, source)
            fwd = {k: flops(m, shape) for k, m in models.items()}
            params = {k: sum(p.numel() for p in m.parameters()) for k, m in models.items()}
            state["sources"][str(s)]["flops"] = fwd
            state["sources"][str(s)]["params"] = params
            state["sources"][str(s)]["embedding"] = {k: m.out_channels for k, m in models.items()}
            for ti, target in enumerate(cfg.targets):
                task = target_task(target, *rest, seed)
                for name, model in models.items():
                    for li, lr in enumerate(cfg.lrs):
                        key = f"{s}/{target}/{name}/{lr:g}"
                        if key in state["done"]:
                            continue
                        factory = None
                        if ti == 0 and li == 0 and s == 0:  # each model's first fine-tune is watched
                            factory = _monitor_factory(cfg, run, task[2][0], name)
                        unit_seed = seeding.derive_seed(seed, f"ft/{target}/{name}/{lr:g}")
                        out = finetune_unit(cfg, model, task, lr, unit_seed, monitor_factory=factory)
                        out["flops"] = [TRAIN_FACTOR * fwd[name] * cfg.batch * b for b in cfg.budgets]
                        out["chance"] = _chance(task)
                        state["done"][key] = out
                        run.save_checkpoint(state)
                        bar.advance(1, target=target, model=name)
    for v in state["sources"].values():
        v.pop("weights", None)
    return {"config": asdict(cfg), "sources": state["sources"], "results": state["done"]}


def _monitor_factory(cfg: Config, run, x: torch.Tensor, arm: str):
    def make(model):
        return health_monitor(cfg, model, x, run.log, arm=arm)

    return make


def _chance(task) -> float:
    """The floor: test error of a uniform guess (single-label) or 1 − mAP of constant scores (multi-label,
    where AP equals the positive rate)."""
    kind, classes, train, dev, test = task
    if kind == "single":
        return 1 - 1 / classes
    return float(1 - test[1].float().mean(0).mean())


EXPERIMENT = Experiment(
    name="pruning-transfer",
    headline="zero-shot filter pruning wins at low compute",
    claim=(
        "Zero-shot structured pruning of a pretrained network's convolutional filters trades a little "
        "asymptotic performance for compute efficiency: at small fine-tuning budgets pruned models dominate "
        "the error-per-FLOP frontier (>20% better in low-compute regimes), at large budgets the dense model "
        "is best, and filter pruning beats channel pruning."
    ),
    source="Caccia et al. 2023, Towards Compute-Optimal Transfer Learning (arXiv 2304.13164); seed002 §3",
    check=(
        "Three headline decisions paired by (seed, task) with the shared rule (95% CI, sign-flip test, >= 5 "
        "seeds, min_effect 0.01 test error, after beating chance): (1) at the dense model's FLOPs of the small "
        "budget the filter-pruned frontier's error is below the dense frontier's; (2) at the largest FLOPs the "
        "dense frontier's error is below the pruned one's; (3) the mean frontier error over log-FLOPs of "
        "filter pruning is below channel pruning's. Frontier points are chosen on dev, scored on test."
    ),
    config=Config,
    presets={"smoke": SMOKE, "default": DEFAULT, "paper": PAPER},
    run=run,
    report=report,
)
