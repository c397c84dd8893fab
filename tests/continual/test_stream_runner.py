"""The stream runner: train before predict, chronological order, no test labels, resume after a kill."""

import numpy as np
import pytest
import torch

from replab.continual.learner import Learner, ResourceUsage, Task
from replab.continual.learners import FinetuneLearner, SearchConfig
from replab.continual.stream import StreamOrderError, StreamRunner
from replab.track import checkpoint


def _task(name, year, seed, classes=3, kind="single"):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(classes, 1, 4, 4, generator=g) * 2

    def split(n):
        y = torch.arange(n) % classes
        x = means[y] + 0.5 * torch.randn(n, 1, 4, 4, generator=g)
        if kind == "multi":
            return x, torch.nn.functional.one_hot(y, classes).float()
        return x, y

    return Task(name, year, kind, classes, *split(12), *split(6), *split(9))


TASKS = [_task("t0", 2000, 0), _task("t1", 2001, 1), _task("t2", 2002, 2, kind="multi"), _task("t3", 2003, 3)]


class MeanLearner:
    """Nearest class mean on the pixels; counts its training events; fails once at `fail_at`."""

    def __init__(self, fail_at=None):
        self.fail_at, self.calls = fail_at, []

    def init(self):
        self.means = {}

    def train(self, event):
        self.calls.append(event.task)
        if event.task == self.fail_at:
            self.fail_at = None
            raise KeyboardInterrupt("killed")  # a process killed mid-task
        assert not hasattr(event, "test_x") and not hasattr(event, "test_y")
        y = event.train_y if event.kind == "single" else event.train_y.argmax(1)
        self.means[event.task] = torch.stack([event.train_x[y == c].mean(0) for c in range(event.classes)])
        return ResourceUsage(float(len(event.train_x)), 1, 4)

    def predict(self, event):
        assert not hasattr(event, "y")  # the prediction event holds inputs only
        d = ((event.x[:, None] - self.means[event.task][None]) ** 2).flatten(2).sum(2)
        return torch.softmax(-d, 1).numpy()

    def state_dict(self):
        return {"means": dict(self.means)}

    def load_state_dict(self, state):
        self.means = dict(state["means"])


def test_the_toy_learner_follows_the_contract():
    assert isinstance(MeanLearner(), Learner)


def test_predict_before_train_is_refused():
    runner = StreamRunner(TASKS, MeanLearner())
    with pytest.raises(StreamOrderError, match="before training on it"):
        runner.predict(0)
    runner.train(0)
    runner.predict(0)
    with pytest.raises(StreamOrderError, match="before training on it"):
        runner.predict(1)


def test_training_out_of_order_or_twice_is_refused():
    runner = StreamRunner(TASKS, MeanLearner())
    with pytest.raises(StreamOrderError, match="next task is 0"):
        runner.train(1)
    runner.train(0)
    with pytest.raises(StreamOrderError, match="trained once, in order"):
        runner.train(0)


def test_streams_must_be_chronological():
    with pytest.raises(ValueError, match="chronological"):
        StreamRunner([TASKS[1], TASKS[0]], MeanLearner())


def test_flops_are_cumulative_and_tasks_scored():
    log = StreamRunner(TASKS, MeanLearner()).run()
    assert [r["cumulative_flops"] for r in log] == [12, 24, 36, 48]
    assert (
        log[2]["kind"] == "multi" and 0 <= log[2]["map"] <= 1 and all(0 <= r["error"] <= 1 for r in log[:2])
    )


def _store(path):
    return (lambda st: checkpoint.save({"stream": st}, path)), (
        lambda: checkpoint.load(path)["stream"] if path.exists() else None
    )


def test_a_killed_stream_resumes_without_repeating_a_finished_task(tmp_path):
    save, load = _store(tmp_path / "ckpt.pt")
    first = MeanLearner(fail_at="t2")
    with pytest.raises(KeyboardInterrupt):
        StreamRunner(TASKS, first, save=save, load=load).run()
    assert first.calls == ["t0", "t1", "t2"]
    second = MeanLearner()
    log = StreamRunner(TASKS, second, save=save, load=load).run()
    assert second.calls == ["t2", "t3"]  # t0 and t1 were finished: not trained again
    whole = StreamRunner(TASKS, MeanLearner()).run()
    for a, b in zip(log, whole):  # nearest-mean is deterministic: the same numbers, up to float rounding
        assert a["task"] == b["task"] and a.get("error", a.get("map")) == pytest.approx(
            b.get("error", b.get("map"))
        )


def test_finetune_learner_resumes_from_a_checkpoint_with_the_same_results(tmp_path):
    search = SearchConfig(trials=1, max_steps=4, batch=4, eval_every=2, grace=0)

    def make():
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU())

    def learner(kind):
        return FinetuneLearner(kind, make, 8, (1, 4, 4), search, seed=3)

    save, load = _store(tmp_path / "ckpt.pt")
    runner = StreamRunner(TASKS[:2], learner("previous"), save=save, load=load)
    runner.step()
    resumed = StreamRunner(TASKS[:2], learner("previous"), save=save, load=load)
    assert resumed.next == 1
    log = resumed.run()
    whole = StreamRunner(TASKS[:2], learner("previous")).run()
    # same seeds, same operations in the same order, but another process state: stated tolerance 1e-6
    assert log[1]["error"] == pytest.approx(whole[1]["error"], abs=1e-6)
    assert log[1]["flops"] == whole[1]["flops"] > 0
    assert np.isfinite(log[1]["cumulative_flops"])
