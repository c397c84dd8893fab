"""The Learner contract of NEVIS'22 (seed002 §7.2, `dm_nevis` `learners/learner_interface.py`).

A stream is a chronological list of `Task`s. For each task the runner (`replab.continual.stream`) gives the
learner a `TrainingEvent` — the train and dev splits, never the test split — and then a `PredictionEvent`
holding the test *inputs* only, so a learner cannot see a task's test data before it predicts, nor any
test label at all. A learner implements

- `init()`: its initial state (called once, before the first task);
- `train(event) -> ResourceUsage`: learns the task; the usage counts every FLOP spent, hyperparameter
  search trials included (NEVIS: "the FLOPs include all hyperparameter-search trials");
- `predict(event) -> scores`: (N, K) class scores for a single-label task, (N, L) label scores for a
  multi-label one;
- `state_dict()` / `load_state_dict(state)`: its whole state as checkpoint-safe values (tensors, numbers,
  strings, dicts, lists), so a killed stream resumes at the task it was on.

dm_nevis threads the state through the calls functionally (`train(event, state, ...) -> (state, usage)`);
here the learner holds it and hands it out for checkpoints, which is the same contract for a Python
object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

KINDS = ("single", "multi")


@dataclass
class Task:
    """One task of a stream. x: (N, C, H, W) float32; y: (N,) int64 (single-label) or (N, L) {0, 1} float32
    (multi-label). `classes` is K (single) or L (multi)."""

    name: str
    year: int
    kind: str
    classes: int
    train_x: torch.Tensor
    train_y: torch.Tensor
    dev_x: torch.Tensor
    dev_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    dataset: str = ""
    """The dataset the task is drawn from (a dataset may come back later in the stream, as MNIST does)."""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        for split in ("train", "dev", "test"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if x.dim() != 4 or len(x) != len(y) or len(x) == 0:
                raise ValueError(
                    f"task {self.name}: {split} split needs x (N, C, H, W) and y with the same N >= 1, "
                    f"got {tuple(x.shape)} and {tuple(y.shape)}"
                )
            if self.kind == "multi" and (y.dim() != 2 or y.shape[1] != self.classes):
                raise ValueError(
                    f"task {self.name}: multi-label y must be (N, {self.classes}), got {tuple(y.shape)}"
                )

    @property
    def size(self) -> int:
        """Examples in all three splits."""
        return len(self.train_x) + len(self.dev_x) + len(self.test_x)

    def training_event(self) -> TrainingEvent:
        return TrainingEvent(
            self.name, self.year, self.kind, self.classes, self.train_x, self.train_y, self.dev_x, self.dev_y
        )

    def prediction_event(self) -> PredictionEvent:
        return PredictionEvent(self.name, self.kind, self.classes, self.test_x)


@dataclass(frozen=True)
class TrainingEvent:
    """What a learner may train on: the train and dev splits of one task (NEVIS `TrainingEvent`)."""

    task: str
    year: int
    kind: str
    classes: int
    train_x: torch.Tensor
    train_y: torch.Tensor
    dev_x: torch.Tensor
    dev_y: torch.Tensor


@dataclass(frozen=True)
class PredictionEvent:
    """What a learner predicts on: the test inputs of one task, without labels (NEVIS `PredictionEvent`)."""

    task: str
    kind: str
    classes: int
    x: torch.Tensor


@dataclass
class ResourceUsage:
    """NEVIS `ResourceUsage` of one training event."""

    floating_point_operations: float
    peak_parameter_count: int = 0
    peak_parameter_size_bytes: int = 0


@runtime_checkable
class Learner(Protocol):
    def init(self) -> None: ...

    def train(self, event: TrainingEvent) -> ResourceUsage: ...

    def predict(self, event: PredictionEvent) -> np.ndarray: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...
