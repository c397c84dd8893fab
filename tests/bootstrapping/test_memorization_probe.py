"""Loss-sensitivity (seed004 §S1.2) against finite differences; Gini (eq. 3.4) on known cases.

Tolerance: the finite differences are central, in float64, with step 1e-5: truncation error ~ h²·f‴ ≈ 1e-10
and rounding ~ 1e-16/h ≈ 1e-11 on losses of order 1, so the L1 norms agree to rtol 1e-6.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replab.probe.memorization import SensitivityTracker, class_summary, gini, loss_sensitivity


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()


def _later_loss(model, xs, ys, lr, t):
    """L_t after t plain SGD steps (no graph through the updates), for finite differences."""
    net = _model()
    net.load_state_dict(model.state_dict())
    for i in range(t):
        loss = F.cross_entropy(net(xs[i : i + 1]), ys[i : i + 1])
        grads = torch.autograd.grad(loss, list(net.parameters()))
        with torch.no_grad():
            for p, g in zip(net.parameters(), grads):
                p -= lr * g
    with torch.no_grad():
        return float(F.cross_entropy(net(xs[t : t + 1]), ys[t : t + 1]))


def test_loss_sensitivity_equals_finite_differences():
    model, lr, h = _model(), 0.5, 1e-5
    g = torch.Generator().manual_seed(1)
    xs, ys = torch.randn(4, 3, generator=g, dtype=torch.float64), torch.tensor([0, 1, 1, 0])
    before = [p.detach().clone() for p in model.parameters()]
    sens, _, losses = loss_sensitivity(model, xs, ys, lr)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))  # the model is untouched
    for t in range(1, 4):
        for j in range(4):
            fd = []
            for k in range(3):
                up, down = xs.clone(), xs.clone()
                up[j, k] += h
                down[j, k] -= h
                fd.append((_later_loss(model, up, ys, lr, t) - _later_loss(model, down, ys, lr, t)) / (2 * h))
            expected = np.abs(fd).sum() if j < t else 0.0  # j ≥ t: not an earlier example (S is 0 there)
            assert float(sens[t, j]) == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert float(losses[t]) == pytest.approx(_later_loss(model, xs, ys, lr, t), rel=1e-12)
    assert (sens[1:, 0] > 0).all()  # x_0 reaches later losses only through the second-order graph


def test_tracker_averages_over_later_steps():
    sens = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [3.0, 2.0, 0]])
    tr = SensitivityTracker(5)
    tr.add(sens, [4, 1, 2])
    np.testing.assert_allclose(tr.mean(), [0, 2.0, 0, 0, 2.0])  # id 4: (1 + 3)/2; id 1: 2/1; id 2: unseen


def test_gini_known_cases():
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 5]) == pytest.approx(3 / 4)  # (N − 1)/N
    assert gini([1, 2, 3]) == pytest.approx(
        sum(abs(a - b) for a in (1, 2, 3) for b in (1, 2, 3)) / (2 * 3 * 6)
    )
    with pytest.raises(ValueError, match="nonnegative"):
        gini([-1, 1])
    np.testing.assert_allclose(class_summary([1, 3, 5, 7], [0, 0, 1, 1], 3), [2, 6, np.nan])
