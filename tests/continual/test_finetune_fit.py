"""The fine-tuning loop: early stopping on dev, budgets read along the run, the health Monitor called."""

import torch
from torch import nn

from replab.continual.finetune import fit, lr_at


class Steps:
    def __init__(self):
        self.seen = []

    def step(self, t):
        self.seen.append(t)


def _data(n=32):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 2, 2, generator=g)
    y = (x.flatten(1).sum(1) > 0).long()
    return x, y


def test_a_trial_that_cannot_improve_stops_after_its_grace():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    monitor = Steps()
    out = fit(net, _data(), _data(16), kind="single", lr=0.0, steps=100, batch=8,
              generator=torch.Generator().manual_seed(0), eval_every=5, grace=3, momentum=0.0,
              weight_decay=0.0, monitor=monitor, step0=10)  # fmt: skip
    # lr 0: the dev error never improves after the first evaluation → stops at the 4th (step 20)
    assert out.steps == 20 and out.best_step == 5 and len(out.curve) == 4
    assert (
        monitor.seen == list(range(11, 31)) and out.train_examples == 20 * 8 and out.eval_examples == 4 * 16
    )


def test_budgets_are_read_along_one_run_and_learning_happens():
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 2))
    seen = {}
    out = fit(net, _data(64), _data(32), kind="single", lr=0.5, steps=60, batch=16,
              generator=torch.Generator().manual_seed(0), eval_every=1000, grace=0, schedule="constant",
              eval_at=(10, 30), on_eval=lambda t, n: seen.setdefault(t, True))  # fmt: skip
    assert [t for t, _ in out.curve] == [10, 30, 60] and set(seen) == {10, 30, 60}
    assert out.best_error < 0.2  # a linearly separable task is learned


def test_warmup_then_cosine_to_the_final_lr():
    assert lr_at(0, 100, 1.0, 10, "cosine") == 0.1
    assert abs(lr_at(10, 100, 1.0, 10, "cosine") - 1.0) < 1e-12
    assert abs(lr_at(100, 100, 1.0, 10, "cosine") - 1e-8) < 1e-12
    assert lr_at(50, 100, 1.0, 10, "constant") == 1.0
