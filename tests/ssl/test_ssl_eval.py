import numpy as np
import pytest
import torch

from replab.experiments.ssl._eval import label_subset, steps_for, train_classifier
from replab.experiments.ssl.semppl import _cycle


def test_label_subset_is_stratified_with_one_per_class():
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 3)
    idx = label_subset(y, 0.1, np.random.default_rng(0))
    counts = torch.bincount(y[idx]).tolist()
    assert counts == [5, 3, 1]  # round(3 · 0.1) = 0 → at least one
    assert len(set(idx.tolist())) == len(idx)
    assert torch.equal(label_subset(y, 1.0, np.random.default_rng(1)), torch.arange(len(y)))
    with pytest.raises(ValueError):
        label_subset(y, 0.0, np.random.default_rng(0))


def test_steps_for_clips():
    assert steps_for(10, 64, 30, 100, 400) == 100
    assert steps_for(1000, 64, 30, 100, 400) == 400
    assert steps_for(500, 50, 30, 100, 400) == 300


def test_train_classifier_learns_a_separable_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, generator=g)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    tail = train_classifier(model, x, y, steps=60, batch=16, optimizers=[opt], generator=g)
    assert tail < 0.3
    assert (model(x).argmax(1) == y).float().mean() > 0.9


def test_labelled_stream_visits_every_labelled_image_each_pass():
    items = torch.arange(10, 20)
    stream = _cycle(items, 4, torch.Generator().manual_seed(0))
    seen = torch.cat([next(stream) for _ in range(5)])  # 20 = two passes
    assert sorted(seen[:10].tolist()) == list(range(10, 20)) and sorted(seen[10:].tolist()) == list(
        range(10, 20)
    )
