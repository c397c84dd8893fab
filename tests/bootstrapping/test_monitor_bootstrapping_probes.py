"""Issue 23: the thesis's interference and memorisation measures join the health Monitor's menu."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from replab.probe.interference import (
    function_interference_matrix,
    gradient_interference_matrix,
    td_interference_matrix,
)
from replab.probe.memorization import gini, loss_sensitivity, sensitivity_gini
from replab.probe.monitor import Monitor


def net(out: int = 3) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, out))


def off_diagonal_mean(m: torch.Tensor) -> float:
    n = m.shape[0]
    return float((m.sum() - m.diagonal().sum()) / (n * (n - 1)))


def test_monitor_reports_loss_function_and_memorisation_probes():
    model = net()
    x, y = torch.randn(12, 5), torch.randint(0, 3, (12,))
    logged = {}
    mon = Monitor(model, x, [], log=lambda m, s: logged.update(m), probes="none", every=1)
    for name in ("loss_interference", "function_interference", "sensitivity_gini"):
        mon.add_model_probe(name, F.cross_entropy, (x, y))
    before = [p.detach().clone() for p in model.parameters()]
    mon.step(0)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "a probe changed the model"
    rho = gradient_interference_matrix(model, F.cross_entropy, x, y)
    fbar = function_interference_matrix(model, x)
    assert logged["probe/loss_interference"] == pytest.approx(off_diagonal_mean(rho), rel=1e-9)
    assert logged["probe/function_interference"] == pytest.approx(off_diagonal_mean(fbar), rel=1e-9)
    # Gini of ḡ_x over the window, by hand from S: example j influences the losses of steps t > j
    sens, _, _ = loss_sensitivity(model, x, y, 0.01, loss_fn=F.cross_entropy)
    g = [float(sens[j + 1 :, j].mean()) for j in range(11)]
    assert logged["probe/sensitivity_gini"] == pytest.approx(gini(g), rel=1e-6)
    assert 0 < logged["probe/sensitivity_gini"] < 1


def test_td_interference_probe_takes_fresh_transitions_and_a_target_mode():
    value = net(out=1)
    g = torch.Generator().manual_seed(1)

    def replay():
        s, s2 = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
        return s, torch.randn(8, generator=g), s2, torch.full((8,), 0.9)

    logged = {}
    mon = Monitor(value, torch.randn(8, 5), [], log=lambda m, s: logged.update(m), probes="none", every=1)
    mon.add_model_probe("td_interference", None, replay)
    mon.step(0)
    g.manual_seed(1)
    s, r, s2, d = replay()
    live = off_diagonal_mean(td_interference_matrix(value, s, r, s2, d, target="live"))
    frozen = off_diagonal_mean(td_interference_matrix(value, s, r, s2, d, target="frozen"))
    assert logged["probe/td_interference"] == pytest.approx(live, rel=1e-9)
    assert abs(live - frozen) > 1e-6 * abs(live)  # γ ∇V(s′) in the live target's gradient matters


def test_sensitivity_gini_refuses_a_window_without_influence():
    with pytest.raises(ValueError, match="examples must be >= 2"):
        sensitivity_gini(
            net(), F.cross_entropy, torch.randn(4, 5), torch.zeros(4, dtype=torch.long), examples=1
        )
