"""NEVIS'22 baselines (seed002 §7.2, `experiments_jax/configs`): Independent, Previous, Dynamic-kNN.

All three fine-tune a backbone + a fresh per-task linear head with a per-task learning-rate search
(`trials` runs; the best dev error wins) and differ only in where each task's backbone starts:

- `independent`: a fresh initialisation (a new model per task);
- `previous`: the backbone the previous task ended with;
- `dynamic` (`finetuning_dknn`): the stored past backbone whose features score best by kNN accuracy on the
  new task's dev split (neighbours from its train split); seed002 §7.6.

Search: NEVIS draws lr ~ log-U[1e-4, 1e-1] and label smoothing ~ U[0, 0.3] per trial, independently
(`lr_draws="random"`, the default); `lr_draws="stratified"` draws trial k's log-lr uniformly in the k-th of
`trials` equal parts of [log lr_min, log lr_max] (so 3 trials cover the range; NEVIS-mini's DEFAULT).
Label smoothing ~ U[0, label_smoothing_max] either way.
FLOPs (`ResourceUsage`) count every trial's training (3× forward per example) and dev evaluations
(forward), and Dynamic's kNN scoring (a forward pass of train + dev per candidate); all randomness is
drawn from generators seeded by (seed, task, trial), so a resumed stream repeats exactly.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from replab import seeding
from replab.continual.finetune import fit, predict_scores
from replab.continual.learner import PredictionEvent, ResourceUsage, TrainingEvent
from replab.nn.count import TRAIN_FACTOR, count, flops

INITS = ("independent", "previous", "dynamic")


@dataclass
class SearchConfig:
    trials: int = 3
    """Learning-rate trials per task (seed002 §7.6: 3)."""
    lr_min: float = 1e-4
    """Lower end of the lr search (NEVIS: 1e-4)."""
    lr_max: float = 1e-1
    """Upper end of the lr search (NEVIS: 1e-1)."""
    label_smoothing_max: float = 0.3
    """Label smoothing ~ U[0, this] per trial, single-label tasks (NEVIS: 0.3)."""
    max_steps: int = 300
    """Steps per trial at most (NEVIS: 50,000)."""
    batch: int = 32
    eval_every: int = 25
    """Steps between dev evaluations (early stopping)."""
    grace: int = 4
    """Evaluations without a better dev error before a trial stops (NEVIS: 10)."""
    knn_k: int = 5
    """Neighbours of Dynamic-kNN's transfer score."""
    lr_draws: str = "random"
    """"random": each trial's log-lr uniform on the whole range (NEVIS); "stratified": trial k's in the k-th
    of `trials` equal parts."""

    def __post_init__(self):
        if self.lr_draws not in ("random", "stratified"):
            raise ValueError(f"lr_draws must be 'random' (NEVIS) or 'stratified', got {self.lr_draws!r}")
        if self.trials < 1 or self.max_steps < 1 or self.batch < 1 or self.eval_every < 1 or self.knn_k < 1:
            raise ValueError("trials, max_steps, batch, eval_every and knn_k must be >= 1")
        if not 0 < self.lr_min <= self.lr_max:
            raise ValueError(f"need 0 < lr_min <= lr_max, got {self.lr_min}, {self.lr_max}")
        if not 0 <= self.label_smoothing_max < 1:
            raise ValueError(f"label_smoothing_max must be in [0, 1), got {self.label_smoothing_max}")


