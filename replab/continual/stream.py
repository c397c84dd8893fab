"""The stream runner: train-before-predict on each task in order, checkpointed after each task (seed002 §7.2).

`StreamRunner(tasks, learner, save=..., load=...)` plays the NEVIS event sequence: for task i, a
`TrainingEvent` (train + dev), then a `PredictionEvent` (test inputs only), scored here with the labels the
learner never sees. Its `train(i)` refuses a task out of chronological order and its `predict(i)` refuses a
task not yet trained (`StreamOrderError`), so no order of calls lets a learner predict a task before
training on it. After each task's prediction the runner calls `save(state)` with the learner's state, the
event log and the next task; a new runner given `load()` returning that state resumes at the next task
without training a finished task again (the task that was running when the process died starts over).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from replab.continual import metrics
from replab.continual.learner import Learner, Task
from replab.errors import ReplabError


class StreamOrderError(ReplabError):
    """A training or prediction event out of the stream's order."""


def score(task: Task, scores: np.ndarray) -> dict:
    """The prediction event's row of the log: error (single-label) or mAP (multi-label), and n."""
    scores = np.asarray(scores)
    want = (len(task.test_x), task.classes)
    if scores.shape != want:
        raise ValueError(f"task {task.name}: predict must return scores of shape {want}, got {scores.shape}")
    y = task.test_y.numpy()
    row = {"task": task.name, "year": task.year, "kind": task.kind, "n": int(len(y)), "dataset": task.dataset}
    if task.kind == "single":
        row["error"] = metrics.top1_error(scores, y)
    else:
        row["map"] = metrics.mean_average_precision(scores, y)
    return row


class StreamRunner:
    def __init__(
        self,
        tasks: Sequence[Task],
        learner: Learner,
        *,
        save: Callable[[dict], None] | None = None,
        load: Callable[[], dict | None] | None = None,
        on_event: Callable[[dict], None] | None = None,
    ):
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"task names must be unique in a stream, got {names}")
        if any(b.year < a.year for a, b in zip(tasks, tasks[1:])):
            raise ValueError(f"tasks must be in chronological order, got years {[t.year for t in tasks]}")
        self.tasks, self.learner, self._save, self.on_event = list(tasks), learner, save, on_event
        self.log: list[dict] = []
        self.next = 0  # the next task to train
        self.trained: set[int] = set()
        state = load() if load is not None else None
        if state:
            self.learner.load_state_dict(state["learner"])
            self.log, self.next = list(state["log"]), int(state["next"])
            self.trained = set(range(self.next))
        else:
            self.learner.init()

    def train(self, i: int) -> dict:
        """The training event of task i: only the next task in chronological order."""
        if i != self.next or i in self.trained:
            raise StreamOrderError(
                f"cannot train task {i} ({self.tasks[i].name if 0 <= i < len(self.tasks) else '?'}): the stream's "
                f"next task is {self.next}; tasks are trained once, in order"
            )
        usage = self.learner.train(self.tasks[i].training_event())
        self.trained.add(i)
        self._usage = usage
        return {
            "flops": float(usage.floating_point_operations),
            "peak_parameter_count": int(usage.peak_parameter_count),
            "peak_parameter_size_bytes": int(usage.peak_parameter_size_bytes),
        }

    def predict(self, i: int) -> np.ndarray:
        """The prediction event of task i, refused before task i's training event."""
        if i not in self.trained:
            raise StreamOrderError(
                f"cannot predict task {i} ({self.tasks[i].name if 0 <= i < len(self.tasks) else '?'}) before "
                "training on it: run its training event first (NEVIS: train, then predict)"
            )
        return np.asarray(self.learner.predict(self.tasks[i].prediction_event()))

    def step(self) -> dict:
        """Train and predict the next task, log it, checkpoint; returns its log row."""
        i = self.next
        usage = self.train(i)
        row = {**score(self.tasks[i], self.predict(i)), **usage, "index": i}
        row["cumulative_flops"] = (self.log[-1]["cumulative_flops"] if self.log else 0.0) + row["flops"]
        self.log.append(row)
        self.next = i + 1
        if self._save is not None:
            self._save({"learner": self.learner.state_dict(), "log": list(self.log), "next": self.next})
        if self.on_event is not None:
            self.on_event(row)
        return row

    def run(self) -> list[dict]:
        """Every remaining task in order; the event log."""
        while self.next < len(self.tasks):
            self.step()
        return self.log

    def revisit(self, predict: Callable | None = None) -> list[dict]:
        """After the stream: score every task again with `predict(event)` (default: the learner's
        `predict_latest`, its newest network with the task's own head) — the last row of the accuracy
        matrix that `metrics.forgetting` reads. Only trained tasks can be revisited."""
        if self.next < len(self.tasks):
            raise StreamOrderError(f"revisit needs the whole stream trained; next task is {self.next}")
        fn = predict or getattr(self.learner, "predict_latest", None)
        if fn is None:
            raise ValueError(f"{type(self.learner).__name__} has no predict_latest; pass predict=")
        return [score(t, np.asarray(fn(t.prediction_event()))) for t in self.tasks]
