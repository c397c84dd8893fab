"""The NEVIS-mini stream (seed002 §7.6) and the baseline learners' transfer choice and FLOP accounting."""

import pytest
import torch
from torch import nn

from replab.continual.learner import Task
from replab.continual.learners import FinetuneLearner, SearchConfig, knn_accuracy
from replab.data.nevis_mini import STREAM, nevis_mini_stream


@pytest.fixture(scope="module")
def stream():
    return nevis_mini_stream(seed=0, scale=0.1)


def test_stream_is_chronological_with_the_nevis_ingredients(stream):
    assert len(stream) == len(STREAM) >= 12
    years = [t.year for t in stream]
    assert years == sorted(years)
    assert {t.kind for t in stream} == {"single", "multi"}
    assert {t.dataset for t in stream} >= {"digits", "glyphs", "glyph_digits"}
    assert min(len(t.test_x) for t in stream) <= 12  # one task with a tiny test set
    for t in stream:
        assert t.train_x.shape[1:] == (1, 16, 16)
        if t.kind == "single":
            assert int(t.train_y.max()) < t.classes
        else:
            assert t.train_y.shape[1] == t.classes and set(t.train_y.unique().tolist()) <= {0.0, 1.0}


def test_a_dataset_comes_back_identical(stream):
    by = {t.name: t for t in stream}
    a, b = by["digits-1998"], by["digits-2015"]
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y) and a.year < b.year


def test_sizes_span_more_than_an_order_of_magnitude_at_full_scale():
    sizes = [n for *_, n, _ in STREAM]
    assert max(sizes) / min(sizes) >= 20


def test_unknown_task_names_are_refused():
    with pytest.raises(ValueError, match="unknown NEVIS-mini tasks"):
        nevis_mini_stream(names=["imagenet"])


def _separable_task(name="new"):
    g = torch.Generator().manual_seed(0)
    means = torch.randn(2, 1, 2, 2, generator=g) * 3

    def split(n):
        y = torch.arange(n) % 2
        return means[y] + 0.1 * torch.randn(n, 1, 2, 2, generator=g), y

    return Task(name, 2000, "single", 2, *split(20), *split(10), *split(10))


def _make():
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 4))


def test_knn_accuracy_reads_the_features():
    event = _separable_task().training_event()
    informative = _make()
    with torch.no_grad():
        informative[1].weight.copy_(torch.eye(4))
        informative[1].bias.zero_()
    constant = _make()
    with torch.no_grad():
        constant[1].weight.zero_()
        constant[1].bias.fill_(1.0)
    assert knn_accuracy(informative, event, 3) == 1.0
    assert knn_accuracy(constant, event, 3) <= 0.6  # every neighbour ties: no better than a fixed guess


def test_dynamic_starts_from_the_past_model_whose_features_fit_best():
    search = SearchConfig(trials=1, max_steps=2, batch=4, eval_every=1, grace=0)
    learner = FinetuneLearner("dynamic", _make, 4, (1, 2, 2), search, seed=0)
    good, bad = _make(), _make()
    with torch.no_grad():
        good[1].weight.copy_(torch.eye(4))
        bad[1].weight.zero_()
        bad[1].bias.fill_(1.0)
    learner.backbones = {"bad": bad.state_dict(), "good": good.state_dict()}
    learner.order = ["bad", "good"]
    start, spent = learner._start(_separable_task().training_event())
    assert learner.choices["new"] == "good" and torch.equal(start["1.weight"], torch.eye(4))
    assert spent > 0  # the kNN scoring is paid for


@pytest.mark.parametrize("init", ["independent", "previous"])
def test_flops_count_every_search_trial(init):
    task = _separable_task().training_event()
    usage = {}
    for trials in (1, 2):
        search = SearchConfig(trials=trials, max_steps=3, batch=4, eval_every=1, grace=0)
        usage[trials] = FinetuneLearner(init, _make, 4, (1, 2, 2), search, seed=0).train(task)
    # no early stopping: each trial runs 3 steps of 4 examples and 3 dev evaluations of 10 examples
    per_trial = 2 * (4 * 4) * (3 * 3 * 4 + 3 * 10)  # forward FLOPs of the net × (3 × train + dev examples)
    per_trial += 2 * 4 * 2 * (3 * 3 * 4 + 3 * 10)  # the head: Linear(4, 2)
    assert usage[1].floating_point_operations == per_trial
    assert usage[2].floating_point_operations == 2 * per_trial


def test_lr_draws_random_is_neviss_search_and_stratified_covers_the_range():
    import math

    task = _separable_task().training_event()
    lrs = {}
    for draws in ("random", "stratified"):
        search = SearchConfig(trials=3, max_steps=1, batch=4, eval_every=1, grace=0, lr_draws=draws)
        lrs[draws] = []
        for seed in range(8):
            learner = FinetuneLearner("independent", _make, 4, (1, 2, 2), search, seed=seed)
            learner.train(task)
            lrs[draws].append([t[0] for t in learner.trials[task.task]])
    edges = [math.log(1e-4) + k * (math.log(1e-1) - math.log(1e-4)) / 3 for k in range(4)]
    part = lambda lr: min(2, int((math.log(lr) - edges[0]) // (edges[1] - edges[0])))  # noqa: E731
    assert all([part(lr) for lr in row] == [0, 1, 2] for row in lrs["stratified"])
    # independent draws on the whole range: some trial falls outside "its" third (8 × 3 draws)
    assert any([part(lr) for lr in row] != [0, 1, 2] for row in lrs["random"])
    assert all(1e-4 <= lr <= 1e-1 for row in lrs["random"] for lr in row)
    with pytest.raises(ValueError, match="lr_draws must be 'random'"):
        SearchConfig(lr_draws="grid")