class FinetuneLearner:
    """A NEVIS baseline learner (see the module docstring). `make_backbone()` builds an (N, C, H, W) →
    (N, D) network with `feature_dim` = D; `input_shape` is (C, H, W) for the FLOP count."""

    def __init__(
        self,
        init: str,
        make_backbone: Callable[[], nn.Module],
        feature_dim: int,
        input_shape: tuple[int, int, int],
        search: SearchConfig,
        seed: int,
        monitor_factory: Callable[[Callable[[], nn.Module]], object] | None = None,
    ):
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.kind, self.make_backbone, self.feature_dim = init, make_backbone, feature_dim
        self.input_shape, self.search, self.seed = tuple(input_shape), search, seed
        self.current: nn.Module = make_backbone()  # the backbone being trained (what the Monitor watches)
        self.monitor = monitor_factory(lambda: self.current) if monitor_factory else None
        self.init()

    # the contract ---------------------------------------------------------------------------------------

    def init(self) -> None:
        self.backbones: dict[str, dict] = {}
        self.heads: dict[str, dict] = {}
        self.kinds: dict[str, tuple[str, int]] = {}
        self.order: list[str] = []
        self.step = 0
        self.choices: dict[str, str] = {}
        self.trials: dict[str, list] = {}

    def state_dict(self) -> dict:
        return {
            "backbones": self.backbones,
            "heads": self.heads,
            "kinds": {k: [v[0], v[1]] for k, v in self.kinds.items()},
            "order": list(self.order),
            "step": self.step,
            "choices": dict(self.choices),
            "trials": dict(self.trials),
        }

    def load_state_dict(self, state: dict) -> None:
        self.backbones, self.heads = dict(state["backbones"]), dict(state["heads"])
        self.kinds = {k: (v[0], int(v[1])) for k, v in state["kinds"].items()}
        self.order, self.step = list(state["order"]), int(state["step"])
        self.choices, self.trials = dict(state["choices"]), dict(state["trials"])

    def train(self, event: TrainingEvent) -> ResourceUsage:
        if event.task in self.backbones:
            raise ValueError(f"task {event.task} was already trained by this learner")
        start, spent = self._start(event)
        rng = seeding.rng(self.seed, f"search/{event.task}")
        edges = np.linspace(
            math.log(self.search.lr_min), math.log(self.search.lr_max), self.search.trials + 1
        )
        best, trials = None, []
        for k in range(self.search.trials):
            lo, hi = (
                (edges[k], edges[k + 1]) if self.search.lr_draws == "stratified" else (edges[0], edges[-1])
            )
            lr = float(math.exp(rng.uniform(lo, hi)))
            smooth = float(rng.uniform(0, self.search.label_smoothing_max)) if event.kind == "single" else 0.0
            net = self._net(event, start, k)
            per_example = flops(net, self.input_shape)
            self.current = net[0]
            result = fit(
                net,
                (event.train_x, event.train_y),
                (event.dev_x, event.dev_y),
                kind=event.kind,
                lr=lr,
                steps=self.search.max_steps,
                batch=self.search.batch,
                generator=seeding.generator(self.seed, f"batches/{event.task}/{k}"),
                eval_every=self.search.eval_every,
                grace=self.search.grace,
                label_smoothing=smooth,
                monitor=self.monitor,
                step0=self.step,
            )
            self.step += result.steps
            spent += per_example * (TRAIN_FACTOR * result.train_examples + result.eval_examples)
            trials.append([lr, smooth, result.best_error, result.steps])
            if best is None or result.best_error < best[0]:
                best = (result.best_error, result.best_state)
        net.load_state_dict(best[1])
        self.backbones[event.task] = copy.deepcopy(net[0].state_dict())
        self.heads[event.task] = copy.deepcopy(net[1].state_dict())
        self.kinds[event.task] = (event.kind, event.classes)
        self.order.append(event.task)
        self.trials[event.task] = trials
        params = count(net, self.input_shape).params
        return ResourceUsage(float(spent), params, 4 * params)

    def predict(self, event: PredictionEvent) -> np.ndarray:
        if event.task not in self.backbones:
            raise ValueError(f"task {event.task} has not been trained by this learner")
        return predict_scores(self._stored(event.task, event.task), event.x, event.kind)

    def predict_latest(self, event: PredictionEvent) -> np.ndarray:
        """The newest backbone with task `event.task`'s own head (for forgetting)."""
        return predict_scores(self._stored(self.order[-1], event.task), event.x, event.kind)

    # parts --------------------------------------------------------------------------------------------

    def _stored(self, backbone_task: str, head_task: str) -> nn.Sequential:
        net = self._fresh(head_task, *self.kinds[head_task], seed_name="stored")
        net[0].load_state_dict(self.backbones[backbone_task])
        net[1].load_state_dict(self.heads[head_task])
        return net

    def _fresh(self, task: str, kind: str, classes: int, seed_name: str) -> nn.Sequential:
        with torch.random.fork_rng():
            torch.manual_seed(seeding.derive_seed(self.seed, f"init/{task}/{seed_name}") % 2**63)
            return nn.Sequential(self.make_backbone(), nn.Linear(self.feature_dim, classes))

    def _net(self, event: TrainingEvent, start: dict | None, trial: int) -> nn.Sequential:
        net = self._fresh(event.task, event.kind, event.classes, f"trial{trial}")
        if start is not None:
            net[0].load_state_dict(start)
        return net

    def _start(self, event: TrainingEvent) -> tuple[dict | None, float]:
        """The backbone weights task `event` starts from, and the FLOPs spent choosing them."""
        if not self.order or self.kind == "independent":
            self.choices[event.task] = "scratch"
            return None, 0.0
        if self.kind == "previous":
            self.choices[event.task] = self.order[-1]
            return self.backbones[self.order[-1]], 0.0
        best, spent = None, 0.0
        for name in self.order:  # Dynamic-kNN: score every stored backbone on the new task
            backbone = self.make_backbone()
            backbone.load_state_dict(self.backbones[name])
            spent += flops(backbone, self.input_shape) * (len(event.train_x) + len(event.dev_x))
            acc = knn_accuracy(backbone, event, self.search.knn_k)
            if best is None or acc > best[0]:
                best = (acc, name)
        self.choices[event.task] = best[1]
        return self.backbones[best[1]], spent


@torch.no_grad()
def features(backbone: nn.Module, x: torch.Tensor, batch: int = 512) -> torch.Tensor:
    was = backbone.training
    backbone.eval()
    out = torch.cat([backbone(x[i : i + batch]) for i in range(0, len(x), batch)])
    backbone.train(was)
    return out


def knn_accuracy(backbone: nn.Module, event: TrainingEvent, k: int) -> float:
    """Accuracy on the dev split of a k-nearest-neighbour vote (cosine similarity) among the train split's
    features; for a multi-label task, the mean per-label accuracy of a majority vote per label."""
    tr = nn.functional.normalize(features(backbone, event.train_x), dim=1)
    dv = nn.functional.normalize(features(backbone, event.dev_x), dim=1)
    k = min(k, len(tr))
    idx = (dv @ tr.T).topk(k, dim=1).indices  # (N_dev, k)
    if event.kind == "single":
        votes = nn.functional.one_hot(event.train_y[idx], event.classes).sum(1)
        return float((votes.argmax(1) == event.dev_y).float().mean())
    vote = event.train_y[idx].float().mean(1) > 0.5
    return float((vote == (event.dev_y > 0.5)).float().mean())
